// Retention: deploy/backup/backup.sh run on ten simulated days (restic backup --time,
// through BPE_BACKUP_TIME) against a real restic repository; its
// `forget --keep-daily 7 --prune` must leave exactly the seven most recent days.
// The manifest step is stubbed here (it has its own test in deploy-backup.test.ts).

import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from '../base/redis-server.ts';
import { tempDir } from './helpers/pipeline.ts';
import { BACKUP_SCRIPT, runScript, snapshots, writeParquet } from './helpers/deploy-backup.ts';

describe('backup retention: forget --keep-daily 7 over 10 simulated days (real restic)', () => {
  let dir: string;
  let redis: RedisServer;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = await tempDir('backup-retention');
    redis = await startRedisServer({ dir: join(dir, 'redis') });
    const parquet = join(dir, 'parquet');
    await writeParquet(parquet, 'posts', '2026-03-01', '00', 'b-1.parquet', 10);
    const manifest = join(dir, 'manifest-stub.sh');
    await writeFile(manifest, `#!/bin/sh\necho '{"posts":{"rows":10,"files":1}}'\n`);
    await chmod(manifest, 0o755);
    await mkdir(join(dir, 'app'));
    await writeFile(join(dir, 'restic-password'), 'retention-test-only\n', { mode: 0o600 });
    env = {
      RESTIC_REPOSITORY: join(dir, 'restic-repo'),
      RESTIC_PASSWORD_FILE: join(dir, 'restic-password'),
      RESTIC_CACHE_DIR: join(dir, 'restic-cache'),
      BPE_APP_DIR: join(dir, 'app'),
      BPE_STAGING_DIR: join(dir, 'staging'),
      BPE_TEXTFILE_DIR: join(dir, 'textfile'),
      BPE_PARQUET_DIR: parquet,
      BPE_REDIS_RDB: join(redis.dir, 'dump.rdb'),
      BPE_GRAFANA_DB: join(dir, 'no-grafana-yet.db'),
      BPE_AUDIT_PATHS: '',
      BPE_REDIS_CLI: `redis-cli -p ${redis.port}`,
      BPE_MANIFEST_CMD: manifest,
      BPE_BACKUP_HOST: 'test-host',
      // The whole repository is read back by `check` here: it is tiny.
      BPE_CHECK_SUBSET: '100%',
    };
  });
  afterAll(async () => {
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps the 7 most recent daily snapshots out of 10 days', async () => {
    for (let day = 1; day <= 10; day++) {
      const date = `2026-03-${String(day).padStart(2, '0')}`;
      // New data every day: each snapshot differs from the last.
      await writeParquet(env.BPE_PARQUET_DIR!, 'posts', date, '12', 'b-1.parquet', day);
      const result = await runScript(BACKUP_SCRIPT, { ...env, BPE_BACKUP_TIME: `${date} 03:15:00` });
      expect(result.code, result.stderr).toBe(0);
    }
    const kept = await snapshots(env);
    expect(kept.map((s) => s.time.slice(0, 10)).sort()).toEqual(['2026-03-04', '2026-03-05', '2026-03-06', '2026-03-07', '2026-03-08', '2026-03-09', '2026-03-10']);
  });
});
