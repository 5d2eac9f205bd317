// The writer's commit keeps the Redis stream short: after every batch is
// acknowledged the stream holds (about) nothing, whatever the batch size. Trimming
// happens only in the commit, so a trim that falls behind grows the stream without
// bound, until the ingester's backpressure (on the stream's length) stops it for
// good: this was found by `npm run loadtest:capacity` (XTRIM with ~ alone evicts at
// most 10,000 entries a call) and is checked here against a real Redis.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { StreamConsumer } from '../services/writer/stream-consumer.ts';
import { SHARED_REDIS_URL, clearPrefix, redisClient, redisKeys, uniquePrefix } from './helpers/pipeline.ts';

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
