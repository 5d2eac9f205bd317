// Shared plumbing of the integration tests: unique Redis prefixes and data
// directories, the services as real child processes, polling, and the
// exactly-once check against the Parquet store.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { openDuckDB } from '../../services/shared/duckdb.ts';
import { redisKeys, type RedisKeys } from '../../services/shared/redis-keys.ts';
import { ServiceProcess } from '../../base/service-process.ts';
import { readBacklog, type StreamBacklog } from '../../services/writer/stream-consumer.ts';
import { compareKeys, expectedEvents, storedKeys, type IntegrityReport } from '../../loadtest/lib/integrity.ts';

export const SHARED_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function uniquePrefix(name: string): string {
  return `test-${name}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

export async function tempDir(name: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `bpe-${name}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export function redisClient(url: string): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: (n) => Math.min(n * 100, 1000) });
  client.on('error', () => undefined);
  return client;
}

/** Deletes every key of a test prefix. */
export async function clearPrefix(redis: Redis, prefix: string): Promise<void> {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
}

export interface ServiceEnv {
  redisUrl: string;
  prefix: string;
  [key: string]: string | undefined;
}

function serviceEnv({ redisUrl, prefix, ...rest }: ServiceEnv): Record<string, string | undefined> {
  return { REDIS_URL: redisUrl, REDIS_PREFIX: prefix, HEALTH_PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'info', ...rest };
}

export async function startWriter(env: ServiceEnv & { DATA_DIR: string }): Promise<ServiceProcess> {
  const writer = new ServiceProcess({ name: 'writer', script: 'services/writer/main.ts', env: serviceEnv(env) });
  await writer.waitForLog('writer started');
  return writer;
}

export async function startIngester(env: ServiceEnv & { JETSTREAM_URL: string }): Promise<ServiceProcess> {
  const ingester = new ServiceProcess({
    name: 'ingester',
    script: 'services/ingester/main.ts',
    env: serviceEnv({ JETSTREAM_INITIAL_CURSOR: '0', RECONNECT_BASE_MS: '50', RECONNECT_MAX_MS: '500', ...env }),
  });
  await ingester.waitForLog('ingester started');
  return ingester;
}

export async function startApi(env: ServiceEnv & { DATA_DIR: string }): Promise<ServiceProcess> {
  const api = new ServiceProcess({ name: 'api', script: 'services/api/main.ts', env: serviceEnv({ API_PORT: '0', ...env }) });
  await api.waitForLog('api started');
  return api;
}

/** A port a service logged at start-up (healthPort, metricsPort, port). */
export async function loggedPort(service: ServiceProcess, startedMessage: string, field: string): Promise<number> {
  const line = await service.waitForLog(startedMessage);
  const port = Number(line[field]);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`${service.options.name} logged no ${field}`);
  return port;
}

export async function waitUntil<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 60_000, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError instanceof Error ? `: ${lastError.message}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Compares the store with the events a source sent. */
export async function checkIntegrity(dataDir: string, sentFrames: Iterable<string>): Promise<IntegrityReport> {
  const { instance, connection } = await openDuckDB({ threads: 2 });
  try {
    return compareKeys(expectedEvents(sentFrames), await storedKeys(connection, dataDir));
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/**
 * Polls until every sent event is stored and the stream is fully consumed, then
 * returns the final comparison (which may still show duplicates: callers assert).
 */
export async function waitForStored(
  redis: Redis,
  keys: RedisKeys,
  dataDir: string,
  sentFrames: () => Iterable<string>,
  timeoutMs = 120_000,
): Promise<IntegrityReport> {
  let last: IntegrityReport | undefined;
  let backlog: StreamBacklog | undefined;
  try {
    return await waitUntil(
      async () => {
        backlog = await readBacklog(redis, keys);
        if (backlog.pending > 0 || backlog.undelivered !== 0) return undefined;
        last = await checkIntegrity(dataDir, sentFrames());
        return last.missing === 0 ? last : undefined;
      },
      'every sent event to be stored',
      timeoutMs,
      500,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; last backlog: ${JSON.stringify(backlog)}; last check: ${JSON.stringify(last)}`, { cause: error });
  }
}

export { redisKeys };

/** The figures a CLI prints: the last line of its output that parses as a JSON object. */
export function lastJson(lines: readonly string[]): Record<string, unknown> {
  for (const line of [...lines].reverse()) {
    if (!line.startsWith('{')) continue;
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      // a log line that merely starts with a brace
    }
  }
  throw new Error(`no JSON line in the output:\n${lines.slice(-20).join('\n')}`);
}
