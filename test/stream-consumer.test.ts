// The writer's commit keeps the Redis stream short: after every batch is
// acknowledged the stream holds (about) nothing, whatever the batch size. Trimming
// happens only in the commit, so a trim that falls behind grows the stream without
// bound, until the ingester's backpressure (on the stream's length) stops it for
// good: this was found by `npm run loadtest:capacity` (XTRIM with ~ alone evicts at
// most 10,000 entries a call) and is checked here against a real Redis.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { StreamConsumer, readBacklog } from '../services/writer/stream-consumer.ts';
import { startRedisServer } from '../base/redis-server.ts';
import { SHARED_REDIS_URL, clearPrefix, redisClient, redisKeys, removeDir, tempDir, uniquePrefix } from './helpers/pipeline.ts';

describe('StreamConsumer.commit trims the stream (real Redis)', () => {
  let redis: Redis;
  let blocking: Redis;
  const prefix = uniquePrefix('stream-consumer');
  const keys = redisKeys(prefix);

  beforeAll(() => {
    redis = redisClient(SHARED_REDIS_URL);
    blocking = redisClient(SHARED_REDIS_URL);
  });
  afterAll(async () => {
    await clearPrefix(redis, prefix);
    redis.disconnect();
    blocking.disconnect();
  });

  async function append(count: number): Promise<void> {
    for (let i = 0; i < count; i += 5000) {
      const pipeline = redis.pipeline();
      for (let j = i; j < Math.min(count, i + 5000); j++) pipeline.xadd(keys.stream, '*', 'e', `{"n":${j}}`);
      await pipeline.exec();
    }
  }

  it('batches far larger than one trim call used to evict leave no consumed entry behind', async () => {
    const token = 'lease-token';
    await redis.set(keys.writerLease, token);
    const consumer = new StreamConsumer(redis, blocking, keys, 'writer-test');
    await consumer.ensureGroup();
    for (const batchSize of [30_000, 50_000]) {
      await append(batchSize);
      const entries = await consumer.readNew(batchSize, 1000);
      expect(entries).toHaveLength(batchSize);
      const ids = entries.map((e) => e.id);
      await consumer.recordManifest(token, `batch-${batchSize}`, ids);
      expect(await consumer.commit(token, `batch-${batchSize}`, ids)).toBe(batchSize);
      // Approximate trimming keeps at most the last, partly consumed, node (stream-node-max-entries, 100).
      expect(await redis.xlen(keys.stream)).toBeLessThanOrEqual(100);
    }
    // Entries not yet delivered are never trimmed.
    await append(500);
    const [first] = await consumer.readNew(1, 1000);
    await consumer.recordManifest(token, 'one', [first!.id]);
    await consumer.commit(token, 'one', [first!.id]);
    expect(await redis.xlen(keys.stream)).toBeGreaterThanOrEqual(499);
    expect(await consumer.readNew(1000, 100)).toHaveLength(499);
  });
});

describe('readBacklog after Redis restarts from its AOF (a redis-server of its own, SIGKILL)', () => {
  it('counts undelivered entries exactly although Redis forgets the group\'s lag', async () => {
    const dir = await tempDir('backlog-aof');
    const server = await startRedisServer({ dir, appendfsync: 'always' });
    const keys = redisKeys('bpe');
    let redis = redisClient(server.url);
    let blocking = redisClient(server.url);
    try {
      const consumer = new StreamConsumer(redis, blocking, keys, 'writer-test');
      await consumer.ensureGroup();
      const pipeline = redis.pipeline();
      for (let i = 0; i < 1000; i++) pipeline.xadd(keys.stream, '*', 'e', `{"n":${i}}`);
      await pipeline.exec();
      await redis.set(keys.writerLease, 'token');
      const ids = (await consumer.readNew(750, 1000)).map((e) => e.id);
      await consumer.recordManifest('token', 'b', ids);
      await consumer.commit('token', 'b', ids);
      expect(await readBacklog(redis, keys)).toMatchObject({ pending: 0, undelivered: 250 });

      redis.disconnect();
      blocking.disconnect();
      await server.kill();
      await server.restart();
      redis = redisClient(server.url);
      blocking = redisClient(server.url);
      // Redis 7.0 loads the group without its read counter: XINFO says lag nil.
      const group = ((await redis.xinfo('GROUPS', keys.stream)) as unknown[][])[0]!;
      expect(group[group.indexOf('lag') + 1]).toBeNull();
      expect(await readBacklog(redis, keys)).toMatchObject({ pending: 0, undelivered: 250 });
      // Drained: 0 means 0.
      const rest = new StreamConsumer(redis, blocking, keys, 'writer-test');
      const restIds = (await rest.readNew(1000, 1000)).map((e) => e.id);
      await rest.recordManifest('token', 'c', restIds);
      await rest.commit('token', 'c', restIds);
      expect(await readBacklog(redis, keys)).toMatchObject({ pending: 0, undelivered: 0 });
    } finally {
      redis.disconnect();
      blocking.disconnect();
      await server.stop();
      await removeDir(dir);
    }
  });
});
