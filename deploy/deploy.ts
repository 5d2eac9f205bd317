// `npm run deploy -- --host HOST [--plan]`: deploys the current commit to a host over
// SSH, Kamal-style. Every remote action is a command built as data (deploy/ssh/);
// --plan prints them all and connects to nothing; otherwise they run over SSH on a
// host whose key is pinned. See deploy/README.md.

import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { deployHelp, parseDeployFlags, UsageError, type DeployFlags } from './ssh/config.ts';
import { remoteLayout } from './ssh/layout.ts';
import { buildDeployPlan, formatPlan, type DeploySettings } from './ssh/plan.ts';
import { runDeploy, DeployLockedError, mustRun } from './ssh/deployer.ts';
import { SshExecutor } from './ssh/executor.ts';
import { readPinnedKeys } from './ssh/known-hosts.ts';
import { releaseEnv } from './ssh/commands/release.ts';
import { REQUIRED_SECRETS } from './ssh/commands/secrets.ts';
import * as lock from './ssh/commands/lock.ts';
import { buildReleaseTarball, deployer, hasUncommittedChanges, listLocalSecrets, origin, resolveCommit } from './ssh/local-release.ts';
import { BACKUP_UNITS, backupTimerSteps } from './backup/units.ts';

const git = promisify(execFile);
const out = (line: string) => process.stdout.write(`${line}\n`);

async function unitTemplates(repo: string, sha: string): Promise<Record<(typeof BACKUP_UNITS)[number], string>> {
  const entries = await Promise.all(
    BACKUP_UNITS.map(async (unit) => {
      try {
        return [unit, (await git('git', ['-C', repo, 'show', `${sha}:deploy/backup/${unit}`])).stdout] as const;
      } catch (error) {
        throw new Error(`commit ${sha.slice(0, 12)} has no deploy/backup/${unit}: the host setup installs the backup timer from the release`, { cause: error });
      }
    }),
  );
  return Object.fromEntries(entries) as Record<(typeof BACKUP_UNITS)[number], string>;
}

async function settingsFrom(flags: DeployFlags, workDir: string): Promise<DeploySettings> {
  const repo = resolve(flags.repo);
  const sha = await resolveCommit(repo, flags.commit);
  if (flags.commit === 'HEAD' && (await hasUncommittedChanges(repo))) {
    out(`note: the work tree has uncommitted changes; they are not deployed (the release is commit ${sha.slice(0, 12)})`);
  }
  const appDir = flags['app-dir'] ?? `/opt/${flags.app}`;
  const dataRoot = flags['data-root'] ?? `/srv/${flags.app}-data`;
  const layout = remoteLayout(appDir);
  const sudo = flags.sudo === 'yes' || (flags.sudo === 'auto' && flags.user !== 'root');
  const secrets = flags['secrets-dir'] ? await listLocalSecrets(resolve(flags['secrets-dir'])) : undefined;
  if (secrets) {
    const missing = REQUIRED_SECRETS.filter((name) => !secrets.some((s) => s.name === name));
    if (missing.length > 0) throw new UsageError(`--secrets-dir ${flags['secrets-dir']}: missing ${missing.join(', ')} (see deploy/README.md, "Secrets")`);
  }
  const domain = flags.domain ?? new URL(flags['gate-url']!).hostname;
  const hostSetup = flags['skip-host-setup']
    ? undefined
    : { sudo, deployUser: flags.user, appDir, sshPort: flags.port, dataRoot, textfileDir: flags['textfile-dir'] };
  return {
    project: flags.app,
    target: `${flags.user}@${flags.host}:${flags.port}`,
    layout,
    sha,
    // --plan builds nothing: the tarball is made from git when the deploy runs.
    tarball: flags.plan ? `<git archive of ${sha.slice(0, 12)}>` : await buildReleaseTarball(repo, sha, workDir),
    releaseEnv: releaseEnv({
      BPE_RELEASE: sha,
      BPE_APP_DIR: appDir,
      BPE_SECRETS_DIR: layout.secrets,
      BPE_DOMAIN: domain,
      BPE_TEXTFILE_DIR: flags['textfile-dir'],
    }),
    secrets,
    hostSetup,
    afterRelease: hostSetup ? backupTimerSteps({ sudo, appDir, dataRoot, textfileDir: flags['textfile-dir'], templates: await unitTemplates(repo, sha) }) : [],
    gate: {
      baseUrl: flags['gate-url'] ?? `https://${domain}`,
      connectTo: flags['gate-connect-to'],
      caFile: flags['gate-ca-file'],
      pathPrefix: '/_ready',
      timeoutSeconds: 5,
    },
    services: flags.services,
    gateAttempts: flags['gate-attempts'],
    gateIntervalMs: flags['gate-interval-ms'],
    keepReleases: flags['keep-releases'],
    force: flags.force,
    lock: {
      who: await deployer(repo),
      since: new Date().toISOString(),
      reason: flags.reason ?? `deploy ${sha.slice(0, 12)}`,
      commit: sha,
      from: origin(),
      token: randomUUID(),
    },
  };
}

async function connect(flags: DeployFlags): Promise<SshExecutor> {
  return SshExecutor.connect({
    host: flags.host,
    port: flags.port,
    username: flags.user,
    privateKeyPath: flags.identity,
    pinnedKeys: await readPinnedKeys(flags['known-hosts'], flags.host, flags.port),
  });
}

/** --unlock: remove a lock left by a deploy that died, saying whose it was. */
async function unlock(flags: DeployFlags): Promise<number> {
  const layout = remoteLayout(flags['app-dir'] ?? `/opt/${flags.app}`);
  const executor = await connect(flags);
  try {
    const holder = await mustRun(executor, lock.readDetails(layout));
    await mustRun(executor, lock.forceRelease(layout));
    out(holder.code === 0 ? `released the deploy lock held by ${lock.describeHolder(JSON.parse(holder.stdout) as lock.LockDetails)}` : 'no deploy lock was held');
    return 0;
  } finally {
    executor.close();
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help')) {
    out(deployHelp());
    return 0;
  }
  const flags = parseDeployFlags(argv);
  if (flags.unlock) return unlock(flags);
  const workDir = await mkdtemp(join(tmpdir(), 'bpe-deploy-'));
  try {
    const plan = buildDeployPlan(await settingsFrom(flags, workDir));
    if (flags.plan) {
      process.stdout.write(formatPlan(plan));
      return 0;
    }
    const executor = await connect(flags);
    try {
      const result = await runDeploy(plan, executor, out);
      out(JSON.stringify({ outcome: result.outcome, commit: result.commit, previous: result.previous, changed: result.changed, ...(result.error ? { error: result.error } : {}) }));
      if (result.outcome === 'unchanged') out('Nothing changed.');
      return result.outcome === 'deployed' || result.outcome === 'unchanged' ? 0 : 1;
    } finally {
      executor.close();
    }
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`deploy: ${(error as Error).message}\n`);
    process.exit(error instanceof UsageError ? 2 : error instanceof DeployLockedError ? 75 : 1);
  },
);
