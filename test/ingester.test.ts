// The ingester against a hand-made Jetstream stand-in, for what the replay server
// cannot send: binary frames, invalid UTF-8, and a connection that goes silent
// without closing (Jetstream drops slow subscribers that way).

import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import { SHARED_REDIS_URL, clearPrefix, redisClient, redisKeys, startIngester, uniquePrefix, waitUntil } from './helpers/pipeline.ts';
import type { ServiceProcess } from '../base/service-process.ts';

function event(i: number): string {
  return JSON.stringify({
    did: 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa',
    time_us: 1_783_175_888_000_000 + i,
    kind: 'commit',
    commit: { rev: `3mptbypluud${i}`, operation: 'create', collection: 'app.bsky.feed.like', rkey: `3mptbyplj5d${i}`, record: { $type: 'app.bsky.feed.like' }, cid: 'bafyrei' },
  });
}

describe('ingester edge cases (against a minimal Jetstream stand-in)', { timeout: 60_000 }, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });

  async function standIn(onConnection: (socket: WebSocket, url: string) => void) {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', path: '/subscribe' });
    await new Promise((resolve) => server.once('listening', resolve));
    const urls: string[] = [];
    server.on('connection', (socket, request) => {
      urls.push(request.url ?? '');
      onConnection(socket, request.url ?? '');
    });
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/subscribe`, urls };
  }

  async function ingester(url: string, env: Record<string, string> = {}): Promise<{ process: ServiceProcess; prefix: string }> {
    const prefix = uniquePrefix('ingester');
    const process = await startIngester({ redisUrl: SHARED_REDIS_URL, prefix, JETSTREAM_URL: url, ...env });
    const redis = redisClient(SHARED_REDIS_URL);
    cleanups.push(async () => {
      await process.stop('SIGKILL');
      await clearPrefix(redis, prefix);
      redis.disconnect();
    });
    return { process, prefix };
  }

  it('dead-letters binary frames and invalid UTF-8, stores the rest, and keeps running', async () => {
    const { url } = await standIn((socket) => {
      socket.send(event(1));
      socket.send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x7d]), { binary: false }); // not UTF-8
      socket.send(Buffer.from('{"compressed":true}'), { binary: true });
      socket.send(event(2));
    });
    const { process, prefix } = await ingester(url);
    const redis = redisClient(SHARED_REDIS_URL);
    cleanups.push(async () => redis.disconnect());
    const keys = redisKeys(prefix);
    await waitUntil(async () => (await redis.xlen(keys.stream)) === 2 && (await redis.xlen(keys.deadLetter)) === 2, 'two stored, two dead letters');
    const reasons = (await redis.xrange(keys.deadLetter, '-', '+')).map(([, f]) => f[f.indexOf('reason') + 1]);
    expect(reasons.sort()).toEqual(['binary_frame', 'invalid_utf8']);
    expect(process.running).toBe(true);
  });

  it('replaces a connection that goes silent, resuming from the stored cursor with the rewind', async () => {
    let connections = 0;
    const { url, urls } = await standIn((socket) => {
      connections += 1;
      if (connections === 1) for (let i = 0; i < 5; i++) socket.send(event(i)); // then silence, socket left open
      else for (let i = 0; i < 10; i++) socket.send(event(i)); // a replay that overlaps the stored events
    });
    const { prefix } = await ingester(url, { READ_TIMEOUT_SECONDS: '1', CURSOR_REWIND_SECONDS: '3' });
    const redis = redisClient(SHARED_REDIS_URL);
    cleanups.push(async () => redis.disconnect());
    const keys = redisKeys(prefix);
    await waitUntil(async () => (await redis.xlen(keys.stream)) === 10, 'the ten distinct events, once each', 30_000);
    expect(connections).toBeGreaterThanOrEqual(2);
    const cursor = new URL(urls[1]!, 'ws://x').searchParams.get('cursor');
    expect(Number(cursor)).toBe(1_783_175_888_000_004 - 3_000_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(await redis.xlen(keys.stream)).toBe(10);
  });
});
