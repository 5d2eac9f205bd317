// Runs a deploy plan over an executor (SSH in production and in the tests):
// lock, prepare, upload, go live, gate, roll back on failure, record, unlock.
// Every exit code is checked; a step that changed nothing says so, and a deploy in
// which nothing changed reports it and restarts nothing.

import { describe, type Command, type Ensure } from './command.ts';
import { RemoteCommandError, type ExecResult, type Executor } from './executor.ts';
import { releaseFromTarget } from './layout.ts';
import { releasesToPrune } from './commands/release.ts';
import { describeHolder, NO_APP_DIR, type LockDetails } from './commands/lock.ts';
import type { DeployOutcome, DeployRecord } from './commands/audit.ts';
import type { DeployPlan } from './plan.ts';

export type Log = (line: string) => void;

export interface DeployResult {
  outcome: DeployOutcome;
  commit: string;
  previous: string | null;
  /** Names of the steps that changed the host. */
  changed: string[];
  error?: string;
}

export class DeployLockedError extends Error {
  constructor(
    readonly target: string,
    readonly holder: LockDetails | undefined,
  ) {
    super(`another deploy holds the lock on ${target}: ${describeHolder(holder)}. Wait for it, or if it died, release the lock with --unlock.`);
    this.name = 'DeployLockedError';
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs a command and fails unless its exit code is one it declares as success. */
export async function mustRun(executor: Executor, command: Command): Promise<ExecResult> {
  const result = await executor.run(command);
  if (!(command.okCodes ?? [0]).includes(result.code)) throw new RemoteCommandError(command, result);
  return result;
}

/** Check, and change only when needed; returns whether the host changed. */
export async function ensure(executor: Executor, step: Ensure, log: Log): Promise<boolean> {
  const before = await executor.run(step.check);
  if (before.code === 0) {
    log(`  ok       ${step.name}`);
    return false;
  }
  if (before.code !== 1) throw new RemoteCommandError(step.check, before);
  for (const command of step.apply) {
    log(`  run      ${describe(command)}`);
    await mustRun(executor, command);
  }
  if (step.reconnect) await executor.reconnect();
  const after = await executor.run(step.check);
  if (after.code !== 0) throw new Error(`${step.name}: still not as wanted after applying (check \`${describe(step.check)}\` exited ${after.code})`);
  log(`  changed  ${step.name}`);
  return true;
}

/** Every service ready in the same round, within the attempts. */
async function gate(executor: Executor, plan: DeployPlan, log: Log): Promise<boolean> {
  const { gateAttempts, gateIntervalMs } = plan.settings;
  let failing: string[] = [];
  for (let attempt = 1; attempt <= gateAttempts; attempt++) {
    failing = [];
    for (const command of plan.gate) {
      const result = await executor.run(command);
      if (result.code !== 0) failing.push(`${command.summary}: ${result.stderr.trim() || `curl exit ${result.code}`}`);
    }
    if (failing.length === 0) {
      log(`  gate     every service is ready (attempt ${attempt})`);
      return true;
    }
    if (attempt < gateAttempts) await sleep(gateIntervalMs);
  }
  log(`  gate     failed after ${gateAttempts} attempts:\n${failing.map((f) => `             ${f}`).join('\n')}`);
  return false;
}

function parseLockDetails(text: string): LockDetails | undefined {
  try {
    return JSON.parse(text) as LockDetails;
  } catch {
    return undefined;
  }
}

export async function runDeploy(plan: DeployPlan, executor: Executor, log: Log): Promise<DeployResult> {
  const s = plan.settings;
  const started = Date.now();
  const changed: string[] = [];
  let previous: string | null = null;
  let outcome: DeployOutcome = 'failed';
  let failure: string | undefined;

  const record = async () => {
    const entry: DeployRecord = {
      time: new Date().toISOString(),
      who: s.lock.who,
      from: s.lock.from,
      app: s.project,
      commit: s.sha,
      previous,
      outcome,
      duration_ms: Date.now() - started,
      changed,
      reason: s.lock.reason,
      ...(failure ? { error: failure.slice(0, 2000) } : {}),
    };
    await mustRun(executor, plan.record(entry));
  };

  log(`Deploying ${s.sha.slice(0, 12)} to ${s.target}`);
  for (const command of plan.preflight) await mustRun(executor, command);

  for (const e of plan.appDirectory) {
    if (await ensure(executor, e, log)) changed.push(e.name);
  }
  // The lock: mkdir is atomic, so of two deploys exactly one gets it.
  const acquired = await mustRun(executor, plan.lock.acquire);
  if (acquired.code === NO_APP_DIR) {
    throw new Error(`${s.layout.appDir} does not exist on ${s.target}: deploy without --skip-host-setup (it creates it), or create it owned by the deploy user`);
  }
  if (acquired.code !== 0) {
    const holder = await mustRun(executor, plan.lock.readHolder);
    const error = new DeployLockedError(s.target, holder.code === 0 ? parseLockDetails(holder.stdout) : undefined);
    outcome = 'refused_locked';
    failure = error.message;
    await record();
    throw error;
  }

  try {
    await mustRun(executor, plan.lock.writeDetails);
    const step = async (e: Ensure) => {
      if (await ensure(executor, e, log)) changed.push(e.name);
    };

    if (plan.hostSetup.length > 0) log('Preparing the host');
    for (const e of plan.hostSetup) await step(e);

    log('Uploading the release');
    for (const e of plan.appDirectories) await step(e);
    await step(plan.release);
    let secretsChanged = false;
    for (const e of plan.secrets) {
      if (await ensure(executor, e, log)) {
        changed.push(e.name);
        secretsChanged = true;
      }
    }
    for (const e of plan.afterRelease) await step(e);

    const current = await mustRun(executor, plan.readCurrent);
    previous = current.code === 0 ? (releaseFromTarget(current.stdout) ?? null) : null;

    if (previous === s.sha && changed.length === 0 && !s.force) {
      log(`Nothing changed: ${s.sha.slice(0, 12)} is already live; checking that it is ready`);
      outcome = (await gate(executor, plan, log)) ? 'unchanged' : 'failed';
      if (outcome === 'failed') failure = 'nothing changed, but the health gate fails: run again with --force to converge the containers';
      return { outcome, commit: s.sha, previous, changed, ...(failure ? { error: failure } : {}) };
    }

    log(`Going live with ${s.sha.slice(0, 12)}${previous ? ` (previous: ${previous.slice(0, 12)})` : ' (first release on this host)'}`);
    if (previous !== s.sha) {
      await mustRun(executor, plan.activate(s.sha));
      changed.push(`current → ${s.sha.slice(0, 12)}`);
    }
    let live = false;
    try {
      // Containers read secrets at start: recreate them when a secret changed under a running stack.
      await mustRun(executor, plan.up(s.sha, { forceRecreate: secretsChanged && previous !== null }));
      live = await gate(executor, plan, log);
    } catch (error) {
      log(`  failed   ${(error as Error).message}`);
      failure = (error as Error).message;
    }
    if (live) {
      outcome = 'deployed';
      await prune(executor, plan, [s.sha, ...(previous ? [previous] : [])], log);
      log(`Deployed ${s.sha.slice(0, 12)}`);
    } else if (previous && previous !== s.sha) {
      failure ??= 'the health gate failed';
      log(`Rolling back to ${previous.slice(0, 12)}`);
      await mustRun(executor, plan.activate(previous));
      await mustRun(executor, plan.up(previous));
      const back = await gate(executor, plan, log);
      outcome = back ? 'rolled_back' : 'failed';
      if (!back) failure += `; the rollback to ${previous.slice(0, 12)} is not ready either`;
      log(back ? `Rolled back to ${previous.slice(0, 12)}` : 'Rollback failed too');
    } else {
      failure ??= 'the health gate failed';
      failure += previous ? '' : ' (no previous release to roll back to)';
      outcome = 'failed';
    }
    return { outcome, commit: s.sha, previous, changed, ...(failure ? { error: failure } : {}) };
  } catch (error) {
    outcome = 'failed';
    failure = (error as Error).message;
    throw error;
  } finally {
    try {
      await record();
    } finally {
      const released = await executor.run(plan.lock.release);
      if (released.code !== 0) log(`warning: the deploy lock was not ours to release (${plan.settings.layout.lock})`);
    }
  }
}

async function prune(executor: Executor, plan: DeployPlan, keepIds: string[], log: Log): Promise<void> {
  const listed = await mustRun(executor, plan.listReleases);
  const names = listed.stdout.split('\n').map((n) => n.trim()).filter(Boolean);
  for (const old of releasesToPrune(names, plan.settings.keepReleases, keepIds)) {
    await mustRun(executor, plan.removeRelease(old));
    log(`  removed  old release ${old.slice(0, 12)}`);
  }
}
