import { z } from 'zod';
import { auditSchema, commonSchema, redisSchema, shutdownSchema } from '../shared/config.ts';
import { env, loadConfig } from '../../base/config.ts';

export const apiSchema = z
  .object({
    ...commonSchema,
    ...redisSchema,
    ...shutdownSchema(25),
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
    // ---- security (services/api/README.md, "Security") ----
    API_AUTH: z
      .enum(['required', 'off'])
      .default('required')
      .describe('required: /v1 routes need an API key (npm run keys); off: no authentication (a local experiment only)'),
    API_KEY_CACHE_MS: env
      .int('how long a valid key is trusted without asking Redis again; a revoked key stops working within this time in every API process', 0, 60_000)
      .default(2000),
    CORS_ORIGINS: env
      .list('browser origins allowed to call the API (CORS), comma-separated, e.g. https://explorer.example.org; empty = none')
      .pipe(z.array(z.url({ protocol: /^https?$/ })))
      .default([]),
    TRUST_PROXY_HOPS: env
      .int('reverse proxies in front of the API whose X-Forwarded-For is trusted for the client address (1 behind Caddy; 0 when clients connect directly)', 0, 5)
      .default(0),
    RATE_LIMIT_IP_MAX: env.int('requests one client address may make per RATE_LIMIT_IP_WINDOW_SECONDS (all routes but health)', 1).default(300),
    RATE_LIMIT_IP_WINDOW_SECONDS: env.int('window of the per-address limit', 1, 86_400).default(60),
    RATE_LIMIT_KEY_MAX: env.int('requests one API key may make per RATE_LIMIT_KEY_WINDOW_SECONDS', 1).default(120),
    RATE_LIMIT_KEY_WINDOW_SECONDS: env.int('window of the per-key limit', 1, 86_400).default(60),
    RATE_LIMIT_EXPORT_MAX: env.int('exports one API key may start per RATE_LIMIT_EXPORT_WINDOW_SECONDS', 1).default(10),
    RATE_LIMIT_EXPORT_WINDOW_SECONDS: env.int('window of the export limit', 1, 86_400).default(600),
    BODY_LIMIT_BYTES: env.int('largest request body accepted (the API reads none: 413 beyond this)', 0, 10_485_760).default(16_384),
    MAX_HEADER_BYTES: env.int('largest request head (request line and headers) accepted; 431 beyond this', 1024, 65_536).default(8192),
    REQUEST_TIMEOUT_MS: env.int('time a client has to send a whole request (slow clients are cut off with a 408)', 1000, 600_000).default(30_000),
    ...auditSchema,
    AUDIT_DEPLOYS_LOG: env
      .string('deploys.log written by npm run deploy on the host (mounted read-only); each new line becomes a deploy entry of the audit trail')
      .optional(),
  })
  .refine((c) => c.SEARCH_DEFAULT_LIMIT <= c.SEARCH_MAX_LIMIT, { path: ['SEARCH_DEFAULT_LIMIT'], message: 'must not exceed SEARCH_MAX_LIMIT' });

export type ApiConfig = z.output<typeof apiSchema>;

export function loadApiConfig(environment: NodeJS.ProcessEnv = process.env): ApiConfig {
  return loadConfig('api', apiSchema, environment);
}
