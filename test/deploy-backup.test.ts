// Backups for real: deploy/backup/backup.sh against a real redis-server (BGSAVE and
// LASTSAVE), real Parquet files written with DuckDB in the store's layout, a SQLite
// database standing for Grafana's, audit files, and a real restic repository on local
// disk; then the restore drill (deploy/backup/restore-drill.ts) restores the latest
// snapshot and verifies it. On the host the script reaches Redis and the app image
// through docker; here the documented BPE_* variables point it at local processes.

import { execFile, spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { REPO_ROOT } from '../base/paths.ts';
import { startRedisServer, type RedisServer } from '../base/redis-server.ts';
import { partitionDir } from '../services/shared/layout.ts';
import { tempDir } from './helpers/pipeline.ts';
import { BACKUP_SCRIPT, runScript, snapshots, writeParquet, type ScriptRun } from './helpers/deploy-backup.ts';

const run = promisify(execFile);

describe('daily backup with restic and the restore drill (real Redis, Parquet, restic)', () => {
  let dir: string;
  let redis: RedisServer;
  let client: Redis;
  let env: Record<string, string>;
  let parquet: string;

  beforeAll(async () => {
    dir = await tempDir('backup');
    redis = await startRedisServer({ dir: join(dir, 'redis') });
    client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    // What the buffer holds: a stream of events, a cursor, the writer's manifests.
    for (let i = 0; i < 50; i++) await client.xadd('bpe:events', '*', 'e', JSON.stringify({ i }));
    await client.set('bpe:ingester:cursor', '1700000000000000');
    await client.hset('bpe:writer:manifests', 'b-1', '["1-0"]');

    parquet = join(dir, 'parquet');
    await writeParquet(parquet, 'posts', '2026-01-01', '00', 'b-1.parquet', 120);
    await writeParquet(parquet, 'posts', '2026-01-01', '01', 'c-abc.parquet', 80);
    await writeParquet(parquet, 'likes', '2026-01-01', '00', 'b-1.parquet', 500);
    await writeParquet(parquet, 'identities', '2026-01-01', '00', 'b-1.parquet', 7);
    // A file the writer is still writing: not part of the store yet.
    await writeFile(join(partitionDir(parquet, 'posts', { date: '2026-01-01', hour: '00' }), 'b-2.parquet.tmp'), 'partial');

    const grafanaDb = join(dir, 'grafana', 'grafana.db');
    await mkdir(join(dir, 'grafana'));
    await run('sqlite3', [grafanaDb, "CREATE TABLE dashboard (id INTEGER PRIMARY KEY, title TEXT); INSERT INTO dashboard (title) VALUES ('pipeline');"]);
    const appDir = join(dir, 'app');
    await mkdir(join(appDir, 'audit'), { recursive: true });
    await writeFile(join(appDir, 'deploys.log'), '{"outcome":"deployed"}\n');
    await writeFile(join(appDir, 'audit', 'api-keys.jsonl'), '{"event":"key_created"}\n');

    const passwordFile = join(dir, 'restic-password');
    await writeFile(passwordFile, `test-only-${Math.random()}\n`, { mode: 0o600 });
    env = {
      RESTIC_REPOSITORY: join(dir, 'restic-repo'),
      RESTIC_PASSWORD_FILE: passwordFile,
      RESTIC_CACHE_DIR: join(dir, 'restic-cache'),
      BPE_APP_DIR: appDir,
      BPE_STAGING_DIR: join(dir, 'staging'),
      BPE_TEXTFILE_DIR: join(dir, 'textfile'),
      BPE_PARQUET_DIR: parquet,
      BPE_REDIS_RDB: join(redis.dir, 'dump.rdb'),
      BPE_GRAFANA_DB: grafanaDb,
      BPE_AUDIT_PATHS: `${join(appDir, 'deploys.log')} ${join(appDir, 'audit')}`,
      BPE_REDIS_CLI: `redis-cli -p ${redis.port}`,
      BPE_MANIFEST_CMD: `${process.execPath} --import tsx deploy/backup/manifest.ts`,
      BPE_BACKUP_HOST: 'test-host',
    };
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('backs up Redis, Parquet, Grafana and audit files into an encrypted restic repository and exports the success time', async () => {
    const before = Math.floor(Date.now() / 1000);
    const result = await runScript(BACKUP_SCRIPT, env);
    expect(result.stderr).toContain('redis snapshot copied (3 keys)');
    expect(result.code).toBe(0);

    const [snapshot, ...more] = await snapshots(env);
    expect(more).toEqual([]);
    expect(snapshot!.tags).toEqual(['bpe']);
    expect(snapshot!.paths.sort()).toEqual([env.BPE_STAGING_DIR, join(env.BPE_APP_DIR!, 'audit'), join(env.BPE_APP_DIR!, 'deploys.log')].sort());
    // restic encrypts everything: the repository's config is not readable without the key.
    expect((await readFile(join(env.RESTIC_REPOSITORY!, 'config'))).toString('latin1')).not.toContain('"version"');

    const manifest = JSON.parse(await readFile(join(env.BPE_STAGING_DIR!, 'manifest.json'), 'utf8')) as { redis: { dbsize: number }; tables: Record<string, { rows: number; files: number }> };
    expect(manifest.redis.dbsize).toBe(3);
    expect(manifest.tables.posts).toEqual({ rows: 200, files: 2 });
    expect(manifest.tables.likes).toEqual({ rows: 500, files: 1 });
    expect(manifest.tables.identities).toEqual({ rows: 7, files: 1 });
    expect(manifest.tables.follows).toEqual({ rows: 0, files: 0 });

    const metrics = await readFile(join(env.BPE_TEXTFILE_DIR!, 'bpe_backup.prom'), 'utf8');
    expect(metrics).toContain('# TYPE bpe_backup_last_success_timestamp_seconds gauge');
    const value = Number(/^bpe_backup_last_success_timestamp_seconds (\d+)$/m.exec(metrics)?.[1]);
    expect(value).toBeGreaterThanOrEqual(before);
  });

  it('the restore drill restores the latest snapshot and verifies row counts and the Redis snapshot', async () => {
    // The live store moves on after the snapshot: the drill compares with the snapshot's own counts.
    await writeParquet(parquet, 'posts', '2026-01-01', '02', 'b-9.parquet', 33);
    await client.set('bpe:after-backup', '1');

    const scratch = join(dir, 'scratch');
    const child = spawn(process.execPath, ['--import', 'tsx', 'deploy/backup/restore-drill.ts', '--scratch', scratch], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('restore drill passed');
    const report = JSON.parse(stdout.slice(0, stdout.lastIndexOf('}') + 1)) as {
      ok: boolean;
      tables: Record<string, { expected: number; restored: number }>;
      redis: { restored_dbsize: number; expected_dbsize: number };
      grafana: { present: boolean; ok: boolean };
      audit_paths: string[];
    };
    expect(report.ok).toBe(true);
    expect(report.tables.posts).toMatchObject({ expected: 200, restored: 200 });
    expect(report.tables.likes).toMatchObject({ expected: 500, restored: 500 });
    expect(report.redis).toMatchObject({ expected_dbsize: 3, restored_dbsize: 3 });
    expect(report.grafana).toEqual({ present: true, ok: true });
    expect(report.audit_paths).toHaveLength(2);
    // The restored audit file is the one backed up.
    expect(await readFile(join(scratch, env.BPE_APP_DIR!, 'audit', 'api-keys.jsonl'), 'utf8')).toBe('{"event":"key_created"}\n');
  });

  it('the restore drill fails, naming the table, when restored rows differ from the recorded counts', async () => {
    // A manifest that records more rows than the snapshot holds (as a truncated upload would show).
    const lying = join(dir, 'lying-manifest.sh');
    await writeFile(lying, `#!/bin/sh\necho '{"posts":{"rows":999,"files":2}}'\n`);
    await chmod(lying, 0o755);
    const backup = await runScript(BACKUP_SCRIPT, { ...env, BPE_MANIFEST_CMD: lying });
    expect(backup.code).toBe(0);
    const drill = await new Promise<ScriptRun>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'deploy/backup/restore-drill.ts'], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
    expect(drill.code).toBe(1);
    expect(drill.stdout).toContain('restore drill FAILED');
    expect(drill.stdout).toContain('table posts: 233 rows restored, 999 recorded at snapshot time');
  });

  it('fails without writing the success metric when restic cannot work', async () => {
    const metrics = join(env.BPE_TEXTFILE_DIR!, 'bpe_backup.prom');
    const before = await readFile(metrics, 'utf8');
    const result = await runScript(BACKUP_SCRIPT, { ...env, RESTIC_PASSWORD_FILE: join(dir, 'no-such-password-file') });
    expect(result.code).not.toBe(0);
    expect(await readFile(metrics, 'utf8')).toBe(before);
  });
});
