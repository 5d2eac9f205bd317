// The Jetstream replay server over real loopback sockets: filters, cursors,
// subscriber messages, rate control, slow-subscriber drops, fault injection and
// the NDJSON source on the production fixture. Assertions are on counts and
// content, never on how fast something happened.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startReplayServer, type ReplayServer, type ReplayServerOptions } from '../loadtest/jetstream-replay/server.ts';
import { expectedEvents } from '../loadtest/lib/integrity.ts';

// The production sample (identical to /work/shared/fixtures/jetstream/production-sample-2026-07.jsonl).
const FIXTURE_PATH = fileURLToPath(new URL('./fixtures/jetstream-production-sample.jsonl', import.meta.url));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil(condition: () => boolean, what: () => string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await sleep(10);
  }
}

const servers: ReplayServer[] = [];
const clients: Client[] = [];
const tempDirs: string[] = [];

async function start(options: ReplayServerOptions): Promise<ReplayServer> {
  const server = await startReplayServer({ pingIntervalMs: 0, ...options });
  servers.push(server);
  return server;
}

afterEach(async () => {
  for (const client of clients.splice(0)) client.ws.terminate();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** A Jetstream subscriber that records every frame. */
class Client {
  readonly ws: WebSocket;
  readonly frames: string[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  binaryFrames = 0;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    clients.push(this);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.opened.catch(() => undefined);
    this.closed = new Promise((resolve) => this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    this.ws.on('error', () => undefined);
    this.ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) this.binaryFrames += 1;
      this.frames.push(data.toString('utf8'));
    });
  }

  async waitFor(count: number, timeoutMs = 10_000): Promise<string[]> {
    await waitUntil(() => this.frames.length >= count, () => `${count} frames (received ${this.frames.length})`, timeoutMs);
    return this.frames;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }
}

function history(server: ReplayServer, from = 0, to = server.releasedCount()): string[] {
  const frames: string[] = [];
  for (let i = from; i < to; i++) frames.push(server.releasedEvent(i));
  return frames;
}

interface Facts {
  did?: string;
  kind?: string;
  collection?: string;
}

function facts(text: string): Facts {
  try {
    const value = JSON.parse(text) as { did?: unknown; kind?: unknown; commit?: { collection?: unknown } };
    return {
      did: typeof value.did === 'string' ? value.did : undefined,
      kind: typeof value.kind === 'string' ? value.kind : undefined,
      collection: value.kind === 'commit' && typeof value.commit?.collection === 'string' ? value.commit.collection : undefined,
    };
  } catch {
    return {};
  }
}

/** Jetstream's rule: identity and account events (no collection) bypass wantedCollections. */
const byCollections = (wanted: (collection: string) => boolean) => (text: string) => {
  const { collection } = facts(text);
  return collection === undefined || wanted(collection);
};

describe('replay server: protocol', () => {
  it('filters by exact and prefix wantedCollections, wantedDids and maxMessageSizeBytes, replaying from cursor 0', async () => {
    const server = await start({ rate: 0, total: 3_000, seed: 4, mix: 'plan' });
    await server.whenReleased(3_000);
    const all = history(server);
    expect(all).toHaveLength(3_000);
    const identity = all.find((text) => facts(text).kind === 'identity')!;
    const account = all.find((text) => facts(text).kind === 'account')!;
    const poster = facts(all.find((text) => facts(text).collection === 'app.bsky.feed.post')!).did!;
    const dids = [facts(identity).did!, facts(account).did!, poster];

    const cases: { query: string; keep: (text: string) => boolean }[] = [
      { query: '', keep: () => true },
      {
        query: 'wantedCollections=app.bsky.feed.post&wantedCollections=app.bsky.graph.follow',
        keep: byCollections((c) => c === 'app.bsky.feed.post' || c === 'app.bsky.graph.follow'),
      },
      { query: 'wantedCollections=app.bsky.graph.*', keep: byCollections((c) => c.startsWith('app.bsky.graph.')) },
      { query: 'wantedCollections=app.bsky.*', keep: byCollections((c) => c.startsWith('app.bsky.')) },
      { query: dids.map((d) => `wantedDids=${d}`).join('&'), keep: (text) => dids.includes(facts(text).did!) },
      {
        query: `wantedCollections=app.bsky.feed.like&wantedDids=${dids.join('&wantedDids=')}`,
        keep: (text) => dids.includes(facts(text).did!) && byCollections((c) => c === 'app.bsky.feed.like')(text),
      },
      { query: 'maxMessageSizeBytes=450', keep: (text) => Buffer.byteLength(text) <= 450 },
      { query: 'maxMessageSizeBytes=-5', keep: () => true },
    ];
    const subscribers = cases.map(({ query, keep }) => ({ client: new Client(`${server.url}?cursor=0&${query}`), expected: all.filter(keep), query }));
    for (const { client, expected } of subscribers) await client.waitFor(expected.length);
    await sleep(100); // nothing more may arrive: the total is reached
    for (const { client, expected, query } of subscribers) {
      expect(client.frames, query).toEqual(expected);
      expect(client.binaryFrames).toBe(0);
    }
    // The filters really filtered, and identity/account went through the collection filters.
    const graph = subscribers[2]!;
    expect(graph.expected.length).toBeLessThan(all.length);
    expect(graph.client.frames).toContain(identity);
    expect(graph.client.frames).toContain(account);
    expect(subscribers[3]!.expected.length).toBeLessThan(all.length); // fm.teal.* is outside app.bsky.*
    expect(subscribers[4]!.client.frames.length).toBeGreaterThan(2);
    expect(subscribers[6]!.expected.length).toBeLessThan(all.length);
  });

  it('refuses invalid parameters with HTTP 400 and a plain-text reason, before the upgrade', async () => {
    const server = await start({ rate: 100 });
    const base = server.url.replace('ws://', 'http://');
    const tooManyCollections = Array.from({ length: 101 }, (_, i) => `wantedCollections=com.example.c${i}`).join('&');
    const tooManyDids = Array.from({ length: 10_001 }, (_, i) => `wantedDids=did:plc:${String(i).padStart(24, 'a')}`).join('&');
    const cases: [string, RegExp][] = [
      ['wantedCollections=app.bsky.graph.fo*', /invalid collection: app\.bsky\.graph\.fo\*/],
      ['wantedCollections=*', /invalid collection/],
      ['wantedCollections=not%20an%20nsid', /invalid collection/],
      ['wantedCollections=bad..prefix.*', /invalid collection prefix/],
      [tooManyCollections, /too many wanted collections/],
      ['wantedDids=not-a-did', /invalid did/],
      [tooManyDids, /too many wanted DIDs/],
      ['cursor=abc', /invalid cursor: abc/],
      ['cursor=1.5', /invalid cursor/],
      ['compress=true', /compression is not supported/],
    ];
    for (const [query, reason] of cases) {
      const response = await fetch(`${base}?${query}`);
      expect(response.status, query.slice(0, 60)).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await response.text()).toMatch(reason);
    }
    // The same answer through a real WebSocket handshake, and a zstd Socket-Encoding header.
    for (const [url, headers] of [
      [`${server.url}?wantedCollections=app.bsky.graph.fo*`, {}],
      [server.url, { 'Socket-Encoding': 'zstd' }],
    ] as const) {
      const refused = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const ws = new WebSocket(url, { headers });
        ws.on('open', () => reject(new Error('upgrade should have been refused')));
        ws.on('error', () => undefined);
        ws.on('unexpected-response', (_req, res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
      });
      expect(refused.status).toBe(400);
      expect(refused.body.length).toBeGreaterThan(10);
    }
    expect((await fetch(`${base.replace('/subscribe', '/nope')}`)).status).toBe(404);
    // Lenient where Jetstream is lenient: a bad maxMessageSizeBytes means no limit, requireHello=yes means false.
    const ok = new Client(`${server.url}?maxMessageSizeBytes=lots&requireHello=yes&wantedCollections=app.bsky.feed.*&cursor=`);
    await ok.opened;
    expect(server.stats().connections.rejected).toBeGreaterThanOrEqual(cases.length + 3);
  });

  it('replays from a cursor in the middle (inclusive), then live-tails with no gap and no duplicate', async () => {
    const server = await start({ rate: 3_000, total: 6_000, seed: 6 });
    await server.whenReleased(2_500);
    const from = 1_000;
    const replaying = new Client(`${server.url}?cursor=${server.releasedTimeUs(from)}`);
    const older = new Client(`${server.url}?cursor=1`); // older than the history: from its start
    await replaying.opened;
    const headAtConnect = server.releasedCount();
    const future = new Client(`${server.url}?cursor=${Date.now() * 1000 + 3_600_000_000}`); // future: live tail
    const live = new Client(server.url);
    await Promise.all([future.opened, live.opened]);

    await replaying.waitFor(6_000 - from);
    await older.waitFor(6_000);
    await sleep(50);
    expect(headAtConnect).toBeLessThan(6_000); // the replay really crossed into live events
    expect(replaying.frames).toEqual(history(server, from, 6_000));
    expect(JSON.parse(replaying.frames[0]!)).toMatchObject({ time_us: server.releasedTimeUs(from) });
    expect(older.frames).toEqual(history(server));
    // Strictly increasing time_us on one connection.
    const times = replaying.frames.map((text) => (JSON.parse(text) as { time_us: number }).time_us);
    expect(times.every((t, i) => i === 0 || t > times[i - 1]!)).toBe(true);

    // Live tails start at the head they connected to.
    for (const client of [future, live]) {
      expect(client.frames.length).toBeGreaterThan(0);
      const first = history(server).indexOf(client.frames[0]!);
      expect(first).toBeGreaterThanOrEqual(headAtConnect);
      expect(client.frames).toEqual(history(server, first, 6_000));
    }
  });

  it('applies options_update, ignores unknown message types, and disconnects on an invalid update', async () => {
    const server = await start({ rate: 0, total: 2_000, seed: 7, paused: true });
    const client = new Client(`${server.url}?wantedCollections=app.bsky.feed.like`);
    await client.opened;
    client.send({ type: 'some_future_message', payload: { anything: true } });
    client.send({ type: 'options_update', payload: { wantedCollections: ['app.bsky.graph.follow'], wantedDids: [], maxMessageSizeBytes: 0 } });
    await waitUntil(() => server.stats().connections.optionsUpdates === 1, () => 'the options update to be applied');
    server.resume();
    await server.whenReleased(2_000);
    const expected = history(server).filter(byCollections((c) => c === 'app.bsky.graph.follow'));
    await client.waitFor(expected.length);
    await sleep(50);
    expect(client.frames).toEqual(expected);

    client.send({ type: 'options_update', payload: { wantedCollections: ['app.bsky.graph.fo*'] } });
    const closed = await client.closed;
    expect(closed.code).toBe(1000);
    expect(closed.reason).toMatch(/invalid collection/);

    for (const bad of ['not json', JSON.stringify({ type: 'options_update' }), JSON.stringify({ type: 'options_update', payload: { wantedDids: 'did:plc:x' } })]) {
      const other = new Client(server.url);
      await other.opened;
      other.send(bad);
      expect((await other.closed).code, bad).toBe(1000);
    }
    expect(server.stats().connections.dropped.invalid_message).toBe(4);
  });

  it('sends nothing before the hello when requireHello=true, then replays with the hello filters', async () => {
    const server = await start({ rate: 0, total: 1_500, seed: 8 });
    await server.whenReleased(1_500);
    const client = new Client(`${server.url}?cursor=0&requireHello=true`);
    await client.opened;
    await sleep(300);
    expect(client.frames).toHaveLength(0);
    client.send({ type: 'options_update', payload: { wantedCollections: ['app.bsky.feed.post'] } });
    const expected = history(server).filter(byCollections((c) => c === 'app.bsky.feed.post'));
    await client.waitFor(expected.length);
    await sleep(50);
    expect(client.frames).toEqual(expected);
  });
});

describe('replay server: release control', () => {
  it('honours the rate, pause/resume and a spike window (counts, with slack)', async () => {
    const t0 = performance.now();
    const server = await start({ rate: 400, total: 1_000_000 });
    await sleep(600);
    let elapsed = (performance.now() - t0) / 1000;
    const released = server.releasedCount();
    expect(released).toBeLessThanOrEqual(Math.ceil(400 * elapsed) + 5);
    expect(released).toBeGreaterThan(50);

    server.pause();
    const paused = server.releasedCount();
    await sleep(200);
    expect(server.releasedCount()).toBe(paused);
    expect(server.stats().paused).toBe(true);
    server.resume();
    await waitUntil(() => server.releasedCount() > paused, () => 'releases after resume');
    // Resuming gives no credit for the paused time.
    elapsed = (performance.now() - t0) / 1000;
    expect(server.releasedCount()).toBeLessThanOrEqual(Math.ceil(400 * (elapsed - 0.2)) + 5);

    const s0 = performance.now();
    const spiky = await start({ rate: 100, total: 1_000_000, spike: { factor: 10, atSeconds: 0, durationSeconds: 0.5 } });
    await sleep(800);
    const spikeElapsed = (performance.now() - s0) / 1000;
    const bound = 1_000 * Math.min(spikeElapsed, 0.5) + 100 * Math.max(0, spikeElapsed - 0.5) + 5;
    expect(spiky.releasedCount()).toBeLessThanOrEqual(Math.ceil(bound));
    expect(spiky.releasedCount()).toBeGreaterThan(150); // clearly above the 100/s base
  });

  it('stops at total, rejects whenReleased beyond it, and keeps serving the history', async () => {
    const server = await start({ rate: 0, total: 700, seed: 10, invalidRatio: 0.02, frameCacheSize: 100 });
    const live = new Client(server.url);
    await live.waitFor(700);
    await sleep(100);
    expect(server.releasedCount()).toBe(700);
    expect(server.stats()).toMatchObject({ total: 700, exhausted: true });
    await expect(server.whenReleased(701)).rejects.toThrow(/only 700 events/);
    await server.whenReleased(700);
    // Frames older than the 100-frame cache are rebuilt, byte for byte.
    expect(live.frames).toEqual(history(server));
    const replay = new Client(`${server.url}?cursor=0`);
    await replay.waitFor(700);
    expect(replay.frames).toEqual(live.frames);

    // The released history gives the expected stored set (what integrity checks compare with).
    const stats = server.stats();
    const expected = expectedEvents(history(server));
    expect(expected.valid).toBe(stats.valid);
    expect(expected.invalid).toBe(stats.invalid);
    expect(stats.invalid).toBeGreaterThan(0);
    expect(stats.valid + stats.invalid).toBe(700);
    expect(Object.values(stats.byKind).reduce((a, b) => a + b, 0)).toBe(stats.valid);
    expect(stats.framesSent).toBe(1_400);

    const base = server.url.replace('ws://', 'http://').replace('/subscribe', '');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const viaHttp = (await (await fetch(`${base}/stats`)).json()) as { total: number; byCollection: Record<string, number>; connections: { open: number } };
    expect(viaHttp.total).toBe(700);
    expect(viaHttp.byCollection['app.bsky.feed.like']).toBe(stats.byCollection['app.bsky.feed.like']);
    expect(viaHttp.connections.open).toBe(2);
  });
});

describe('replay server: slow subscribers and faults', () => {
  it('drops a live subscriber that stops reading once it is outboxLimit events behind, without a close frame', async () => {
    const server = await start({ rate: 20_000, total: 400_000, outboxLimit: 500, highWaterMarkBytes: 16_384, seed: 12 });
    const slow = new Client(server.url);
    const fast = new Client(server.url);
    await Promise.all([slow.opened, fast.opened]);
    slow.ws.pause(); // stop reading: the socket backs up
    await waitUntil(() => server.stats().connections.dropped.outbox >= 1, () => `the slow subscriber to be dropped (${JSON.stringify(server.stats().connections)})`, 20_000);
    slow.ws.resume();
    const closed = await slow.closed;
    expect(closed.code).toBe(1006); // abnormal closure: no close frame
    expect(server.stats().connections.dropped.outbox).toBe(1);
    expect(fast.ws.readyState).toBe(WebSocket.OPEN);
    expect(fast.frames.length).toBeGreaterThan(500);
    expect(server.stats().connections.open).toBe(1);
  });

  it('dropConnections() and dropEvery cut connections abruptly; a cursor resumes where it stopped', async () => {
    const server = await start({ rate: 200 });
    const a = new Client(server.url);
    const b = new Client(server.url);
    await Promise.all([a.opened, b.opened]);
    expect(server.dropConnections()).toBe(2);
    expect((await a.closed).code).toBe(1006);
    expect((await b.closed).code).toBe(1006);
    expect(server.stats().connections.dropped.manual).toBe(2);

    const dropping = await start({ rate: 0, total: 1_000, dropEvery: 100, seed: 13 });
    await dropping.whenReleased(1_000);
    const first = new Client(`${dropping.url}?cursor=0`);
    expect((await first.closed).code).toBe(1006);
    expect(first.frames).toEqual(history(dropping, 0, 100));
    const second = new Client(`${dropping.url}?cursor=${dropping.releasedTimeUs(100)}`);
    expect((await second.closed).code).toBe(1006);
    expect(second.frames).toEqual(history(dropping, 100, 200));
    expect(dropping.stats().connections.dropped.drop_every).toBe(2);
  });
});

describe('replay server: NDJSON source', () => {
  const lines = readFileSync(FIXTURE_PATH, 'utf8').trim().split('\n');

  it('replays the production fixture: all 152 lines, in order, restamped with increasing time_us', async () => {
    expect(lines).toHaveLength(152);
    const server = await start({ file: FIXTURE_PATH, rate: 0 });
    const client = new Client(server.url);
    await client.waitFor(152);
    await sleep(50);
    expect(client.frames).toHaveLength(152);
    const times = client.frames.map((text) => (JSON.parse(text) as { time_us: number }).time_us);
    client.frames.forEach((frame, i) => expect(frame).toBe(lines[i]!.replace(/"time_us":\d+/, `"time_us":${times[i]}`)));
    expect(times.every((t, i) => i === 0 || t > times[i - 1]!)).toBe(true);
    expect(server.stats()).toMatchObject({ total: 152, valid: 152, invalid: 0, exhausted: true });
    expect(server.stats().byCollection['app.bsky.feed.like']).toBe(105);
    expect(server.stats().byKind).toMatchObject({ identity: 1, account: 1 });
    // A cursor works against the restamped times.
    const replay = new Client(`${server.url}?cursor=${times[100]}&wantedCollections=app.bsky.feed.post`);
    const expected = client.frames.slice(100).filter(byCollections((c) => c === 'app.bsky.feed.post'));
    await replay.waitFor(expected.length);
    expect(replay.frames).toEqual(expected);
  });

  it('keeps original times with keepTime and sends invalid lines exactly as they are', async () => {
    const kept = await start({ file: FIXTURE_PATH, rate: 0, keepTime: true });
    const client = new Client(kept.url);
    await client.waitFor(152);
    expect(client.frames).toEqual(lines);

    const dir = mkdtempSync(join(tmpdir(), 'replay-ndjson-'));
    tempDirs.push(dir);
    const file = join(dir, 'mixed.ndjson');
    const raw = [lines[0]!, '{"did":"did:plc:abc","time_us":', lines[1]!, '{"did":"did:plc:abc","time_us":1,"kind":"sync"}', '', lines[2]!];
    writeFileSync(file, `${raw.join('\r\n')}\n`);
    const mixed = await start({ file, rate: 1_000 });
    const reader = new Client(`${mixed.url}?cursor=0`);
    await reader.waitFor(5);
    expect(reader.frames[1]).toBe(raw[1]);
    expect(reader.frames[3]).toBe(raw[3]);
    expect(mixed.stats()).toMatchObject({ total: 5, valid: 3, invalid: 2, invalidByType: { invalid_json: 1, unknown_kind: 1 } });
  });
});
