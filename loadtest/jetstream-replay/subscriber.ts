// One subscriber: its position in the timeline, its filters, and the pump that
// writes frames to its socket. The pump stops when the socket's buffer passes a
// high-water mark and resumes when it drains (ws send callbacks), so a slow reader
// costs a bounded amount of memory. A live subscriber that stays blocked while
// more than `outboxLimit` wanted events pile up is dropped without a close frame,
// as Jetstream drops a subscriber whose outbox is full.

import type WebSocket from 'ws';
import type { RawData } from 'ws';
import type { Pacer } from './pacer.ts';
import { ProtocolError, parseClientMessage, type SubscribeRequest, type SubscriberFilters } from './protocol.ts';
import type { Timeline } from './timeline.ts';

export type DropReason = 'outbox' | 'drop_every' | 'manual' | 'invalid_message';

export interface SubscriptionContext {
  timeline: Timeline;
  pacer: Pacer;
  highWaterMarkBytes: number;
  /** Wanted events a blocked live subscriber may fall behind before it is dropped; 0 = never. */
  outboxLimit: number;
  /** Terminate the connection after it has sent this many events; 0 = never. */
  dropEvery: number;
  onSent(bytes: number): void;
  onDrop(subscription: Subscription, reason: DropReason, detail?: string): void;
  onOptionsUpdate(subscription: Subscription): void;
  onClose(subscription: Subscription): void;
}

/** Frames written per event-loop turn before yielding to I/O and other subscribers. */
const FRAMES_PER_TURN = 1_024;
/** Events examined per turn (filtered-out ones are cheap but not free). */
const SCAN_PER_TURN = 65_536;
/** After an invalid message the close frame gets this long to leave before the socket is cut. */
const CLOSE_GRACE_MS = 1_000;

export class Subscription {
  /** Next timeline index to consider. */
  position: number;
  /** Events sent on this connection. */
  sent = 0;
  private filters: SubscriberFilters;
  private awaitingHello: boolean;
  /** Caught up with the head at least once: from then on the outbox limit applies (replays are never dropped). */
  private live = false;
  /** Waiting for the socket buffer to drain. */
  private stalled = false;
  private pumping = false;
  private scheduled: NodeJS.Immediate | undefined;
  private closed = false;
  /** Wanted events counted in [position, backlogScanned) while stalled at `backlogFrom`. */
  private backlogFrom = -1;
  private backlogScanned = 0;
  private backlogCount = 0;
  /** Filter verdict per interned collection id, for the current filters. */
  private collectionVerdicts = new Map<number, boolean>();
  private readonly flushed = (error?: Error) => this.onFlushed(error);

  constructor(
    readonly socket: WebSocket,
    private readonly ctx: SubscriptionContext,
    request: SubscribeRequest,
  ) {
    this.filters = request.filters;
    this.awaitingHello = request.requireHello;
    // Absent cursor: live tail. Otherwise the first event at or after it (a future one is the head, an old one 0).
    this.position = request.cursor === undefined ? ctx.timeline.released : ctx.timeline.indexAtOrAfter(request.cursor);
    socket.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    socket.on('close', () => this.onClosed());
    socket.on('error', () => undefined); // a reset socket also emits 'close'
    if (!this.awaitingHello) this.schedule();
  }

  get isLive(): boolean {
    return this.live;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The timeline released more events: pump them, or (if blocked) check the outbox limit. */
  onRelease(): void {
    if (this.closed || this.awaitingHello) return;
    if (this.stalled) this.checkOutbox();
    else if (!this.pumping) this.schedule();
  }

  /** Terminates the connection without a close frame (what Jetstream does to slow subscribers). */
  drop(reason: DropReason, detail?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.ctx.onDrop(this, reason, detail);
    this.socket.terminate();
  }

  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = setImmediate(() => this.pump());
  }

  private pump(): void {
    this.scheduled = undefined;
    if (this.closed || this.awaitingHello || this.stalled) return;
    const { timeline, pacer } = this.ctx;
    this.pumping = true;
    try {
      let frames = 0;
      for (let scanned = 0; frames < FRAMES_PER_TURN && scanned < SCAN_PER_TURN; scanned++) {
        if (this.position >= timeline.released) {
          this.live = true;
          // On-demand mode: this reader is at the head, so release a little more for it.
          if (pacer.unlimited && !timeline.exhausted) pacer.demand(this.position + pacer.lead);
          if (this.position >= timeline.released) return; // woken again by the next release
        }
        if (this.socket.bufferedAmount >= this.ctx.highWaterMarkBytes) {
          this.stalled = true; // resumed by a send callback once the buffer drains
          return;
        }
        const index = this.position++;
        if (!this.wants(index)) continue;
        const frame = timeline.frame(index);
        const max = this.filters.maxMessageSizeBytes;
        if (max > 0 && frame.length > max) continue;
        this.socket.send(frame, { binary: false }, this.flushed);
        frames += 1;
        this.sent += 1;
        this.ctx.onSent(frame.length);
        if (this.ctx.dropEvery > 0 && this.sent >= this.ctx.dropEvery) {
          this.drop('drop_every');
          return;
        }
      }
      this.schedule(); // turn budget used: continue on the next turn
    } finally {
      this.pumping = false;
    }
  }

  private onFlushed(_error?: Error): void {
    if (this.closed || !this.stalled) return;
    // Resume below half the mark, so the pump does not wake for every frame.
    if (this.socket.bufferedAmount < this.ctx.highWaterMarkBytes / 2) {
      this.stalled = false;
      this.schedule();
    }
  }

  private wants(index: number): boolean {
    const { collections, dids } = this.filters;
    const timeline = this.ctx.timeline;
    if (collections) {
      // Non-commit events (id 0: identity, account, unparseable) bypass wantedCollections, like Jetstream.
      const id = timeline.collectionIdOf(index);
      if (id !== 0) {
        let verdict = this.collectionVerdicts.get(id);
        if (verdict === undefined) {
          verdict = collections.matches(timeline.collectionName(id) ?? '');
          this.collectionVerdicts.set(id, verdict);
        }
        if (!verdict) return false;
      }
    }
    if (dids) {
      const did = timeline.didOf(index);
      if (did === undefined || !dids.has(did)) return false;
    }
    return true;
  }

  /** While blocked: count the wanted events waiting and drop past the outbox limit. */
  private checkOutbox(): void {
    const limit = this.ctx.outboxLimit;
    if (!this.live || limit <= 0) return;
    if (this.backlogFrom !== this.position) {
      this.backlogFrom = this.position;
      this.backlogScanned = this.position;
      this.backlogCount = 0;
    }
    const head = this.ctx.timeline.released;
    let i = this.backlogScanned;
    for (; i < head && this.backlogCount <= limit; i++) if (this.wants(i)) this.backlogCount += 1;
    this.backlogScanned = i;
    if (this.backlogCount > limit) this.drop('outbox', `more than ${limit} events behind the live head`);
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (isBinary || this.closed) return; // Jetstream ignores binary messages
    const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
    let message;
    try {
      message = parseClientMessage(text);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.refuse(error.message);
      return;
    }
    if (message.type !== 'options_update') return; // unknown types are ignored
    this.filters = message.filters;
    this.collectionVerdicts = new Map();
    this.backlogFrom = -1;
    this.ctx.onOptionsUpdate(this);
    if (this.awaitingHello) {
      this.awaitingHello = false;
      this.schedule();
    }
  }

  /** An invalid message: a close frame with the reason (as Jetstream's Terminate), then the socket is cut. */
  private refuse(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.ctx.onDrop(this, 'invalid_message', reason);
    // A close reason is at most 123 bytes.
    let short = reason;
    while (Buffer.byteLength(short) > 123) short = short.slice(0, -1);
    this.socket.close(1000, short);
    setTimeout(() => this.socket.terminate(), CLOSE_GRACE_MS).unref();
  }

  private onClosed(): void {
    this.closed = true;
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    this.ctx.onClose(this);
  }
}
