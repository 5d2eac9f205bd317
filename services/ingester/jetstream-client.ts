// One Jetstream subscription kept alive: fails over between URLs, reconnects with
// backoff and jitter, resumes from a cursor supplied at each connect, replaces
// stale sockets, and can be paused (stop reading; after a while, disconnect).
// It knows nothing about Redis: the ingester decides what a frame means.

import WebSocket, { type RawData } from 'ws';
import { Backoff, sleep } from '../shared/backoff.ts';
import type { Logger } from '../shared/logger.ts';

export interface JetstreamClientOptions {
  urls: readonly string[];
  wantedCollections: readonly string[];
  /** Called before every connect; returns the cursor to resume from (µs) or undefined for live tail. */
  resumeCursor: () => Promise<number | undefined>;
  /** Every frame as received; text frames are not decoded here (UTF-8 validity is the caller's check). */
  onFrame: (data: Buffer, isBinary: boolean) => void;
  onConnectionChange?: (connected: boolean) => void;
  readTimeoutMs: number;
  pausedDisconnectMs: number;
  reconnectBaseMs: number;
  reconnectMaxMs: number;
  logger: Logger;
}

/**
 * A connection that delivered frames this long, or this many frames, was healthy:
 * the next failure starts the backoff afresh and stays on the same URL.
 */
const HEALTHY_AFTER_MS = 10_000;
const HEALTHY_AFTER_FRAMES = 1_000;

export function subscribeUrl(base: string, wantedCollections: readonly string[], cursor: number | undefined): string {
  const url = new URL(base);
  for (const collection of wantedCollections) url.searchParams.append('wantedCollections', collection);
  if (cursor !== undefined) url.searchParams.set('cursor', String(Math.max(0, Math.floor(cursor))));
  return url.toString();
}

export class JetstreamClient {
  private socket: WebSocket | undefined;
  private stopped = false;
  private paused = false;
  private pausedTimer: NodeJS.Timeout | undefined;
  private staleTimer: NodeJS.Timeout | undefined;
  private lastActivityAt = 0;
  private resumeWaiter: (() => void) | undefined;
  private readonly abort = new AbortController();
  private readonly backoff: Backoff;
  private urlIndex = 0;
  private loop: Promise<void> | undefined;
  reconnects = 0;

  constructor(private readonly options: JetstreamClientOptions) {
    this.backoff = new Backoff({ baseMs: options.reconnectBaseMs, maxMs: options.reconnectMaxMs });
  }

  get connected(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /**
   * Stops reading frames. The socket is closed at once with `disconnect`, or if
   * the pause lasts; resume() then reconnects from the cursor.
   */
  pause(options: { disconnect?: boolean } = {}): void {
    if (options.disconnect) this.socket?.terminate();
    if (this.paused) return;
    this.paused = true;
    this.socket?.pause();
    this.pausedTimer = setTimeout(() => {
      this.options.logger.info({ pausedMs: this.options.pausedDisconnectMs }, 'paused too long: closing the connection until resumed');
      this.socket?.terminate();
    }, this.options.pausedDisconnectMs);
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    clearTimeout(this.pausedTimer);
    this.lastActivityAt = Date.now();
    this.socket?.resume();
    this.resumeWaiter?.();
  }

  /** Drops the current connection; the loop reconnects from the cursor after a backoff delay. */
  reconnect(reason: string): void {
    this.options.logger.warn({ reason }, 'dropping the connection');
    this.socket?.terminate();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.resumeWaiter?.();
    clearTimeout(this.pausedTimer);
    this.socket?.close(1000, 'shutting down');
    this.socket?.terminate();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (this.paused) {
        await new Promise<void>((resolve) => (this.resumeWaiter = resolve));
        this.resumeWaiter = undefined;
        continue;
      }
      const url = this.options.urls[this.urlIndex % this.options.urls.length]!;
      let delivered = { ms: 0, frames: 0 };
      try {
        const cursor = await this.options.resumeCursor();
        delivered = await this.connectOnce(subscribeUrl(url, this.options.wantedCollections, cursor), cursor);
      } catch (error) {
        this.options.logger.warn({ url, err: error }, 'jetstream connection failed');
      }
      if (this.stopped) break;
      if (delivered.ms >= HEALTHY_AFTER_MS || delivered.frames >= HEALTHY_AFTER_FRAMES) this.backoff.reset();
      else this.urlIndex += 1; // fail over to the next URL when this one did not hold
      this.reconnects += 1;
      const delay = this.backoff.next();
      this.options.logger.info({ delayMs: delay, attempt: this.backoff.attempts, next: this.options.urls[this.urlIndex % this.options.urls.length] }, 'reconnecting');
      await sleep(delay, this.abort.signal);
    }
  }

  /** Resolves with how long and how much the connection delivered, when it closes for any reason. */
  private connectOnce(url: string, cursor: number | undefined): Promise<{ ms: number; frames: number }> {
    return new Promise((resolve, reject) => {
      // UTF-8 is validated by the ingester per frame: ws would close the connection on
      // one bad frame, and the replay after reconnecting would hit it again forever.
      const socket = new WebSocket(url, { handshakeTimeout: 10_000, maxPayload: 64 * 1024 * 1024, perMessageDeflate: false, skipUTF8Validation: true });
      this.socket = socket;
      let openedAt = 0;
      let lastFrameAt = 0;
      let frames = 0;
      socket.on('open', () => {
        openedAt = Date.now();
        this.options.logger.info({ url: redact(url), cursor }, 'connected to jetstream');
        this.options.onConnectionChange?.(true);
        this.lastActivityAt = openedAt;
        if (this.paused) socket.pause();
        this.watchForSilence(socket);
      });
      socket.on('message', (data: RawData, isBinary: boolean) => {
        lastFrameAt = this.lastActivityAt = Date.now();
        frames += 1;
        this.options.onFrame(Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data), isBinary);
      });
      socket.on('error', (error) => {
        if (!openedAt) reject(error);
        else this.options.logger.warn({ err: error }, 'jetstream socket error');
      });
      socket.on('unexpected-response', (_request, response) => {
        reject(new Error(`jetstream answered HTTP ${response.statusCode} ${response.statusMessage ?? ''}`.trim()));
        socket.terminate();
      });
      socket.on('close', (code, reason) => {
        clearInterval(this.staleTimer);
        if (this.socket === socket) this.socket = undefined;
        if (openedAt) {
          this.options.onConnectionChange?.(false);
          this.options.logger.info({ code, reason: reason.toString() }, 'jetstream connection closed');
          resolve({ ms: lastFrameAt ? lastFrameAt - openedAt : 0, frames });
        } else {
          reject(new Error(`connection closed before opening (code ${code})`));
        }
      });
    });
  }

  /**
   * Jetstream drops a slow subscriber without a close frame, and NATs drop idle
   * flows silently: a socket that delivers nothing while we are reading is dead.
   * A periodic check costs less than re-arming a timer on every frame.
   */
  private watchForSilence(socket: WebSocket): void {
    clearInterval(this.staleTimer);
    const timeout = this.options.readTimeoutMs;
    this.staleTimer = setInterval(() => {
      if (this.paused || socket !== this.socket) return;
      if (Date.now() - this.lastActivityAt > timeout) {
        this.options.logger.warn({ readTimeoutMs: timeout }, 'no frame within the read timeout: replacing the stale connection');
        socket.terminate();
      }
    }, Math.max(50, Math.min(1000, timeout / 4)));
    this.staleTimer.unref();
  }
}

/** URLs may carry credentials in a proxy setup; never log them. */
function redact(url: string): string {
  const parsed = new URL(url);
  parsed.username = '';
  parsed.password = '';
  return parsed.toString();
}
