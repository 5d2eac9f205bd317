import { z } from 'zod';
import { commonSchema, env, loadConfig, redisSchema } from '../shared/config.ts';

export const apiSchema = z
  .object({
    ...commonSchema,
    ...redisSchema,
    API_HOST: env.string('address the API listens on').default('127.0.0.1'),
    API_PORT: env.port('port the API listens on').default(3000),
    DATA_DIR: env.string('root directory of the Parquet store (read only for the API)').default('./.data/parquet'),
    SEARCH_DEFAULT_WINDOW_HOURS: env.int('window searched when start/end are not given, ending now', 1, 24 * 366).default(24),
    SEARCH_MAX_WINDOW_DAYS: env.int('longest start..end window a search, export or stats query may cover', 1, 3660).default(31),
    SEARCH_DEFAULT_LIMIT: env.int('results per page when limit is not given', 1).default(50),
    SEARCH_MAX_LIMIT: env.int('largest page a client may ask for (the old design capped results at 1000 rows)', 1, 100_000).default(1000),
    EXPORT_MAX_ROWS: env.int('most rows one export streams', 1).default(1_000_000),
    QUERY_TIMEOUT_MS: env.int('a query running longer is cancelled and answered 503', 1).default(10_000),
    EXPORT_TIMEOUT_MS: env.int('an export running longer is cut off', 1000).default(300_000),
    MAX_CONCURRENT_QUERIES: env.int('queries run at once; more wait in a queue', 1, 64).default(4),
    QUEUE_TIMEOUT_MS: env.int('how long a query may wait for a slot before a 503 with Retry-After', 0).default(2000),
    MAX_QUEUED_QUERIES: env.int('queries allowed to wait; beyond that a 503 at once', 0).default(64),
    CACHE_TTL_SECONDS: env.int('seconds identical search and stats answers are cached in Redis (0 = off)', 0, 3600).default(15),
    SIDE_TABLE_REFRESH_MS: env.int('how often deleted-post and handle tables are refreshed from the store', 100).default(5000),
    DUCKDB_MEMORY_LIMIT: env.string('DuckDB memory limit').regex(/^\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)$/i, 'e.g. 2GB').default('2GB'),
    DUCKDB_THREADS: env.int('DuckDB worker threads', 1, 64).default(2),
  })
  .refine((c) => c.SEARCH_DEFAULT_LIMIT <= c.SEARCH_MAX_LIMIT, { path: ['SEARCH_DEFAULT_LIMIT'], message: 'must not exceed SEARCH_MAX_LIMIT' });

export type ApiConfig = z.output<typeof apiSchema>;

export function loadApiConfig(environment: NodeJS.ProcessEnv = process.env): ApiConfig {
  return loadConfig('api', apiSchema, environment);
}
