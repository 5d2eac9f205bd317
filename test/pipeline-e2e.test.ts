// End to end, with real parts: the replay server (Jetstream's protocol), the
// ingester and the writer as separate processes, Redis, DuckDB and Parquet.
// Every test ends with the same check: each valid event sent is stored exactly
// once, in the table it belongs to.

import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { startReplayServer, type ReplayServer, type ReplayServerOptions } from '../loadtest/jetstream-replay/server.ts';
import { startRedisServer, type RedisServer } from '../base/redis-server.ts';
import { freePort } from '../base/ports.ts';
import type { ServiceProcess } from '../base/service-process.ts';
import {
  SHARED_REDIS_URL,
  clearPrefix,
  redisClient,
  redisKeys,
  removeDir,
  startIngester,
  startWriter,
  tempDir,
  uniquePrefix,
  waitForStored,
  waitUntil,
} from './helpers/pipeline.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/jetstream-production-sample.jsonl', import.meta.url));

interface Pipeline {
  replay: ReplayServer;
  redis: Redis;
  redisUrl: string;
  prefix: string;
  dataDir: string;
  ingester: ServiceProcess;
  writer: ServiceProcess | undefined;
  sent: () => string[];
}

describe('pipeline end to end (replay -> ingester -> Redis -> writer -> Parquet)', { timeout: 300_000 }, () => {
  const cleanups: (() => Promise<void>)[] = [];
  let shared: Redis;

  beforeAll(() => {
    shared = redisClient(SHARED_REDIS_URL);
  });
  /** Services of the running test, whose last log lines a failure prints. */
  const services: ServiceProcess[] = [];
  afterEach(async (context) => {
    if (context.task.result?.state === 'fail') {
      for (const service of services) console.error(`--- ${service.options.name} (last lines)\n${service.lines.slice(-40).join('\n')}`);
    }
    services.length = 0;
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });
  afterAll(() => {
    shared.disconnect();
  });

  async function pipeline(
    name: string,
    options: {
      replay: ReplayServerOptions;
      redisUrl?: string;
      ingesterEnv?: Record<string, string>;
      writerEnv?: Record<string, string>;
      startWriter?: boolean;
      jetstreamUrls?: (replayUrl: string) => string;
    },
  ): Promise<Pipeline> {
    const redisUrl = options.redisUrl ?? SHARED_REDIS_URL;
    const redis = redisUrl === SHARED_REDIS_URL ? shared : redisClient(redisUrl);
    const prefix = uniquePrefix(name);
    const dataDir = await tempDir(name);
    const replay = await startReplayServer({ outboxLimit: 0, ...options.replay });
    cleanups.push(async () => {
      await replay.close();
      await clearPrefix(redis, prefix).catch(() => undefined);
      if (redis !== shared) redis.disconnect();
      await removeDir(dataDir);
    });
    const ingester = await startIngester({
      redisUrl,
      prefix,
      JETSTREAM_URL: options.jetstreamUrls ? options.jetstreamUrls(replay.url) : replay.url,
      ...options.ingesterEnv,
    });
    cleanups.push(async () => void (await ingester.stop('SIGKILL')));
    services.push(ingester);
    const writerEnv = { redisUrl, prefix, DATA_DIR: dataDir, BATCH_MAX_EVENTS: '10000', BATCH_MAX_AGE_MS: '500', ...options.writerEnv };
    const writer = options.startWriter === false ? undefined : await startWriter(writerEnv);
    if (writer) {
      cleanups.push(async () => void (await writer.stop('SIGKILL')));
      services.push(writer);
    }
    return {
      replay,
      redis,
      redisUrl,
      prefix,
      dataDir,
      ingester,
      writer,
      sent: () => Array.from({ length: replay.releasedCount() }, (_, i) => replay.releasedEvent(i)),
    };
  }

  it('100,000 seeded events arrive exactly once, each in its table', async () => {
    const total = 100_000;
    const p = await pipeline('e2e', { replay: { seed: 2026, rate: 0, total } });
    await p.replay.whenReleased(total);
    const report = await waitForStored(p.redis, redisKeys(p.prefix), p.dataDir, p.sent, 180_000);
    expect(report.expected).toBe(total);
    expect(report).toMatchObject({ stored: total, missing: 0, duplicates: 0, unexpected: 0 });
    // The plan mix reaches every table.
    for (const table of ['posts', 'likes', 'reposts', 'follows', 'blocks', 'profiles', 'deletes', 'identities', 'accounts', 'other'] as const) {
      expect(report.tables[table]?.stored ?? 0, table).toBeGreaterThan(0);
    }
  });

  it('the 152 real production events are all stored', async () => {
    const p = await pipeline('fixture', { replay: { file: FIXTURE, keepTime: true, rate: 0 } });
    await p.replay.whenReleased(152);
    const report = await waitForStored(p.redis, redisKeys(p.prefix), p.dataDir, p.sent);
    expect(report).toMatchObject({ expected: 152, stored: 152, missing: 0, duplicates: 0, unexpected: 0 });
  });

  it('connections dropped mid-stream (and a dead first URL) leave no gap and no duplicate', async () => {
    const total = 30_000;
    const deadPort = await freePort();
    const p = await pipeline('drops', {
      replay: { seed: 7, rate: 0, total, dropEvery: 4_000 },
      jetstreamUrls: (url) => `ws://127.0.0.1:${deadPort}/subscribe,${url}`,
    });
    // Abrupt drops at arbitrary moments, on top of the every-4,000-events drops.
    for (let i = 0; i < 3; i++) {
      await p.replay.whenReleased(Math.floor((total * (i + 1)) / 4));
      p.replay.dropConnections();
    }
    await p.replay.whenReleased(total);
    const report = await waitForStored(p.redis, redisKeys(p.prefix), p.dataDir, p.sent, 180_000);
    expect(report).toMatchObject({ expected: total, missing: 0, duplicates: 0, unexpected: 0 });
    expect(p.replay.stats().connections.accepted).toBeGreaterThan(5);
    // Reconnects rewound the cursor, so the ingester saw replayed events and dropped them.
    await p.ingester.waitForLog('connected to jetstream');
  });

  it('malformed and oversized events go to the dead-letter stream; the valid ones are stored exactly once', async () => {
    const total = 20_000;
    const p = await pipeline('invalid', { replay: { seed: 11, rate: 0, total, invalidRatio: 0.02 } });
    await p.replay.whenReleased(total);
    const invalid = p.replay.stats().invalid;
    expect(invalid).toBeGreaterThan(200);
    const report = await waitForStored(p.redis, redisKeys(p.prefix), p.dataDir, p.sent, 120_000);
    expect(report).toMatchObject({ expected: total - invalid, missing: 0, duplicates: 0, unexpected: 0 });
    const keys = redisKeys(p.prefix);
    await waitUntil(async () => (await p.redis.xlen(keys.deadLetter)) === invalid, 'every invalid event to be dead-lettered');
    const reasons = new Set<string>();
    for (const [, fields] of await p.redis.xrange(keys.deadLetter, '-', '+')) reasons.add(fields[fields.indexOf('reason') + 1]!);
    expect(reasons).toContain('invalid_json');
    expect(reasons).toContain('oversized');
    expect(reasons).toContain('unknown_kind');
    expect(p.ingester.running).toBe(true);
  });

  describe('Redis restarts (a redis-server with AOF started by the test)', () => {
    let server: RedisServer | undefined;
    let dir: string | undefined;
    afterEach(async () => {
      await server?.stop();
      if (dir) await removeDir(dir);
    });

    it.each([
      ['restarted gracefully (SIGTERM)', 'everysec' as const, 'stop' as const],
      ['killed (SIGKILL) with appendfsync always', 'always' as const, 'kill' as const],
    ])('%s mid-stream: nothing lost, nothing duplicated', async (_name, appendfsync, how) => {
      dir = await tempDir('redis');
      server = await startRedisServer({ dir, appendfsync });
      const total = 30_000;
      const p = await pipeline('redis-restart', { replay: { seed: 5, rate: 3000, total }, redisUrl: server.url });
      await p.replay.whenReleased(total / 3);
      await (how === 'stop' ? server.stop() : server.kill());
      await new Promise((r) => setTimeout(r, 1500)); // both services see Redis gone
      await server.restart();
      await p.replay.whenReleased(total);
      const report = await waitForStored(p.redis, redisKeys(p.prefix), p.dataDir, p.sent, 180_000);
      expect(report).toMatchObject({ expected: total, missing: 0, duplicates: 0, unexpected: 0 });
      expect(p.ingester.running && p.writer?.running).toBe(true);
    });
  });

  it('backpressure: with the writer stopped the stream stays bounded, the ingester pauses, then resumes and loses nothing', async () => {
    const total = 20_000;
    const highWater = 3_000;
    const p = await pipeline('backpressure', {
      replay: { seed: 3, rate: 0, total, outboxLimit: 2_000 },
      startWriter: false,
      ingesterEnv: { BACKLOG_HIGH_WATER: String(highWater), BACKLOG_LOW_WATER: '1000', PAUSED_DISCONNECT_SECONDS: '1', BATCH_MAX_EVENTS: '200' },
    });
    const keys = redisKeys(p.prefix);
    await p.ingester.waitForLog('backpressure: pausing the jetstream socket');
    // While paused, the buffer does not grow past the high-water mark plus one batch in flight.
    let peak = 0;
    for (let i = 0; i < 8; i++) {
      peak = Math.max(peak, await p.redis.xlen(keys.stream));
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(peak).toBeGreaterThanOrEqual(highWater);
    expect(peak).toBeLessThanOrEqual(highWater + 200);
    expect(p.replay.releasedCount()).toBeLessThan(total);

    const writer = await startWriter({ redisUrl: p.redisUrl, prefix: p.prefix, DATA_DIR: p.dataDir, BATCH_MAX_EVENTS: '2000', BATCH_MAX_AGE_MS: '300' });
    cleanups.push(async () => void (await writer.stop('SIGKILL')));
    services.push(writer);
    await p.ingester.waitForLog('backpressure released: resuming');
    await p.replay.whenReleased(total);
    const report = await waitForStored(p.redis, keys, p.dataDir, p.sent, 180_000);
    expect(report).toMatchObject({ expected: total, missing: 0, duplicates: 0, unexpected: 0 });
  });
});
