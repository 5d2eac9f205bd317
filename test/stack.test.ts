// `npm start` (tools/stack/start.ts): the local stack comes up on its own Redis
// with AOF, data lands in Parquet, and Ctrl-C stops it without losing an event:
// every event the ingester put in the stream is either stored once or still
// waiting in the (persisted) stream for the next start.

import { afterAll, describe, expect, it } from 'vitest';
import { ServiceProcess } from '../base/service-process.ts';
import { freePort } from '../base/ports.ts';
import { startRedisServer, type RedisServer } from '../base/redis-server.ts';
import { openDuckDB } from '../services/shared/duckdb.ts';
import { redisKeys } from '../services/shared/redis-keys.ts';
import { eventKey, parseJetstreamEvent } from '../services/shared/jetstream.ts';
import { storedKeys } from '../loadtest/lib/integrity.ts';
import { redisClient, removeDir, tempDir, waitUntil } from './helpers/pipeline.ts';
import { join } from 'node:path';
import { existsSync } from 'node:fs';

describe('npm start: the local stack', { timeout: 180_000 }, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('runs replay -> ingester -> writer on its own Redis and stops on Ctrl-C losing nothing', async () => {
    const dataRoot = await tempDir('stack');
    cleanups.push(() => removeDir(dataRoot));
    const redisPort = await freePort();
    const stack = new ServiceProcess({
      name: 'stack',
      script: 'tools/stack/start.ts',
      args: ['--data-dir', dataRoot, '--rate', '2000', '--seed', '99'],
      env: { STACK_REDIS_PORT: String(redisPort), REPLAY_PORT: String(await freePort()), HEALTH_PORT: '0', METRICS_PORT: '0', API_PORT: '0', BATCH_MAX_AGE_MS: '1000', REDIS_URL: undefined },
    });
    cleanups.push(() => stack.stop('SIGKILL'));
    await stack.waitForLine((l) => l.includes('Ctrl-C stops everything'), 60_000);
    expect(stack.lines.some((l) => l.includes('DEMO DATA'))).toBe(true);
    await stack.waitForLine((l) => l.includes('[writer]') && l.includes('batch written'), 60_000);
    // The API serves what the writer wrote.
    const apiUrl = /API\s+(http:\/\/\S+)\/docs/.exec(stack.lines.find((l) => l.includes('[stack] API')) ?? '')?.[1];
    expect(apiUrl).toBeDefined();
    // npm start makes a local demo key and says so.
    const key = /LOCAL DEMO API KEY: (\S+)/.exec(stack.lines.find((l) => l.includes('LOCAL DEMO API KEY')) ?? '')?.[1];
    expect(key).toMatch(/^bpe_/);
    expect((await fetch(`${apiUrl}/v1/search?limit=1`)).status).toBe(401);
    await waitUntil(async () => {
      const response = await fetch(`${apiUrl}/v1/search?limit=1`, { headers: { authorization: `Bearer ${key}` } });
      const body = (await response.json()) as { results: unknown[] };
      return response.status === 200 && body.results.length === 1;
    }, 'the API to find a post');
    await new Promise((r) => setTimeout(r, 1500)); // traffic in flight at the moment of Ctrl-C

    const exit = await stack.stop('SIGINT');
    expect(exit.code).toBe(0);
    expect(stack.lines.some((l) => l.includes('[stack] stopped'))).toBe(true);
    expect(existsSync(join(dataRoot, 'redis'))).toBe(true);

    // Reopen the stack's Redis from its append-only file and account for every event.
    const redisServer: RedisServer = await startRedisServer({ dir: join(dataRoot, 'redis'), port: redisPort });
    cleanups.push(() => redisServer.stop());
    const redis = redisClient(redisServer.url);
    cleanups.push(async () => redis.disconnect());
    const keys = redisKeys('bpe');
    const info = (await redis.xinfo('STREAM', keys.stream)) as unknown[];
    const added = Number(info[info.indexOf('entries-added') + 1]);
    const group = ((await redis.xinfo('GROUPS', keys.stream)) as unknown[][])[0]!;
    const lastDelivered = String(group[group.indexOf('last-delivered-id') + 1]);
    const pending = Number(group[group.indexOf('pending') + 1]);
    const waiting = (await redis.xrange(keys.stream, `(${lastDelivered}`, '+')).map(([, fields]) => {
      const parsed = parseJetstreamEvent(fields[1]!, 1 << 20);
      if (!parsed.ok) throw new Error('stream entry is not an event');
      return eventKey(parsed.event);
    });

    const { instance, connection } = await openDuckDB();
    const stored = [...(await storedKeys(connection, join(dataRoot, 'parquet'))).values()].flat();
    connection.closeSync();
    instance.closeSync();

    expect(added).toBeGreaterThan(1000);
    expect(pending).toBe(0); // the writer finished its batch before exiting
    expect(new Set(stored).size).toBe(stored.length); // no duplicates
    const storedSet = new Set(stored);
    expect(waiting.filter((k) => storedSet.has(k))).toEqual([]); // nothing both stored and waiting
    expect(stored.length + waiting.length).toBe(added); // nothing lost
    await waitUntil(async () => (await redis.ping()) === 'PONG', 'redis');
  });
});
