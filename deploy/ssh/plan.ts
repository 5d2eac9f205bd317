// A deploy as data: every command it may run, built once from the settings. The
// deployer (deployer.ts) walks this object over SSH; --plan prints it and runs
// nothing, so what the plan shows is what a deploy runs.

import { describe, read, type Command, type Ensure } from './command.ts';
import type { RemoteLayout } from './layout.ts';
import * as audit from './commands/audit.ts';
import * as compose from './commands/compose.ts';
import { ensureDirectory } from './commands/files.ts';
import { readyz, type GateOptions } from './commands/gate.ts';
import { appDirectory, debianVersionCheck, hostSetup, type HostSetupOptions } from './commands/host.ts';
import * as lock from './commands/lock.ts';
import * as release from './commands/release.ts';
import { ensureSecret, ensureSecretsDirectory, type LocalSecret } from './commands/secrets.ts';

export interface DeploySettings {
  /** Compose project name (the app name). */
  project: string;
  /** user@host:port, for messages. */
  target: string;
  layout: RemoteLayout;
  sha: string;
  /** Local tarball of the release. */
  tarball: string;
  releaseEnv: string;
  /** Local secret files; undefined when no --secrets-dir was given (the host's secrets stay as they are). */
  secrets: readonly LocalSecret[] | undefined;
  /** Host preparation; undefined with --skip-host-setup. */
  hostSetup: HostSetupOptions | undefined;
  /** Steps that need the release on the host (the backup timer's units); empty with --skip-host-setup. */
  afterRelease: readonly Ensure[];
  gate: GateOptions;
  /** Services whose /readyz gates the deploy. */
  services: readonly string[];
  gateAttempts: number;
  gateIntervalMs: number;
  keepReleases: number;
  /** Run docker compose up even when nothing changed. */
  force: boolean;
  lock: lock.LockDetails;
}

export interface DeployPlan {
  settings: DeploySettings;
  preflight: Command[];
  /** Before the lock: the app directory the lock lives in (host setup only). */
  appDirectory: Ensure[];
  lock: { acquire: Command; readHolder: Command; writeDetails: Command; release: Command };
  hostSetup: Ensure[];
  appDirectories: Ensure[];
  release: Ensure;
  secrets: Ensure[];
  afterRelease: Ensure[];
  readCurrent: Command;
  activate: (sha: string) => Command;
  up: (sha: string, options?: { forceRecreate?: boolean }) => Command;
  gate: Command[];
  listReleases: Command;
  removeRelease: (sha: string) => Command;
  record: (record: audit.DeployRecord) => Command;
}

const PREFLIGHT_TOOLS = ['tar', 'gzip', 'cmp', 'stat', 'curl', 'docker'];

export function buildDeployPlan(settings: DeploySettings): DeployPlan {
  const { layout } = settings;
  return {
    settings,
    preflight: [
      read(`are ${PREFLIGHT_TOOLS.join(', ')} on the host`, ['sh', '-c', 'for t in "$@"; do command -v "$t" >/dev/null || { echo "missing: $t" >&2; exit 1; }; done', 'sh', ...PREFLIGHT_TOOLS]),
      ...(settings.hostSetup ? [debianVersionCheck()] : [compose.composeVersion()]),
    ],
    appDirectory: settings.hostSetup ? [appDirectory(settings.hostSetup)] : [],
    lock: {
      acquire: lock.acquire(layout),
      readHolder: lock.readDetails(layout),
      writeDetails: lock.writeDetails(layout, settings.lock),
      release: lock.release(layout, settings.lock.token),
    },
    hostSetup: settings.hostSetup ? hostSetup(settings.hostSetup) : [],
    appDirectories: [ensureDirectory(layout.releases, { mode: '755', name: 'releases directory' }), ...(settings.secrets ? [ensureSecretsDirectory(layout)] : [])],
    release: release.ensureRelease(layout, settings.sha, settings.tarball, settings.releaseEnv),
    secrets: (settings.secrets ?? []).map((secret) => ensureSecret(layout, secret)),
    afterRelease: [...settings.afterRelease],
    readCurrent: release.readCurrent(layout),
    activate: (sha) => release.activate(layout, sha),
    up: (sha, options) => compose.up(layout, settings.project, sha, options),
    gate: settings.services.map((service) => readyz(settings.gate, service)),
    listReleases: release.listReleases(layout),
    removeRelease: (sha) => release.removeRelease(layout, sha),
    record: (record) => audit.appendRecord(layout, record),
  };
}

function commandLines(commands: readonly Command[], indent = '     '): string[] {
  return commands.map((c) => `${indent}$ ${describe(c)}`);
}

function ensureLines(steps: readonly Ensure[]): string[] {
  return steps.flatMap((step) => [
    `   - ${step.name}`,
    `       check: ${describe(step.check)}`,
    ...step.apply.map((c, i) => `       ${i === 0 ? 'if not: ' : '        '}$ ${describe(c)}`),
  ]);
}

/** The plan as text: every command, in order, with the condition under which it runs. */
export function formatPlan(plan: DeployPlan): string {
  const s = plan.settings;
  const short = s.sha.slice(0, 12);
  const previous = '<previous>';
  const lines = [
    `Plan: deploy ${short} to ${s.target} (${s.layout.appDir}). Nothing runs: this is the list of commands a deploy runs, in order.`,
    '',
    '1. Preflight (read only)',
    ...commandLines(plan.preflight),
    '2. Take the deploy lock (refused, naming the holder, when it is taken)',
    ...ensureLines(plan.appDirectory),
    ...commandLines([plan.lock.acquire, plan.lock.readHolder, plan.lock.writeDetails]),
    s.hostSetup ? '3. Prepare the host (each step: check, change only if needed)' : '3. Prepare the host: skipped (--skip-host-setup)',
    ...ensureLines(plan.hostSetup),
    '4. Upload the release and the secrets (each step: check, change only if needed)',
    ...ensureLines([...plan.appDirectories, plan.release, ...plan.secrets, ...plan.afterRelease]),
    ...(s.secrets ? [] : ['   (no --secrets-dir: the secrets on the host are left as they are)']),
    `5. Go live, unless the current release is already ${short} and nothing above changed${s.force ? ' (--force: go live anyway)' : ''}`,
    ...commandLines([plan.readCurrent, plan.activate(s.sha), plan.up(s.sha)]),
    '     (with --force-recreate when a secret changed: containers read secrets at start)',
    `6. Health gate: every service's /readyz through Caddy, up to ${s.gateAttempts} attempts ${s.gateIntervalMs} ms apart`,
    ...commandLines(plan.gate),
    `7. If the gate fails and there is a previous release: roll back to it and gate again`,
    ...commandLines([plan.activate(previous), plan.up(previous), ...plan.gate]),
    `8. After a successful deploy: remove releases beyond the ${s.keepReleases} newest (never the current or previous one)`,
    ...commandLines([plan.listReleases, plan.removeRelease('<old release>')]),
    '9. Always: record the deploy and release the lock',
    ...commandLines([
      plan.record({
        time: '<now>',
        who: s.lock.who,
        from: s.lock.from,
        app: s.project,
        commit: s.sha,
        previous: '<previous>',
        outcome: 'deployed',
        duration_ms: 0,
        changed: [],
        reason: s.lock.reason,
      }),
      plan.lock.release,
    ]),
  ];
  return `${lines.join('\n')}\n`;
}
