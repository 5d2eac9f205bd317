// The replay server: an HTTP server whose /subscribe endpoint speaks Jetstream
// v1 over WebSocket, fed by a shared timeline of released events. GET /stats
// reports what was released and sent (for integrity checks), GET /healthz says
// it is up. Used by load tests, integration tests and `npm start`.

import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { EventGenerator, type MixName } from './generator.ts';
import { NdjsonSource } from './ndjson-source.ts';
import { Pacer, type Spike } from './pacer.ts';
import { ProtocolError, parseSubscribeRequest, type SubscribeRequest } from './protocol.ts';
import type { EventSource } from './source.ts';
import { Subscription, type DropReason, type SubscriptionContext } from './subscriber.ts';
import { Timeline, type ReleaseStats } from './timeline.ts';

export type { Spike } from './pacer.ts';
export type { ReleaseStats } from './timeline.ts';
export type { DropReason } from './subscriber.ts';

export interface ReplayServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: an ephemeral port (read it from `port` / `url`). */
  port?: number;

  // Source: the seeded generator unless `file` (or a custom `source`) is given.
  seed?: number;
  mix?: MixName;
  /** Share of generated events replaced by invalid frames (0..1). */
  invalidRatio?: number;
  /** Generator account pool size. */
  accounts?: number;
  /** NDJSON file to replay instead of generating. */
  file?: string;
  /** With `file`: keep each line's original time_us instead of the release time. */
  keepTime?: boolean;
  /** Any other source (tests). */
  source?: EventSource;

  /** Events per second; 0 = as fast as subscribers consume. Default 500. */
  rate?: number;
  /** Stop releasing after this many events (the server keeps serving). */
  total?: number;
  spike?: Spike;
  /** Start with releases paused (resume() starts them). */
  paused?: boolean;

  /** Wanted events a blocked live subscriber may fall behind before it is dropped (Jetstream: 10,000); 0 = never. */
  outboxLimit?: number;
  /** Terminate every connection after it has sent this many events (fault injection); 0 = never. */
  dropEvery?: number;
  /** A subscriber's socket buffer above which its pump waits for a drain. Default 1 MiB. */
  highWaterMarkBytes?: number;
  /** Recent frames kept in memory; older ones are rebuilt from the source. Default 65,536. */
  frameCacheSize?: number;
  /** rate 0: how far releases may run ahead of the fastest subscriber. Default min(4096, outboxLimit / 2). */
  lead?: number;
  /** WebSocket pings to every subscriber, as Jetstream does every 30 s. 0 = none. */
  pingIntervalMs?: number;
  /** Connection events (opened, dropped, refused) are reported here. */
  logger?: { info(fields: object, message: string): void; warn(fields: object, message: string): void };
}

export interface ReplayStats extends ReleaseStats {
  source: string;
  /** Configured rate right now (spike included); 0 = on demand. */
  rate: number;
  paused: boolean;
  /** Nothing more will be released (total reached or file replayed). */
  exhausted: boolean;
  uptimeSeconds: number;
  connections: {
    open: number;
    accepted: number;
    /** Refused before the upgrade (HTTP 400 / 404). */
    rejected: number;
    optionsUpdates: number;
    dropped: Record<DropReason, number>;
  };
  /** Frames written to subscribers, all connections together. */
  framesSent: number;
  bytesSent: number;
}

export interface ReplayServer {
  /** ws://HOST:PORT/subscribe */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  stats(): ReplayStats;
  /** Number of events released so far. */
  releasedCount(): number;
  /** The exact text sent for released event i (0-based). */
  releasedEvent(index: number): string;
  /** The time_us the timeline holds for event i (what cursors are compared with). */
  releasedTimeUs(index: number): number;
  /** Terminates every open connection without a close frame; returns how many. */
  dropConnections(): number;
  pause(): void;
  resume(): void;
  /**
   * Resolves once n events are released; rejects if n is beyond `total` or the
   * file. With rate 0 this is also a demand: it releases up to n.
   */
  whenReleased(count: number): Promise<void>;
  close(): Promise<void>;
}

async function createSource(options: ReplayServerOptions): Promise<EventSource> {
  if (options.source) return options.source;
  if (options.file) return NdjsonSource.load(options.file, { keepTime: options.keepTime ?? false });
  return new EventGenerator({ seed: options.seed, mix: options.mix, invalidRatio: options.invalidRatio, accounts: options.accounts });
}

function nonNegativeInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${name} must be an integer >= 0, got ${value}`);
  return value;
}

export async function startReplayServer(options: ReplayServerOptions = {}): Promise<ReplayServer> {
  const host = options.host ?? '127.0.0.1';
  const outboxLimit = nonNegativeInteger('outboxLimit', options.outboxLimit ?? 10_000);
  const dropEvery = nonNegativeInteger('dropEvery', options.dropEvery ?? 0);
  const lead = options.lead ?? Math.max(1, Math.min(4096, outboxLimit > 0 ? Math.floor(outboxLimit / 2) : 4096));
  const source = await createSource(options);
  const timeline = new Timeline(source, { total: options.total, cacheSize: options.frameCacheSize });
  const pacer = new Pacer(timeline, { rate: options.rate ?? 500, spike: options.spike, lead, paused: options.paused });
  const log = options.logger;
  const startedAt = performance.now();

  const subscriptions = new Set<Subscription>();
  const counters = {
    accepted: 0,
    rejected: 0,
    optionsUpdates: 0,
    dropped: { outbox: 0, drop_every: 0, manual: 0, invalid_message: 0 } satisfies Record<DropReason, number>,
    framesSent: 0,
    bytesSent: 0,
  };

  const context: SubscriptionContext = {
    timeline,
    pacer,
    highWaterMarkBytes: options.highWaterMarkBytes ?? 1_048_576,
    outboxLimit,
    dropEvery,
    onSent(bytes) {
      counters.framesSent += 1;
      counters.bytesSent += bytes;
    },
    onDrop(subscription, reason, detail) {
      counters.dropped[reason] += 1;
      log?.warn({ reason, detail, sent: subscription.sent, position: subscription.position, head: timeline.released }, 'subscriber dropped');
    },
    onOptionsUpdate() {
      counters.optionsUpdates += 1;
    },
    onClose(subscription) {
      subscriptions.delete(subscription);
    },
  };

  timeline.onRelease(() => {
    for (const subscription of subscriptions) subscription.onRelease();
  });

  const stats = (): ReplayStats => ({
    ...timeline.stats(),
    source: source.name,
    rate: pacer.currentRate(),
    paused: pacer.paused,
    exhausted: timeline.exhausted,
    uptimeSeconds: Math.round((performance.now() - startedAt) / 100) / 10,
    connections: {
      open: subscriptions.size,
      accepted: counters.accepted,
      rejected: counters.rejected,
      optionsUpdates: counters.optionsUpdates,
      dropped: { ...counters.dropped },
    },
    framesSent: counters.framesSent,
    bytesSent: counters.bytesSent,
  });

  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 10 * 1024 * 1024 });

  function validate(req: IncomingMessage): { url: URL; request?: SubscribeRequest; error?: { status: number; message: string } } {
    const url = new URL(req.url ?? '/', 'http://replay.invalid');
    if (url.pathname !== '/subscribe') return { url, error: { status: 404, message: `not found: ${url.pathname} (subscribe at /subscribe)` } };
    try {
      return { url, request: parseSubscribeRequest(url.searchParams, req.headers) };
    } catch (error) {
      if (error instanceof ProtocolError) return { url, error: { status: 400, message: error.message } };
      throw error;
    }
  }

  const http = createServer({ maxHeaderSize: 1024 * 1024 }, (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://replay.invalid');
    const reply = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) }).end(body);
    };
    if (req.method === 'GET' && url.pathname === '/healthz') return reply(200, 'ok\n');
    if (req.method === 'GET' && url.pathname === '/stats') return reply(200, `${JSON.stringify(stats())}\n`, 'application/json');
    const { error } = validate(req);
    counters.rejected += 1;
    if (error) return reply(error.status, `${error.message}\n`);
    reply(400, 'Bad Request: /subscribe expects a WebSocket upgrade\n');
  });

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    const { request, error } = validate(req);
    if (!request) {
      counters.rejected += 1;
      const status = error?.status ?? 400;
      const body = `${error?.message ?? 'bad request'}\n`;
      log?.info({ status, reason: error?.message }, 'subscription refused');
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      counters.accepted += 1;
      const subscription = new Subscription(ws, context, request);
      subscriptions.add(subscription);
      log?.info(
        { cursor: request.cursor, from: subscription.position, head: timeline.released, requireHello: request.requireHello },
        'subscriber connected',
      );
    });
  });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const port = (http.address() as AddressInfo).port;
  pacer.start();

  const pingIntervalMs = options.pingIntervalMs ?? 30_000;
  const pinger =
    pingIntervalMs > 0
      ? setInterval(() => {
          for (const subscription of subscriptions) subscription.socket.ping();
        }, pingIntervalMs)
      : undefined;
  pinger?.unref();

  let closing: Promise<void> | undefined;
  const hostInUrl = host.includes(':') ? `[${host}]` : host;

  return {
    url: `ws://${hostInUrl}:${port}/subscribe`,
    port,
    host,
    stats,
    releasedCount: () => timeline.released,
    releasedEvent: (index) => timeline.text(index),
    releasedTimeUs: (index) => timeline.timeOf(index),
    dropConnections() {
      const open = [...subscriptions];
      for (const subscription of open) subscription.drop('manual');
      return open.length;
    },
    pause: () => pacer.pause(),
    resume: () => pacer.resume(),
    whenReleased(count) {
      const done = timeline.whenReleased(count);
      pacer.demand(count);
      return done;
    },
    close() {
      closing ??= (async () => {
        pacer.stop();
        timeline.close();
        clearInterval(pinger);
        // A clean shutdown: close frames first, then cut whoever does not answer.
        const open = [...subscriptions].map((s) => s.socket);
        const closed = Promise.all(open.map((ws) => new Promise((resolve) => (ws.readyState === ws.CLOSED ? resolve(undefined) : ws.once('close', resolve)))));
        for (const ws of open) ws.close(1001, 'replay server shutting down');
        await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
        for (const ws of open) ws.terminate();
        wss.close();
        http.closeAllConnections();
        await new Promise<void>((resolve) => http.close(() => resolve()));
      })();
      return closing;
    },
  };
}
