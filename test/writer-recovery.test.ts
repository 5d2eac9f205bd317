// The writer's delivery protocol under crashes: real writer processes killed with
// SIGKILL at exact points of a batch (failpoints) and at random moments; every
// event must end up stored exactly once.

import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import {
  SHARED_REDIS_URL,
  clearPrefix,
  redisClient,
  redisKeys,
  removeDir,
  startWriter,
  tempDir,
  uniquePrefix,
  waitForStored,
  waitUntil,
} from './helpers/pipeline.ts';
import type { ServiceProcess } from '../base/service-process.ts';
import { startRedisServer } from '../base/redis-server.ts';
import { startReplyCutter } from './helpers/reply-cutter.ts';
import type { JetstreamEvent } from '../services/shared/jetstream.ts';

const fixture = readFileSync(new URL('./fixtures/jetstream-production-sample.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => JSON.parse(line) as JetstreamEvent);

/** N distinct events shaped like the production sample: each copy gets its own rkey/seq and time. */
function syntheticEvents(count: number): string[] {
  const start = Date.now() * 1000;
  return Array.from({ length: count }, (_, i) => {
    const event = structuredClone(fixture[i % fixture.length]!);
    event.time_us = start + i * 100;
    const copy = Math.floor(i / fixture.length);
    if (event.kind === 'commit') event.commit.rkey = `${event.commit.rkey}x${copy}`;
    if (event.kind === 'identity') event.identity.seq += copy * 1000;
    if (event.kind === 'account') event.account.seq += copy * 1000;
    return JSON.stringify(event);
  });
}

async function addToStream(redis: Redis, stream: string, events: readonly string[]): Promise<void> {
  for (let i = 0; i < events.length; i += 500) {
    const pipeline = redis.pipeline();
    for (const event of events.slice(i, i + 500)) pipeline.xadd(stream, '*', 'e', event);
    await pipeline.exec();
  }
}

async function filesNamed(dir: string, name: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.filter((e) => e.endsWith(name));
}

describe('writer crash recovery (real processes, SIGKILL)', () => {
  let redis: Redis;
  const running: ServiceProcess[] = [];
  const dirs: string[] = [];
  const prefixes: string[] = [];

  beforeAll(() => {
    redis = redisClient(SHARED_REDIS_URL);
  });
  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop('SIGKILL')));
    for (const prefix of prefixes) await clearPrefix(redis, prefix);
    for (const dir of dirs) await removeDir(dir);
    redis.disconnect();
  });

  async function setup(name: string, events: readonly string[]) {
    const prefix = uniquePrefix(name);
    const dataDir = await tempDir(name);
    prefixes.push(prefix);
    dirs.push(dataDir);
    const keys = redisKeys(prefix);
    await addToStream(redis, keys.stream, events);
    const env = { redisUrl: SHARED_REDIS_URL, prefix, DATA_DIR: dataDir, BATCH_MAX_EVENTS: '1000', BATCH_MAX_AGE_MS: '200', LEASE_TTL_MS: '1500' };
    const launch = async (extra: Record<string, string> = {}) => {
      const writer = await startWriter({ ...env, ...extra });
      running.push(writer);
      return writer;
    };
    return { keys, dataDir, launch };
  }

  it.each(['after-manifest:2', 'after-files:3'])('killed at %s, a new writer finishes the batch exactly once', async (failpoint) => {
    const events = syntheticEvents(6000);
    const { keys, dataDir, launch } = await setup(failpoint.replace(':', '-'), events);

    const first = await launch({ WRITER_FAILPOINT: failpoint, WRITER_CONSUMER: 'writer-a' });
    const exit = await first.exited;
    expect(exit.signal).toBe('SIGKILL');

    // The dead writer left its batch's manifest behind, and for after-files its files too.
    const manifests = await redis.hgetall(keys.writerManifests);
    expect(Object.keys(manifests)).toHaveLength(1);
    const [batchId] = Object.keys(manifests);
    const leftovers = await filesNamed(dataDir, `b-${batchId}.parquet`);
    if (failpoint.startsWith('after-files')) expect(leftovers.length).toBeGreaterThan(0);
    else expect(leftovers).toHaveLength(0);

    // A writer with another name takes over once the lease expires and rebuilds that batch.
    const second = await launch({ WRITER_CONSUMER: 'writer-b' });
    await second.waitForLog('rebuilding an unfinished batch from its manifest');
    const report = await waitForStored(redis, keys, dataDir, () => events);
    expect(report).toMatchObject({ missing: 0, duplicates: 0, unexpected: 0, expected: events.length });
    expect(await redis.hlen(keys.writerManifests)).toBe(0);
    await second.stop();
  });

  it('a batch that fails is retried first, from its manifest, exactly once', async () => {
    const events = syntheticEvents(5000);
    const { keys, dataDir, launch } = await setup('fail-retry', events);
    const writer = await launch({ WRITER_FAILPOINT: 'fail-after-files:2', WRITER_CONSUMER: 'writer-f' });
    await writer.waitForLog('failpoint reached: failing the batch');
    await writer.waitForLog('rebuilding an unfinished batch from its manifest');
    const report = await waitForStored(redis, keys, dataDir, () => events);
    expect(report).toMatchObject({ missing: 0, duplicates: 0, unexpected: 0, expected: events.length });
    expect(await redis.hlen(keys.writerManifests)).toBe(0);
    expect(writer.running).toBe(true);
    await writer.stop();
  });

  it('survives repeated SIGKILLs at random moments', async () => {
    const events = syntheticEvents(20_000);
    const { keys, dataDir, launch } = await setup('chaos', events);
    let kills = 0;
    for (let round = 0; round < 4; round++) {
      const writer = await launch({ WRITER_CONSUMER: 'writer-chaos', LEASE_TTL_MS: '1000' });
      // Let it write a little (at least one batch), then kill it at a random point.
      await writer.waitForLog('batch written', 30_000);
      await new Promise((r) => setTimeout(r, Math.random() * 150));
      if (!writer.running) break;
      await writer.stop('SIGKILL');
      kills += 1;
    }
    expect(kills).toBeGreaterThan(0);
    const last = await launch({ WRITER_CONSUMER: 'writer-chaos', LEASE_TTL_MS: '1000' });
    const report = await waitForStored(redis, keys, dataDir, () => events);
    expect(report).toMatchObject({ missing: 0, duplicates: 0, unexpected: 0, expected: events.length });
    await last.stop();
  });

  // Redis can go away (or the network fail) after serving a command and before its reply
  // reaches the writer: a crash's rare timing, made deterministic by a proxy that loses
  // exactly that reply (test/helpers/reply-cutter.ts).
  describe('a reply lost with the connection', () => {
    const target = { host: new URL(SHARED_REDIS_URL).hostname, port: Number(new URL(SHARED_REDIS_URL).port || 6379) };

    it('of a read: the entries Redis delivered to the writer are reclaimed as soon as it reconnects, not a reclaim interval later', async () => {
      const events = syntheticEvents(3000);
      const { keys, dataDir, launch } = await setup('lost-read-reply', events);
      const cutter = await startReplyCutter(target, (reply, request) => /xreadgroup/i.test(request) && reply.includes(keys.stream));
      try {
        // A reclaim interval longer than the test: only the reclaim on reconnect can find the entries.
        const writer = await launch({ redisUrl: cutter.url, RECLAIM_INTERVAL_MS: '3600000' });
        await writer.waitForLog('claimed entries left pending without a manifest');
        const report = await waitForStored(redis, keys, dataDir, () => events);
        expect(report).toMatchObject({ missing: 0, duplicates: 0, unexpected: 0, expected: events.length });
        expect(cutter.cuts).toBe(1);
        await writer.stop();
      } finally {
        await cutter.close();
      }
    });

    it('of the lease acquisition: the writer finds the lease already its own instead of waiting out the TTL', async () => {
      const events = syntheticEvents(2000);
      const { keys, dataDir, launch } = await setup('lost-lease-reply', events);
      const cutter = await startReplyCutter(target, (reply, request) => request.includes(keys.writerLease) && reply === ':1\r\n');
      try {
        // A lease TTL longer than the test: waiting for the lost lease to expire would never end.
        const writer = await launch({ redisUrl: cutter.url, LEASE_TTL_MS: '600000' });
        await writer.waitForLog('writer lease acquired: recovering pending work');
        const report = await waitForStored(redis, keys, dataDir, () => events);
        expect(report).toMatchObject({ missing: 0, duplicates: 0, unexpected: 0, expected: events.length });
        expect(cutter.cuts).toBe(1);
        await writer.stop();
      } finally {
        await cutter.close();
      }
    });
  });

  it('the consumer group lost with Redis data (the stream made anew by appends): the writer recreates it and stores every event', async () => {
    // What a Redis killed right after the writer created the group leaves behind when the
    // creation never reached the AOF: the ingester's next appends make a stream without it.
    const events = syntheticEvents(4000);
    const { keys, dataDir, launch } = await setup('lost-group', events.slice(0, 2000));
    const writer = await launch();
    await waitForStored(redis, keys, dataDir, () => events.slice(0, 2000));
    await redis.del(keys.stream);
    await addToStream(redis, keys.stream, events.slice(2000));
    await writer.waitForLog('the consumer group is missing: recreating it from the first entry of the stream');
    const report = await waitForStored(redis, keys, dataDir, () => events);
    expect(report).toMatchObject({ missing: 0, duplicates: 0, unexpected: 0, expected: events.length });
    await writer.stop();
  });

  it('SIGTERM while Redis is gone: the writer gives up within its shutdown grace, exits non-zero, and the next writer rebuilds the batch from its manifest exactly once', async () => {
    const dir = await tempDir('writer-stop-redis');
    dirs.push(dir);
    const server = await startRedisServer({ dir });
    const own = redisClient(server.url);
    try {
      const events = syntheticEvents(3000);
      const prefix = uniquePrefix('stop-redis-gone');
      const keys = redisKeys(prefix);
      const dataDir = await tempDir('stop-redis-gone');
      dirs.push(dataDir);
      await addToStream(own, keys.stream, events);
      // The production shutdown grace and lease TTL: the writer must give up on Redis before its grace runs out.
      const env = { redisUrl: server.url, prefix, DATA_DIR: dataDir, BATCH_MAX_EVENTS: '1000' };
      // The first batch's manifest is recorded and its files written; then Redis goes away.
      const writer = await startWriter({ ...env, WRITER_FAILPOINT: 'hold-after-files:1' });
      running.push(writer);
      await writer.waitForLog('failpoint reached: holding the batch until stopped');
      await server.stop();
      const exit = await writer.stop('SIGTERM');
      expect(exit.code).toBe(1);
      const gaveUp = await writer.waitForLog('stopping without finishing the batch in hand: it stays pending for the next leader (with its manifest if recorded)');
      expect(gaveUp.reason).toMatch(/^redis did not answer within \d+ ms$/);
      expect(writer.lines.some((l) => l.includes('graceful shutdown overran its grace period'))).toBe(false);

      await server.restart();
      expect(await own.hlen(keys.writerManifests)).toBe(1);
      const next = await startWriter(env);
      running.push(next);
      await next.waitForLog('rebuilding an unfinished batch from its manifest');
      const report = await waitForStored(own, keys, dataDir, () => events);
      expect(report).toMatchObject({ missing: 0, duplicates: 0, unexpected: 0, expected: events.length });
      await next.stop();
    } finally {
      own.disconnect();
      await server.stop();
    }
  });

  it('a standby takes over when the leader stops, and SIGTERM loses nothing', async () => {
    const events = syntheticEvents(3000);
    const { keys, dataDir, launch } = await setup('standby', events);
    const leader = await launch({ WRITER_CONSUMER: 'writer-1', BATCH_MAX_EVENTS: '500' });
    await leader.waitForLog('writer lease acquired: recovering pending work');
    const standby = await launch({ WRITER_CONSUMER: 'writer-2', BATCH_MAX_EVENTS: '500' });
    await leader.waitForLog('batch written');
    await leader.stop('SIGTERM');
    await standby.waitForLog('writer lease acquired: recovering pending work');
    const report = await waitForStored(redis, keys, dataDir, () => events);
    expect(report).toMatchObject({ missing: 0, duplicates: 0, unexpected: 0 });
    await waitUntil(async () => (await redis.get(keys.writerLease)) !== null, 'standby to hold the lease');
    await standby.stop();
  });
});
