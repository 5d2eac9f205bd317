// The ingester: Jetstream frames in, validated events appended to the Redis
// stream in batches, refused frames to the dead-letter stream.
//
// Delivery: the cursor only moves inside the same atomic script that stores the
// events (stream-appender.ts). Whatever is not yet stored — a batch lost to a
// Redis failure, frames in flight on a dropped socket — is recovered by
// reconnecting from the stored cursor minus a rewind; the replayed events that
// were already stored are recognised by their key and dropped. So a reconnect
// leaves no gap and adds no duplicate.
//
// Backpressure: when the stream holds BACKLOG_HIGH_WATER entries (the writer is
// behind or down), the ingester stops reading: it drops the events it holds in
// memory, closes the connection (Jetstream drops a subscriber that stops reading
// anyway) and reconnects from the cursor once the backlog is under
// BACKLOG_LOW_WATER. Jetstream's own history (≤ 24 h) is the deep buffer: the
// stream never holds more than the high-water mark plus one batch, and nothing
// is ever trimmed from it before the writer has consumed it. When Redis is merely
// slow, the socket is paused (TCP pushes back) while the events in memory drain.

import { isUtf8 } from 'node:buffer';
import { eventKey, parseJetstreamEvent, type JetstreamEvent, type RejectReason } from '../shared/jetstream.ts';
import { COLLECTION_LABELS } from '../../telemetry/metrics.ts';
import { writeDeadLetters, type DeadLetter } from '../shared/dead-letters.ts';
import type { Logger } from '../shared/logger.ts';
import type { Redis } from '../shared/redis.ts';
import type { RedisKeys } from '../shared/redis-keys.ts';
import type { IngesterConfig } from './config.ts';
import { JetstreamClient } from './jetstream-client.ts';
import { StreamAppender, type PendingEvent } from './stream-appender.ts';

export type DeadLetterReason = RejectReason | 'binary_frame' | 'invalid_utf8';

/** Counters and gauges the ingester keeps; the telemetry layer exports them. */
export interface IngesterStats {
  /** Accepted events by "kind|collection|operation" (collection folded to "other" outside the modelled ones). */
  received: Map<string, number>;
  framesReceived: number;
  bytesReceived: number;
  eventsAccepted: number;
  eventsAdded: number;
  eventsDuplicate: number;
  deadLettered: Partial<Record<DeadLetterReason, number>>;
  redisErrors: number;
  /** time_us of the newest event stored (µs), 0 before the first. */
  cursorUs: number;
  /** Wall-clock time (ms) of the last frame received. */
  lastFrameAt: number;
  streamLength: number;
}

function countReceived(counts: Map<string, number>, event: JetstreamEvent): void {
  const key =
    event.kind === 'commit'
      ? `commit|${COLLECTION_LABELS.has(event.commit.collection) ? event.commit.collection : 'other'}|${event.commit.operation}`
      : `${event.kind}||`;
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/** How many accepted events may wait in memory for Redis before the socket is paused. */
const MAX_PENDING_BATCHES = 40;
/** How often a paused ingester looks at the backlog. */
const BACKLOG_POLL_MS = 500;

export class Ingester {
  readonly stats: IngesterStats = {
    received: new Map(),
    framesReceived: 0,
    bytesReceived: 0,
    eventsAccepted: 0,
    eventsAdded: 0,
    eventsDuplicate: 0,
    deadLettered: {},
    redisErrors: 0,
    cursorUs: 0,
    lastFrameAt: 0,
    streamLength: 0,
  };
  readonly client: JetstreamClient;
  private readonly appender: StreamAppender;
  private pending: PendingEvent[] = [];
  private deadLetters: DeadLetter[] = [];
  private lingerTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  /** After a failed write, frames still in flight on the old socket are dropped: the replay brings them back. */
  private discarding = false;
  private readonly pauseReasons = new Set<'backlog' | 'redis'>();
  private backlogTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Rewind in use (µs): the configured one, shrunk while reconnects make no progress. */
  private rewindUs: number;
  private cursorAtLastConnect: number | undefined;

  constructor(
    private readonly config: IngesterConfig,
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly logger: Logger,
  ) {
    this.appender = new StreamAppender(redis, keys, config.DEDUP_WINDOW_SECONDS * 1_000_000);
    this.rewindUs = config.CURSOR_REWIND_SECONDS * 1_000_000;
    this.client = new JetstreamClient({
      urls: config.JETSTREAM_URL,
      wantedCollections: config.JETSTREAM_WANTED_COLLECTIONS,
      resumeCursor: () => this.resumeCursor(),
      onFrame: (data, isBinary) => this.onFrame(data, isBinary),
      onConnectionChange: (connected) => {
        if (connected) this.discarding = false;
      },
      readTimeoutMs: config.READ_TIMEOUT_SECONDS * 1000,
      pausedDisconnectMs: config.PAUSED_DISCONNECT_SECONDS * 1000,
      reconnectBaseMs: config.RECONNECT_BASE_MS,
      reconnectMaxMs: config.RECONNECT_MAX_MS,
      logger,
    });
  }

  get paused(): boolean {
    return this.pauseReasons.size > 0;
  }

  start(): void {
    this.client.start();
  }

  /** Stops reading, stores what was received, and returns when nothing is left in memory. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.backlogTimer);
    await this.client.stop();
    clearTimeout(this.lingerTimer);
    await this.flush();
  }

  /**
   * Where to resume: the stored cursor minus the rewind. Throws when Redis cannot
   * say, so the client never connects without a cursor and skips a gap.
   *
   * If connections keep dying before the replayed rewind is even used up (a
   * flapping link at a high event rate), every connection would only replay
   * events already stored and the cursor would never move. So while the cursor
   * does not advance between connects, the rewind is quartered (down to 0: the
   * cursor itself is inclusive, so no event at the cursor is missed); it returns
   * to its configured size as soon as the cursor moves again.
   */
  private async resumeCursor(): Promise<number | undefined> {
    const saved = await this.appender.savedCursor();
    if (saved === undefined) return this.config.JETSTREAM_INITIAL_CURSOR;
    this.stats.cursorUs = saved;
    const configured = this.config.CURSOR_REWIND_SECONDS * 1_000_000;
    if (this.cursorAtLastConnect === saved && this.rewindUs > 0) {
      this.rewindUs = this.rewindUs < 1000 ? 0 : Math.floor(this.rewindUs / 4);
      this.logger.warn({ rewindUs: this.rewindUs }, 'no progress since the last connect: shrinking the cursor rewind');
    } else if (this.cursorAtLastConnect !== saved) {
      this.rewindUs = configured;
    }
    this.cursorAtLastConnect = saved;
    return Math.max(0, saved - this.rewindUs);
  }

  private onFrame(data: Buffer, isBinary: boolean): void {
    if (this.discarding) return;
    this.stats.framesReceived += 1;
    this.stats.bytesReceived += data.byteLength;
    this.stats.lastFrameAt = Date.now();
    if (isBinary) {
      this.deadLetter('binary_frame', 'binary frame (compression is never requested)', data.subarray(0, 256).toString('base64'));
    } else if (data.byteLength > this.config.MAX_EVENT_BYTES) {
      this.deadLetter('oversized', `frame of ${data.byteLength} bytes exceeds ${this.config.MAX_EVENT_BYTES}`, data.subarray(0, 4096).toString('utf8'));
    } else if (!isUtf8(data)) {
      this.deadLetter('invalid_utf8', 'text frame is not valid UTF-8', data.toString('utf8'));
    } else {
      const raw = data.toString('utf8');
      const parsed = parseJetstreamEvent(raw, this.config.MAX_EVENT_BYTES);
      if (parsed.ok) {
        this.stats.eventsAccepted += 1;
        countReceived(this.stats.received, parsed.event);
        this.pending.push({ key: eventKey(parsed.event), timeUs: parsed.event.time_us, raw });
      } else {
        this.deadLetter(parsed.reason, parsed.detail, raw);
      }
    }
    this.scheduleFlush();
  }

  private deadLetter(reason: DeadLetterReason, detail: string, raw: string): void {
    this.stats.deadLettered[reason] = (this.stats.deadLettered[reason] ?? 0) + 1;
    this.deadLetters.push({ reason, detail, raw, source: 'ingester' });
  }

  private scheduleFlush(): void {
    if (this.pending.length + this.deadLetters.length >= this.config.BATCH_MAX_EVENTS) {
      void this.flush();
    } else if (!this.lingerTimer) {
      this.lingerTimer = setTimeout(() => void this.flush(), this.config.BATCH_LINGER_MS);
    }
    if (this.pending.length >= MAX_PENDING_BATCHES * this.config.BATCH_MAX_EVENTS) this.setPaused('redis', true);
  }

  /** Writes everything pending, one batch at a time; concurrent callers share the same run. */
  private flush(): Promise<void> {
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    this.flushing ??= this.drain().finally(() => {
      this.flushing = undefined;
      if (!this.stopped && this.pending.length + this.deadLetters.length > 0) this.scheduleFlush();
    });
    return this.flushing;
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0 || this.deadLetters.length > 0) {
      const batch = this.pending.splice(0, this.config.BATCH_MAX_EVENTS);
      const letters = this.deadLetters.splice(0, this.deadLetters.length);
      try {
        await writeDeadLetters(this.redis, this.keys.deadLetter, this.config.DEAD_LETTER_MAXLEN, letters);
        if (batch.length > 0) {
          const result = await this.appender.append(batch);
          this.stats.eventsAdded += result.added;
          this.stats.eventsDuplicate += result.duplicates;
          this.stats.cursorUs = result.cursor;
          this.stats.streamLength = result.streamLength;
          if (result.streamLength >= this.config.BACKLOG_HIGH_WATER) this.setPaused('backlog', true);
        }
      } catch (error) {
        this.onWriteFailure(error, batch.length);
        return;
      }
    }
    this.setPaused('redis', false);
  }

  /**
   * Redis refused or lost a write. Everything not yet stored is dropped from memory
   * and the connection is replaced: it reopens from the stored cursor once Redis
   * answers again, and the replay redelivers what was dropped.
   */
  private onWriteFailure(error: unknown, lost: number): void {
    this.stats.redisErrors += 1;
    this.logger.error({ err: error, dropped: lost + this.pending.length }, 'writing to redis failed: resuming from the stored cursor');
    this.pending = [];
    this.deadLetters = [];
    this.discarding = true;
    this.setPaused('redis', false);
    if (!this.stopped) this.client.reconnect('redis write failed');
  }

  private setPaused(reason: 'backlog' | 'redis', on: boolean): void {
    const wasPaused = this.paused;
    if (on) this.pauseReasons.add(reason);
    else this.pauseReasons.delete(reason);
    if (reason === 'backlog' && on) {
      // Whatever was read but not stored is dropped and fetched again from the
      // cursor after the pause, so the stream stays bounded.
      this.pending = [];
      this.discarding = true;
      if (this.paused === wasPaused) this.client.pause({ disconnect: true });
      // Watched even if the socket was already paused for another reason: only the watch lifts it.
      if (!this.backlogTimer) this.watchBacklog();
    }
    if (this.paused === wasPaused) return;
    if (this.paused) {
      this.logger.warn({ reason, streamLength: this.stats.streamLength, highWater: this.config.BACKLOG_HIGH_WATER }, 'backpressure: pausing the jetstream socket');
      this.client.pause({ disconnect: reason === 'backlog' });
    } else {
      this.logger.info({ streamLength: this.stats.streamLength }, 'backpressure released: resuming');
      this.client.resume();
    }
  }

  private watchBacklog(): void {
    clearTimeout(this.backlogTimer);
    this.backlogTimer = setTimeout(() => {
      this.appender.streamLength().then(
        (length) => {
          this.stats.streamLength = length;
          this.backlogTimer = undefined;
          if (length <= this.config.BACKLOG_LOW_WATER) this.setPaused('backlog', false);
          else if (!this.stopped) this.watchBacklog();
        },
        (error: unknown) => {
          this.backlogTimer = undefined;
          this.logger.warn({ err: error }, 'cannot read the backlog length');
          if (!this.stopped) this.watchBacklog();
        },
      );
    }, BACKLOG_POLL_MS);
  }
}
