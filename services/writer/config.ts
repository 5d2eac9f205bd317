import { hostname } from 'node:os';
import { z } from 'zod';
import { commonSchema, redisSchema, shutdownSchema } from '../shared/config.ts';
import { env, loadConfig } from '../../base/config.ts';

export const writerSchema = z.object({
  ...commonSchema,
  ...redisSchema,
  ...shutdownSchema(8),
  DATA_DIR: env.string('root directory of the Parquet store').default('./.data/parquet'),
  WRITER_CONSUMER: env
    .string('consumer name in the stream consumer group; keep it stable across restarts of the same writer')
    .regex(/^[a-zA-Z0-9_.:-]{1,128}$/, 'letters, digits, _ . : - only')
    .default(`writer-${hostname()}`),
  BATCH_MAX_EVENTS: env.int('a batch is written once it holds this many events', 1, 1_000_000).default(20_000),
  BATCH_MAX_AGE_MS: env.int('... or once its first event waited this long (ms)', 10).default(30_000),
  LEASE_TTL_MS: env.int('single-active-writer lease duration (ms); a standby takes over this long after the leader dies', 1000).default(15_000),
  RECLAIM_INTERVAL_MS: env.int('how often the leader looks for entries left pending by a dead writer (ms)', 1000).default(60_000),
  COMPACTION_INTERVAL_MS: env.int('how often closed hours are looked at for compaction (ms)', 1000).default(60_000),
  COMPACTION_GRACE_MINUTES: env.int('an hour partition is closed, and compacted, this long after it ends', 0, 24 * 60).default(10),
  RETENTION_DAYS: env.int('delete partitions older than this many days; unset = keep everything', 1).optional(),
  DUCKDB_MEMORY_LIMIT: env.string('DuckDB memory limit for staging and compaction').regex(/^\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)$/i, 'e.g. 1GB').default('1GB'),
  DUCKDB_THREADS: env.int('DuckDB worker threads', 1, 64).default(2),
  STORE_SAMPLE_SECONDS: env.int('how often the files and bytes of the store are measured for metrics', 1, 3600).default(60),
  DEAD_LETTER_MAXLEN: env.int('approximate number of dead letters kept (oldest trimmed first)', 100).default(100_000),
  WRITER_FAILPOINT: env
    .string('TESTS ONLY: <point>:<n> makes the writer SIGKILL itself (after-manifest, after-files), fail once (fail-after-files) or wait until stopped (hold-after-files) at that point of its n-th batch')
    .regex(/^(after-manifest|after-files|fail-after-files|hold-after-files):[1-9]\d*$/, 'after-manifest:N, after-files:N, fail-after-files:N or hold-after-files:N')
    .optional(),
  HEALTH_HOST: env.string('address of the /healthz and /readyz server').default('127.0.0.1'),
  HEALTH_PORT: env.port('port of the /healthz and /readyz server (0 = any free port)').default(9102),
});

export type WriterConfig = z.output<typeof writerSchema>;

export function loadWriterConfig(environment: NodeJS.ProcessEnv = process.env): WriterConfig {
  return loadConfig('writer', writerSchema, environment);
}
