import { z } from 'zod';
import { commonSchema, redisSchema, shutdownSchema } from '../shared/config.ts';
import { env, loadConfig } from '../../base/config.ts';

export const ingesterSchema = z
  .object({
    ...commonSchema,
    ...redisSchema,
    ...shutdownSchema(8),
    JETSTREAM_URL: env
      .list('')
      .pipe(z.array(z.url({ protocol: /^wss?$/ })).min(1, 'at least one URL'))
      .default(['wss://jetstream1.us-east.bsky.network/subscribe', 'wss://jetstream2.us-east.bsky.network/subscribe'])
      .describe('Jetstream subscribe URLs, comma-separated, tried in order with failover (ws:// or wss://, path /subscribe)'),
    JETSTREAM_WANTED_COLLECTIONS: env
      .list('wantedCollections filter (NSIDs or prefixes like app.bsky.feed.*); empty = every collection')
      .default([]),
    JETSTREAM_INITIAL_CURSOR: env
      .int('cursor (unix µs) for the very first connection, before any cursor was saved; 0 = the oldest replayable event; unset = live tail')
      .optional(),
    CURSOR_REWIND_SECONDS: env.int('seconds subtracted from the saved cursor on reconnect, so the replay->live cutover leaves no gap', 0, 3600).default(5),
    DEDUP_WINDOW_SECONDS: env
      .int('how long (in event time, below the cursor) event keys are remembered to drop replayed events; must cover the rewind', 1, 86_400)
      .default(60),
    BATCH_MAX_EVENTS: env.int('events per Redis round trip (one atomic script call)', 1, 10_000).default(500),
    BATCH_LINGER_MS: env.int('longest wait before a partial batch is written to Redis', 0, 10_000).default(20),
    BACKLOG_HIGH_WATER: env.int('stream length at which the ingester stops reading the socket', 1).default(1_000_000),
    BACKLOG_LOW_WATER: env.int('stream length under which a paused ingester resumes', 0).default(500_000),
    MAX_EVENT_BYTES: env.int('largest event accepted; larger ones are dead-lettered', 1024).default(1_048_576),
    DEAD_LETTER_MAXLEN: env.int('approximate number of dead letters kept (oldest trimmed first)', 100).default(100_000),
    READ_TIMEOUT_SECONDS: env.int('a connection silent this long is considered stale and replaced', 1, 3600).default(30),
    PAUSED_DISCONNECT_SECONDS: env
      .int('a connection paused by backpressure this long is closed; it reopens from the cursor on resume', 1, 3600)
      .default(20),
    RECONNECT_BASE_MS: env.int('first reconnect delay ceiling (exponential backoff with full jitter)', 1).default(500),
    RECONNECT_MAX_MS: env.int('largest reconnect delay ceiling', 1).default(30_000),
    HEALTH_HOST: env.string('address of the /healthz and /readyz server').default('127.0.0.1'),
    HEALTH_PORT: env.port('port of the /healthz and /readyz server (0 = any free port)').default(9101),
  })
  .refine((c) => c.BACKLOG_LOW_WATER < c.BACKLOG_HIGH_WATER, { path: ['BACKLOG_LOW_WATER'], message: 'must be below BACKLOG_HIGH_WATER' })
  .refine((c) => c.DEDUP_WINDOW_SECONDS > c.CURSOR_REWIND_SECONDS, { path: ['DEDUP_WINDOW_SECONDS'], message: 'must exceed CURSOR_REWIND_SECONDS' });

export type IngesterConfig = z.output<typeof ingesterSchema>;

export function loadIngesterConfig(environment: NodeJS.ProcessEnv = process.env): IngesterConfig {
  return loadConfig('ingester', ingesterSchema, environment);
}
