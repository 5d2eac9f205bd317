// The backup-and-restore procedure (runbooks/backup-restore.md) is executed. Every ```sh
// block of the runbook runs, as written, in a real bash: one shell per `##` section (as
// on-call keeps one terminal open through a procedure), block after block, errexit and
// pipefail on, so the first command that fails fails the test with its output.
//
// What runs for real: the backup script (deploy/backup/backup.sh, started from the
// systemd unit deploy/backup/bpe-backup.service with the unit's own environment and
// backup.env) against a redis-server of this test started with compose.yaml's Redis
// command line (AOF, ACL file rendered by `npm run redis:acl`'s code, the `backup` user
// with its password file), Parquet written by the writer's code, a SQLite database in
// Grafana's place, audit files, a restic repository on local disk (the "off-host"
// repository), restic itself for every snapshots/check/restore command,
// `npm run backup:restore-drill`, coreutils, and the redis-server that the restored
// Redis files are loaded into.
//
// What is stood in, because the test machine is not the production host (no systemd,
// no Docker engine, no SSH to a host; see the header of each stand-in):
// - `ssh deploy@HOST 'COMMAND'` runs COMMAND here with the host's environment, none of
//   the caller's; a bare `ssh deploy@HOST` (a login) starts the section's shell in that
//   environment instead (deploy/testing/host-standin.sh);
// - `sudo` runs as the caller (root: the test is skipped otherwise), env reset unless
//   --preserve-env; `systemctl start` runs the oneshot unit, `systemctl list-timers` and
//   `journalctl -u` read the stand-in's journal (deploy/testing/host-standin.sh);
// - `docker` (deploy/testing/docker-standin.sh): volumes are directories under the data
//   root (as Docker's data-root is on the data volume), `docker exec` into the redis
//   container is redis-cli against this test's Redis, `docker run` of the app image runs
//   the checkout, `compose stop`/`up` stop and start this test's Redis (the pipeline
//   services are not running here: for them the stand-in only records the call);
// - the host's absolute paths (/opt/bluesky-post-explorer, /srv/bluesky-post-explorer-data,
//   node-exporter's textfile directory, restic's cache) are moved under a temporary
//   directory: the test rewrites them in the runbook's commands and in the unit.
//
// The "host" has backed up once already (the timer's nightly run) when the runbook's
// sections run in order: the backup's status and a backup now, the snapshots and the
// repository check, the restore drill, and the restore onto the host after the live
// data was damaged. Checks run after the blocks whose commands they verify.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { parse as parseYaml } from 'yaml';
import { REPO_ROOT } from '../base/paths.ts';
import { freePort } from '../base/ports.ts';
import { startRedisServer, type RedisServer } from '../base/redis-server.ts';
import { openDuckDB } from '../services/shared/duckdb.ts';
import { redisKeys } from '../services/shared/redis-keys.ts';
import { generateFrames } from '../loadtest/jetstream-replay/generator.ts';
import { countTables, type TableCounts } from '../deploy/backup/manifest.ts';
import { BACKUP_UNITS, UNIT_DEFAULT_APP_DIR, UNIT_DEFAULT_DATA_ROOT } from '../deploy/backup/units.ts';
import { passwordFile, renderSecrets } from '../deploy/config/redis/render.ts';
import { DEFAULT_APP, currentTarget, releaseDir, releaseFiles, remoteLayout } from '../deploy/ssh/layout.ts';
import { writeStore } from './helpers/api-fixture.ts';
import { snapshots } from './helpers/deploy-backup.ts';
import { STANDIN_DOCKER } from './helpers/deploy-ssh-host.ts';
import { parseMarkdown, type FencedBlock } from './helpers/markdown.ts';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;

const RUNBOOK = 'runbooks/backup-restore.md';
const STANDIN_HOST = join(REPO_ROOT, 'deploy', 'testing', 'host-standin.sh');
/** node-exporter's textfile directory: backup.sh's default and the deploy's (--textfile-dir). */
const TEXTFILE_DIR = '/var/lib/node-exporter/textfile';
/** restic's cache of the backup unit (RESTIC_CACHE_DIR in bpe-backup.service). */
const RESTIC_CACHE_DIR = '/var/cache/restic';
const HOST_PREFIXES = [UNIT_DEFAULT_APP_DIR, UNIT_DEFAULT_DATA_ROOT, TEXTFILE_DIR, RESTIC_CACHE_DIR];
const LOGIN = 'ssh deploy@HOST';
const KEYS = redisKeys('bpe');
/** A key written after the last backup: a restore must not bring it back. */
const AFTER_BACKUP_KEY = 'bpe:ingester:after-backup';

interface Section {
  heading: string;
  blocks: FencedBlock[];
}

/** The runbook's `##` sections, each with its fenced blocks in order. */
function readSections(text: string): { sections: Section[]; blocks: FencedBlock[] } {
  const { blocks, headings } = parseMarkdown(text);
  const h2 = headings.filter((h) => h.level === 2);
  return {
    blocks,
    sections: h2.map((h, i) => ({ heading: h.text, blocks: blocks.filter((b) => b.line > h.line && b.line < (h2[i + 1]?.line ?? Infinity)) })),
  };
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The host's absolute paths moved under `root` (root + path), in one pass so nothing is moved twice. */
function hostPaths(root: string): (text: string) => string {
  const pattern = new RegExp(HOST_PREFIXES.map(escapeRegExp).join('|'), 'g');
  return (text) => text.replace(pattern, (path) => root + path);
}

const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

interface BlockRun {
  block: FencedBlock;
  stdout: string;
  stderr: string;
}

/** One bash, kept open across blocks like on-call's terminal; each block is sourced (stdin /dev/null) and awaited. */
class Terminal {
  private readonly child: ChildProcess;
  private stdout = '';
  private stderr = '';
  private exit: number | null | undefined;

  constructor(
    cwd: string,
    env: Record<string, string>,
    private readonly scratch: string,
  ) {
    this.child = spawn('bash', ['--noprofile', '--norc', '-e', '-o', 'pipefail'], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (c: Buffer) => (this.stdout += c.toString()));
    this.child.stderr!.on('data', (c: Buffer) => (this.stderr += c.toString()));
    this.child.on('exit', (code) => (this.exit = code));
  }

  async run(block: FencedBlock, script: string): Promise<BlockRun> {
    const file = join(this.scratch, `block-${block.line}-${randomUUID()}.sh`);
    await writeFile(file, `${script}\n`);
    const marker = `--- block ${randomUUID()} done ---`;
    const from = { out: this.stdout.length, err: this.stderr.length };
    this.child.stdin!.write(`. ${shellQuote(file)} </dev/null\nprintf '\\n%s\\n' '${marker}'; printf '\\n%s\\n' '${marker}' >&2\n`);
    const deadline = Date.now() + 100_000;
    for (;;) {
      const out = this.stdout.indexOf(marker, from.out);
      const err = this.stderr.indexOf(marker, from.err);
      if (out >= 0 && err >= 0) return { block, stdout: this.stdout.slice(from.out, out), stderr: this.stderr.slice(from.err, err) };
      if (this.exit !== undefined || Date.now() > deadline) {
        throw new Error(
          `${RUNBOOK}:${block.line}: the block ${this.exit !== undefined ? `failed (bash exited with ${this.exit})` : 'did not finish'}:\n${script}\n--- stdout\n${this.stdout.slice(from.out)}\n--- stderr\n${this.stderr.slice(from.err)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  close(): void {
    this.child.stdin!.end();
    if (this.exit === undefined) this.child.kill('SIGTERM');
  }
}

interface Check {
  /** Runs after a block with a command matching this. */
  after: RegExp;
  name: string;
  check(run: BlockRun): Promise<void>;
}

/** The live data the checks compare a restore with. */
interface LiveState {
  tables: TableCounts;
  streamLength: number;
  cursor: string | null;
  grafanaRows: number;
  auditFiles: string[];
}

/** compose.yaml's Redis command line, with the release's defaults for its variables and the ACL file at `aclFile`. */
function productionRedisArgs(aclFile: string): string[] {
  const compose = parseYaml(readFileSync(join(REPO_ROOT, 'deploy', 'compose.yaml'), 'utf8')) as { services: { redis: { command: string[] } } };
  const [binary, ...args] = compose.services.redis.command.map((a) => a.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1'));
  expect(binary).toBe('redis-server');
  const acl = args.indexOf('--aclfile');
  expect(acl, 'compose.yaml runs Redis with an ACL file').toBeGreaterThan(-1);
  args[acl + 1] = aclFile;
  return args;
}

describe.skipIf(!isRoot)('the backup-and-restore runbook, executed against a local stack (stand-in ssh, sudo, systemctl, journalctl and docker; real backup.sh, restic, Redis, Parquet and restore drill)', () => {
  const text = readFileSync(join(REPO_ROOT, RUNBOOK), 'utf8');
  const { sections, blocks } = readSections(text);
  const executed = new Set<number>();
  const checksRun = new Set<string>();

  let root: string;
  let toHost: (text: string) => string;
  let bin: string;
  let scratch: string;
  let standinEnv: Record<string, string>;
  let hostEnv: Record<string, string>;
  let operatorEnv: Record<string, string>;
  let resticEnv: Record<string, string>;
  let layout: ReturnType<typeof remoteLayout>;
  let dataRoot: string;
  let volumes: string;
  let redis: RedisServer;
  let redisPidFile: string;
  let parquet: string;
  let grafanaDb: string;
  let expected: LiveState;
  let metricBefore: number;
  let startUs: number;

  const volume = (name: string) => join(volumes, `${DEFAULT_APP}_${name}`, '_data');
  const admin = async () => {
    const client = new Redis(redis.url, { username: 'admin', password: (await readFile(passwordFile(layout.secrets, 'admin'), 'utf8')).trim(), maxRetriesPerRequest: 1, lazyConnect: true, retryStrategy: () => null });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  const withAdmin = async <T,>(f: (client: Redis) => Promise<T>): Promise<T> => {
    const client = await admin();
    try {
      return await f(client);
    } finally {
      client.disconnect();
    }
  };
  const grafanaRows = async (db: string) => Number((await run('sqlite3', [db, 'SELECT count(*) FROM dashboard'])).stdout.trim());
  const successMetric = async () => {
    const metrics = await readFile(toHost(join(TEXTFILE_DIR, 'bpe_backup.prom')), 'utf8');
    return Number(/^bpe_backup_last_success_timestamp_seconds (\d+)$/m.exec(metrics)?.[1]);
  };

  /** Writes `count` events through the writer's code, `hours` after the first window's start. */
  async function writeEvents(hours: number, count: number, seed: number): Promise<void> {
    const from = startUs + hours * 3_600_000_000;
    const frames = generateFrames({ seed, mix: 'plan' }, count, from, 2_000_000).map((f) => f.text);
    const { instance, connection } = await openDuckDB({ threads: 1 });
    try {
      // The hours already closed at the window's end are compacted, as the writer's periodic compaction does.
      await writeStore(connection, parquet, frames, from / 1000 + count * 2_000);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
    await withAdmin(async (client) => {
      const pipeline = client.pipeline();
      for (const frame of frames.slice(-100)) pipeline.xadd(KEYS.stream, '*', 'e', frame);
      pipeline.set(KEYS.cursor, String(from + count * 2_000_000));
      await pipeline.exec();
    });
  }

  async function liveState(): Promise<LiveState> {
    return withAdmin(async (client) => ({
      tables: await countTables(parquet),
      streamLength: await client.xlen(KEYS.stream),
      cursor: await client.get(KEYS.cursor),
      grafanaRows: await grafanaRows(grafanaDb),
      auditFiles: (await readdir(join(layout.appDir, 'audit'))).sort(),
    }));
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'bpe-backup-runbook-'));
    toHost = hostPaths(root);
    scratch = join(root, 'blocks');
    layout = remoteLayout(toHost(UNIT_DEFAULT_APP_DIR));
    dataRoot = toHost(UNIT_DEFAULT_DATA_ROOT);
    // Docker's data-root is on the data volume (deploy/ssh/commands/host.ts: dockerDaemonConfig).
    volumes = join(dataRoot, 'docker', 'volumes');
    const state = join(root, 'standin');
    const units = join(root, 'etc', 'systemd', 'system');
    const deployHome = join(root, 'home', 'deploy');
    const operatorHome = join(root, 'home', 'operator');
    bin = join(root, 'bin');
    for (const dir of [scratch, state, units, deployHome, bin, join(layout.appDir, 'audit'), dataRoot, toHost(TEXTFILE_DIR)]) await mkdir(dir, { recursive: true });
    await mkdir(layout.secrets, { mode: 0o700 });
    await mkdir(join(operatorHome, 'bpe-secrets'), { recursive: true, mode: 0o700 });

    // The stand-ins first on every PATH.
    for (const name of ['ssh', 'sudo', 'systemctl', 'journalctl']) await symlink(STANDIN_HOST, join(bin, name));
    await symlink(STANDIN_DOCKER, join(bin, 'docker'));

    // The release, as the deploy lays it out: releases/<sha>/deploy with compose.yaml, backup/ and release.env; current -> it.
    const sha = (await run('git', ['-C', REPO_ROOT, 'rev-parse', 'HEAD'])).stdout.trim();
    const release = releaseDir(layout, sha);
    const { composeFile, envFile } = releaseFiles(layout, sha);
    await mkdir(join(release, 'deploy'), { recursive: true });
    await symlink(join(REPO_ROOT, 'deploy', 'compose.yaml'), composeFile);
    await symlink(join(REPO_ROOT, 'deploy', 'backup'), join(release, 'deploy', 'backup'));
    await writeFile(envFile, `BPE_RELEASE=${sha}\nBPE_SECRETS_DIR=${layout.secrets}\nBPE_DOMAIN=bpe.example.org\n`);
    await symlink(currentTarget(sha), layout.current);
    // The backup units as the deploy installs them (its paths for the defaults, as renderUnit does).
    for (const unit of BACKUP_UNITS) await writeFile(join(units, unit), toHost(await readFile(join(REPO_ROOT, 'deploy', 'backup', unit), 'utf8')));

    // Secrets: the Redis ACL and passwords (npm run redis:acl's code), the restic password, backup.env.
    // The operator's ~/bpe-secrets holds the same files, its backup.env naming the host's paths, as deployed.
    await renderSecrets(layout.secrets, 'bpe');
    const resticPassword = `test-only-${randomUUID()}\n`;
    const repository = join(root, 'restic-repository');
    const backupEnv = (paths: (p: string) => string) =>
      [
        `RESTIC_REPOSITORY=${repository}`,
        `RESTIC_PASSWORD_FILE=${paths(join(UNIT_DEFAULT_APP_DIR, 'secrets', 'restic-password'))}`,
        'BPE_REDIS_USER=backup',
        `BPE_REDIS_PASSWORD_FILE=${paths(join(UNIT_DEFAULT_APP_DIR, 'secrets', 'redis-backup.password'))}`,
        '',
      ].join('\n');
    await writeFile(join(layout.secrets, 'restic-password'), resticPassword, { mode: 0o600 });
    await writeFile(join(layout.secrets, 'backup.env'), backupEnv(toHost), { mode: 0o600 });
    await writeFile(join(operatorHome, 'bpe-secrets', 'restic-password'), resticPassword, { mode: 0o600 });
    await writeFile(join(operatorHome, 'bpe-secrets', 'backup.env'), backupEnv((p) => p), { mode: 0o600 });

    // Redis as compose.yaml runs it, in its volume; the stand-in docker stops and starts it through these hooks.
    const port = await freePort();
    const redisArgs = productionRedisArgs(join(layout.secrets, 'redis.acl'));
    redis = await startRedisServer({ dir: volume('redis'), port, extraArgs: redisArgs });
    const hooks = join(state, 'services', 'redis');
    await mkdir(hooks, { recursive: true });
    redisPidFile = join(hooks, 'pid');
    await writeFile(redisPidFile, `${redis.process.pid}\n`);
    await writeFile(join(hooks, 'stop'), `#!/bin/sh\nset -e\npid=$(cat ${shellQuote(redisPidFile)})\nkill -TERM "$pid"\n# Gone, or a zombie (an exited process its parent has not reaped yet).\nwhile kill -0 "$pid" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; do sleep 0.1; done\n`);
    const start = ['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--dir', volume('redis'), '--logfile', join(volume('redis'), 'redis.log'), '--daemonize', 'yes', '--pidfile', redisPidFile, ...redisArgs];
    // `up --wait` waits for compose's health check: PING as the healthcheck user.
    await writeFile(
      join(hooks, 'start'),
      `#!/bin/sh\nset -e\n${start.map(shellQuote).join(' ')}\nuntil redis-cli -p ${port} --no-auth-warning --user healthcheck --pass healthcheck ping 2>/dev/null | grep -q PONG; do sleep 0.1; done\n`,
    );
    const containers = join(state, 'containers');
    await mkdir(containers);
    await writeFile(
      join(containers, `${DEFAULT_APP}-redis-1`),
      `#!/bin/sh\n[ "$1" = redis-cli ] || { echo "stand-in redis container: $1: no such command in it" >&2; exit 127; }\nshift\nexec redis-cli -h 127.0.0.1 -p ${port} "$@"\n`,
    );
    for (const file of [join(hooks, 'stop'), join(hooks, 'start'), join(containers, `${DEFAULT_APP}-redis-1`)]) await chmod(file, 0o755);

    standinEnv = {
      STANDIN_STATE: state,
      STANDIN_PROJECT: DEFAULT_APP,
      STANDIN_VOLUMES: volumes,
      STANDIN_APP_DIR: REPO_ROOT,
      STANDIN_UNITS: units,
      STANDIN_HOST_PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      STANDIN_HOST_HOME: deployHome,
    };
    hostEnv = { ...standinEnv, PATH: standinEnv.STANDIN_HOST_PATH!, HOME: deployHome, USER: 'deploy', LOGNAME: 'deploy', SHELL: '/bin/bash' };
    operatorEnv = { ...standinEnv, PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, HOME: operatorHome, USER: 'operator', NPM_CONFIG_UPDATE_NOTIFIER: 'false' };
    resticEnv = { RESTIC_REPOSITORY: repository, RESTIC_PASSWORD_FILE: join(layout.secrets, 'restic-password'), RESTIC_CACHE_DIR: join(root, 'test-restic-cache') };

    // The data: Parquet by the writer's code, the buffer, Grafana's database, the audit files.
    parquet = volume('parquet');
    grafanaDb = join(volume('grafana'), 'grafana.db');
    await mkdir(volume('grafana'), { recursive: true });
    startUs = Date.parse('2026-11-20T00:00:00Z') * 1000;
    await withAdmin((client) => client.xgroup('CREATE', KEYS.stream, KEYS.writerGroup, '0', 'MKSTREAM'));
    await writeEvents(0, 4000, 11);
    await run('sqlite3', [grafanaDb, "CREATE TABLE dashboard (id INTEGER PRIMARY KEY, title TEXT); INSERT INTO dashboard (title) VALUES ('pipeline'), ('api');"]);
    await writeFile(join(layout.appDir, 'audit', '2026-11-20.jsonl'), '{"event":"key_created"}\n');
    await writeFile(layout.deploysLog, `{"outcome":"deployed","commit":"${sha}"}\n`);

    // Last night's backup, by the timer: its snapshot dated yesterday 03:15 (BPE_BACKUP_TIME), so that
    // `forget --keep-daily` keeps it beside today's.
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const nightlyEnv = { ...hostEnv, STANDIN_SERVICE_ENV: `${standinEnv.STANDIN_SERVICE_ENV}\nBPE_BACKUP_TIME=${yesterday} 03:15:00` };
    const nightly = await run(join(bin, 'systemctl'), ['start', 'bpe-backup.service'], { env: nightlyEnv }).catch(async (error: unknown) => {
      throw new Error(`the nightly backup failed: ${(error as Error).message}\n${await readFile(join(state, 'journal', 'bpe-backup.service'), 'utf8').catch(() => '')}`, { cause: error });
    });
    expect(nightly.stderr).toBe('');
    metricBefore = await successMetric();
    // The day goes on: more events.
    await writeEvents(6, 1500, 12);
  });

  afterAll(async () => {
    // The Redis the stand-in started (daemonized), or this test's own.
    const pid = Number(await readFile(redisPidFile, 'utf8').catch(() => ''));
    if (pid && pid !== redis?.process.pid) {
      try {
        process.kill(pid, 'SIGTERM');
        for (let i = 0; i < 100 && process.kill(pid, 0); i++) await new Promise((r) => setTimeout(r, 50));
      } catch {
        // gone
      }
    }
    await redis?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  function section(heading: string): Section {
    const found = sections.find((s) => s.heading === heading);
    if (!found) throw new Error(`${RUNBOOK}: no section "## ${heading}"; sections: ${sections.map((s) => s.heading).join(' | ')}`);
    return found;
  }

  /** Runs a section's blocks in one shell (the host's, after a bare login; else the operator's, in the repository); the checks after the blocks they name. */
  async function runSection(heading: string, checks: Check[] = []): Promise<BlockRun[]> {
    const { blocks: sectionBlocks } = section(heading);
    expect(sectionBlocks.length, `${RUNBOOK}: "## ${heading}" has no sh block`).toBeGreaterThan(0);
    const onHost = sectionBlocks[0]!.body.trim().split('\n')[0]!.trim() === LOGIN;
    const terminal = new Terminal(onHost ? hostEnv.HOME! : REPO_ROOT, onHost ? hostEnv : operatorEnv, scratch);
    const runs: BlockRun[] = [];
    try {
      for (const block of sectionBlocks) {
        const result = await terminal.run(block, toHost(block.body));
        executed.add(block.line);
        runs.push(result);
        for (const check of checks.filter((c) => c.after.test(block.body))) {
          await check.check(result);
          checksRun.add(check.name);
        }
      }
    } finally {
      terminal.close();
    }
    for (const check of checks) expect(checksRun.has(check.name), `${RUNBOOK}: "## ${heading}" has no command matching ${check.after} (${check.name})`).toBe(true);
    return runs;
  }

  it('its commands are all in sh blocks, a login to the host only opens a section', () => {
    expect(blocks.map((b) => `${RUNBOOK}:${b.line}: ${b.language}`).filter((b) => !b.endsWith(': sh'))).toEqual([]);
    const misplaced = sections.flatMap((s) =>
      s.blocks.flatMap((b, i) =>
        b.body
          .split('\n')
          .map((line, j) => ({ line: line.trim(), first: i === 0 && j === 0, n: b.line + 1 + j }))
          .filter((l) => l.line === LOGIN && !l.first)
          .map((l) => `${RUNBOOK}:${l.n}: a login after the start of "## ${s.heading}": make it a section of its own`),
      ),
    );
    expect(misplaced).toEqual([]);
    // Blocks before the first section would run nowhere.
    expect(blocks.filter((b) => !sections.some((s) => s.blocks.includes(b))).map((b) => b.line)).toEqual([]);
  });

  it('"Is the backup running?": the timer, the journal and the success metric; a backup run now succeeds and writes its success metric', async () => {
    expected = await liveState();
    const [status, now] = await runSection('Is the backup running?', [
      {
        after: /systemctl start bpe-backup\.service/,
        name: 'backup run now',
        async check() {
          const value = await successMetric();
          expect(value).toBeGreaterThan(metricBefore);
          const list = await snapshots(resticEnv);
          expect(list, 'the nightly snapshot and this one').toHaveLength(2);
          expect(list.every((s) => s.tags.includes('bpe'))).toBe(true);
        },
      },
    ]);
    expect(status!.stdout).toMatch(/bpe-backup\.timer bpe-backup\.service/);
    expect(status!.stdout).toMatch(/backup: redis snapshot copied \(\d+ keys\)/);
    expect(status!.stdout).toMatch(/backup: done in \d+s/);
    expect(status!.stdout).toMatch(/^bpe_backup_last_success_timestamp_seconds \d+$/m);
    expect(now!.stdout).toContain(`bpe_backup_last_success_timestamp_seconds ${await successMetric()}`);
  });

  it('"The snapshots": restic lists both snapshots and its check finds no error', async () => {
    const [listed] = await runSection("The snapshots, and the repository's health");
    for (const snapshot of await snapshots(resticEnv)) expect(listed!.stdout).toContain(snapshot.short_id);
    expect(listed!.stdout).toContain('no errors were found');
  });

  it('"The restore drill": npm run backup:restore-drill passes on the latest snapshot, with the row counts of the live data at backup time', async () => {
    const latest = (await snapshots(resticEnv)).at(-1)!;
    const [drill] = await runSection('The restore drill (monthly, and after any change to the backup)');
    expect(drill!.stdout).toContain(`restore drill passed: snapshot ${latest.short_id}`);
    const report = JSON.parse(/^\{[\s\S]*^\}$/m.exec(drill!.stdout)![0]) as { tables: Record<string, { expected: number; restored: number; ok: boolean }>; redis: { restored_dbsize: number } };
    for (const [table, counts] of Object.entries(expected.tables)) expect(report.tables[table], table).toEqual({ expected: counts.rows, restored: counts.rows, ok: true });
    expect(report.redis.restored_dbsize).toBeGreaterThan(0);
  });

  it('"Restore onto the host": the snapshot restored into a scratch directory has the live row counts and a Redis RDB that loads; put back, the stack comes up with the data of backup time', async () => {
    // Damage after the backup: a table lost, newer events, a key, a Grafana row, a lost audit file and a new one.
    await writeEvents(9, 500, 13);
    await rm(join(parquet, 'likes'), { recursive: true, force: true });
    await withAdmin((client) => client.set(AFTER_BACKUP_KEY, '1'));
    await run('sqlite3', [grafanaDb, "INSERT INTO dashboard (title) VALUES ('after backup');"]);
    await unlink(join(layout.appDir, 'audit', '2026-11-20.jsonl'));
    await writeFile(join(layout.appDir, 'audit', '2026-11-21.jsonl'), '{"event":"after backup"}\n');
    expect((await countTables(parquet)).likes.rows).toBe(0);

    const restored = join(dataRoot, 'restore', dataRoot, 'backup-staging');
    await runSection('Restore onto the host', [
      {
        after: /restic restore latest/,
        name: 'scratch restore',
        async check(result) {
          expect(await countTables(join(restored, 'parquet'))).toEqual(expected.tables);
          const manifest = JSON.parse(/^\{"created_at".*$/m.exec(result.stdout)![0]) as { tables: TableCounts };
          expect(manifest.tables).toEqual(expected.tables);
          // The RDB loads: a redis-server of its own on it (no AOF, which would make Redis ignore the RDB).
          const server = await startRedisServer({ dir: join(restored, 'redis'), extraArgs: ['--appendonly', 'no', '--dbfilename', 'dump.rdb'] });
          const client = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
          try {
            await client.connect();
            expect(await client.xlen(KEYS.stream)).toBe(expected.streamLength);
            expect(await client.get(KEYS.cursor)).toBe(expected.cursor);
            expect(await client.exists(AFTER_BACKUP_KEY)).toBe(0);
          } finally {
            client.disconnect();
            await server.stop();
          }
        },
      },
      {
        after: /up --detach --wait/,
        name: 'stack up on the restored data',
        async check(result) {
          // The store check of the runbook printed the tables of the manifest.
          const counted = JSON.parse(/^\{"(?!created_at).*$/m.exec(result.stdout)![0]) as TableCounts;
          expect(counted).toEqual(expected.tables);
          expect(await countTables(parquet)).toEqual(expected.tables);
          await withAdmin(async (client) => {
            expect(await client.xlen(KEYS.stream)).toBe(expected.streamLength);
            expect(await client.get(KEYS.cursor)).toBe(expected.cursor);
            expect(await client.exists(AFTER_BACKUP_KEY)).toBe(0);
            expect((await client.xinfo('GROUPS', KEYS.stream)) as unknown[]).toHaveLength(1);
            // Still an AOF, now based on the snapshot: a restart keeps the restored buffer.
            expect(await client.info('persistence')).toMatch(/^aof_enabled:1\r?$/m);
          });
          expect(await grafanaRows(grafanaDb)).toBe(expected.grafanaRows);
          expect((await readdir(join(layout.appDir, 'audit'))).sort()).toEqual([...expected.auditFiles, '2026-11-21.jsonl'].sort());
        },
      },
      {
        after: /rm -rf/,
        name: 'set-aside files removed',
        async check() {
          expect(existsSync(join(dataRoot, 'restore'))).toBe(false);
          expect(existsSync(`${parquet}.before-restore`)).toBe(false);
          expect(existsSync(join(volume('redis'), 'appendonlydir.before-restore'))).toBe(false);
          expect(existsSync(`${grafanaDb}.before-restore`)).toBe(false);
        },
      },
    ]);
    // Redis restarted once more keeps the restored buffer (the AOF holds it).
    const compose = ['compose', '--project-name', DEFAULT_APP, '--file', join(layout.current, 'deploy', 'compose.yaml'), '--env-file', join(layout.current, 'deploy', 'release.env')];
    await run(join(bin, 'docker'), [...compose, 'stop', 'redis'], { env: hostEnv });
    await run(join(bin, 'docker'), [...compose, 'up', '--detach', '--wait'], { env: hostEnv });
    expect(await withAdmin((client) => client.xlen(KEYS.stream))).toBe(expected.streamLength);
  });

  it('every sh block of the runbook was executed', () => {
    expect(blocks.filter((b) => !executed.has(b.line)).map((b) => `${RUNBOOK}:${b.line}: ${b.body.trim().split('\n')[0]}`)).toEqual([]);
  });

  it('the backup commands named elsewhere (READMEs, disaster recovery, backup-missing) are the runbook\'s, as executed here', async () => {
    const runbookLines = new Set(blocks.flatMap((b) => b.body.split('\n').map(normalizeCommand)));
    const bad: string[] = [];
    for (const file of ['README.md', 'deploy/README.md', 'runbooks/disaster-recovery.md', 'runbooks/backup-missing.md']) {
      const { blocks: other } = parseMarkdown(await readFile(join(REPO_ROOT, file), 'utf8'));
      for (const block of other.filter((b) => b.language === 'sh')) {
        block.body.split('\n').forEach((line, i) => {
          const command = normalizeCommand(line);
          if (command && !command.startsWith('#') && /\brestic\b|bpe-backup|backup:restore-drill|backup\.env|bpe_backup\.prom/.test(command) && !runbookLines.has(command)) {
            bad.push(`${file}:${block.line + 1 + i}: ${line.trim()}`);
          }
        });
      }
    }
    expect(bad, `commands not as in ${RUNBOOK} (which the test runs)`).toEqual([]);
  });
});

/** A command line without its trailing comment, spacing collapsed. */
function normalizeCommand(line: string): string {
  return line
    .replace(/\s+#\s.*$/, '')
    .trim()
    .replace(/\s+/g, ' ');
}
