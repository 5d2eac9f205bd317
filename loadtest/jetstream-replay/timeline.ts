// The shared timeline: every released event in order, with the time_us it was
// stamped with. Subscribers read it at their own position (replay from a cursor,
// then live), so a cursor can point anywhere in the history.
//
// Memory stays small for millions of events: per event only its time (8 bytes),
// an interned DID id (4) and an interned collection id (2) are kept — what cursor
// search and filtering need. Frame text is kept for the most recent events only
// (a ring); older frames are rebuilt from the source, which is a pure function of
// (index, time). About 14 bytes per event: 3 million events take ~42 MB.

import type { EventSource, HistoryView } from './source.ts';

const CHUNK_BITS = 16;
const CHUNK = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK - 1;
/** Larger frames (the oversized faults) are rebuilt on demand rather than cached. */
const MAX_CACHED_FRAME_BYTES = 65_536;

type NumberArray = Float64Array | Uint32Array | Uint16Array;

/** A growable numeric column in fixed 64 Ki chunks: no copy when it grows, no 2x peak. */
class Column<A extends NumberArray> {
  private readonly chunks: A[] = [];

  constructor(private readonly make: (length: number) => A) {}

  get(index: number): number {
    return this.chunks[index >>> CHUNK_BITS]![index & CHUNK_MASK]!;
  }

  set(index: number, value: number): void {
    const chunk = index >>> CHUNK_BITS;
    while (this.chunks.length <= chunk) this.chunks.push(this.make(CHUNK));
    this.chunks[chunk]![index & CHUNK_MASK] = value;
  }
}

/** Strings interned to small ids; id 0 means "none". */
class Interner {
  private readonly ids = new Map<string, number>();
  private readonly values: (string | undefined)[] = [undefined];

  constructor(private readonly maxId: number) {}

  id(value: string | undefined): number {
    if (value === undefined) return 0;
    let id = this.ids.get(value);
    if (id === undefined) {
      // Past the id space, values are no longer distinguishable: they read as "none".
      if (this.values.length > this.maxId) return 0;
      id = this.values.length;
      this.values.push(value);
      this.ids.set(value, id);
    }
    return id;
  }

  value(id: number): string | undefined {
    return this.values[id];
  }
}

export interface ReleaseStats {
  /** Events released so far. */
  total: number;
  /** Of which the ingester would accept / refuse. */
  valid: number;
  invalid: number;
  /** Valid events only. */
  byKind: Record<string, number>;
  byCollection: Record<string, number>;
  byOperation: Record<string, number>;
  /** Invalid events by injected fault (generator) or reject reason (NDJSON). */
  invalidByType: Record<string, number>;
  /** UTF-8 bytes of all released frames. */
  bytes: number;
  firstTimeUs: number | null;
  lastTimeUs: number | null;
}

export interface TimelineOptions {
  /** Stop after this many events (default: the source's length, unbounded for the generator). */
  total?: number;
  /** Recent frames kept as bytes; older ones are rebuilt from the source. */
  cacheSize?: number;
  /** Current time in µs (tests may inject one). */
  clockUs?: () => number;
}

const bump = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

export class Timeline implements HistoryView {
  /** The most events this timeline will ever hold: min(total, source length). */
  readonly limit: number;
  private count = 0;
  private readonly times = new Column((n) => new Float64Array(n));
  private readonly didIds = new Column((n) => new Uint32Array(n));
  private readonly collectionIds = new Column((n) => new Uint16Array(n));
  private readonly dids = new Interner(0xffff_fffe);
  private readonly collections = new Interner(0xfffe);
  private readonly cache: (Buffer | undefined)[];
  private readonly clockUs: () => number;
  private readonly listeners: ((from: number, to: number) => void)[] = [];
  private waiters: { count: number; resolve: () => void; reject: (error: Error) => void }[] = [];
  private closedError: Error | undefined;
  private readonly counts: ReleaseStats = {
    total: 0,
    valid: 0,
    invalid: 0,
    byKind: {},
    byCollection: {},
    byOperation: {},
    invalidByType: {},
    bytes: 0,
    firstTimeUs: null,
    lastTimeUs: null,
  };

  constructor(
    readonly source: EventSource,
    options: TimelineOptions = {},
  ) {
    const total = options.total ?? Infinity;
    if (!(total >= 0)) throw new RangeError(`total must be >= 0, got ${total}`);
    this.limit = Math.min(total, source.length);
    this.cache = new Array<Buffer | undefined>(Math.max(1, options.cacheSize ?? 65_536));
    this.clockUs = options.clockUs ?? (() => Date.now() * 1000);
  }

  /** Number of events released so far (the live head). */
  get released(): number {
    return this.count;
  }

  /** True once nothing more will ever be released. */
  get exhausted(): boolean {
    return this.count >= this.limit;
  }

  /** Called after each batch of releases with the new index range [from, to). */
  onRelease(listener: (from: number, to: number) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Releases up to n events: stamps each with time_us = max(now, previous + 1)
   * (strictly increasing, so cursors are unambiguous), builds its frame and
   * counts it. Returns how many were released.
   */
  release(n: number): number {
    const from = this.count;
    const to = Math.min(this.limit, from + Math.max(0, Math.floor(n)));
    if (to <= from || this.closedError) return 0;
    const now = this.clockUs();
    for (let i = from; i < to; i++) {
      const previous = i > 0 ? this.times.get(i - 1) : 0;
      const own = this.source.ownTime?.(i);
      const time = Math.max(own ?? now, previous + 1);
      this.times.set(i, time);
      this.count = i + 1;
      const { text, meta } = this.source.frame(i, time, this);
      const frame = Buffer.from(text, 'utf8');
      this.cache[i % this.cache.length] = frame.length <= MAX_CACHED_FRAME_BYTES ? frame : undefined;
      this.didIds.set(i, this.dids.id(meta.did));
      this.collectionIds.set(i, this.collections.id(meta.collection));
      this.account(meta, frame.length, time);
    }
    for (const listener of this.listeners) listener(from, to);
    if (this.waiters.length > 0) {
      const due = this.waiters.filter((w) => w.count <= this.count);
      this.waiters = this.waiters.filter((w) => w.count > this.count);
      for (const waiter of due) waiter.resolve();
    }
    return to - from;
  }

  private account(meta: { valid: boolean; kind?: string; collection?: string; operation?: string; invalidType?: string }, bytes: number, time: number): void {
    const c = this.counts;
    c.total += 1;
    c.bytes += bytes;
    c.firstTimeUs ??= time;
    c.lastTimeUs = time;
    if (!meta.valid) {
      c.invalid += 1;
      bump(c.invalidByType, meta.invalidType ?? 'unknown');
      return;
    }
    c.valid += 1;
    if (meta.kind) bump(c.byKind, meta.kind);
    if (meta.collection) bump(c.byCollection, meta.collection);
    if (meta.operation) bump(c.byOperation, meta.operation);
  }

  /** Resolves once `count` events have been released; rejects if that can never happen. */
  whenReleased(count: number): Promise<void> {
    if (count <= this.count) return Promise.resolve();
    if (this.closedError) return Promise.reject(this.closedError);
    if (count > this.limit) {
      return Promise.reject(new RangeError(`only ${this.limit} events will ever be released (total or source length), not ${count}`));
    }
    return new Promise((resolve, reject) => this.waiters.push({ count, resolve, reject }));
  }

  /** Stops releasing; pending whenReleased() calls reject. */
  close(): void {
    this.closedError ??= new Error('replay server closed');
    for (const waiter of this.waiters) waiter.reject(this.closedError);
    this.waiters = [];
  }

  timeOf(index: number): number {
    if (index < 0 || index >= this.count) throw new RangeError(`event ${index} is not released (released: ${this.count})`);
    return this.times.get(index);
  }

  /** The frame of event `index` as sent: cached if recent, rebuilt from the source otherwise. */
  frame(index: number): Buffer {
    if (index < 0 || index >= this.count) throw new RangeError(`event ${index} is not released (released: ${this.count})`);
    if (index >= this.count - this.cache.length) {
      const cached = this.cache[index % this.cache.length];
      if (cached) return cached;
    }
    return Buffer.from(this.source.frame(index, this.times.get(index), this).text, 'utf8');
  }

  /** The exact text of event `index` as sent. */
  text(index: number): string {
    return this.frame(index).toString('utf8');
  }

  didOf(index: number): string | undefined {
    return this.dids.value(this.didIds.get(index));
  }

  /** Interned collection id of event `index`; 0 when it is not a commit (or unknown). */
  collectionIdOf(index: number): number {
    return this.collectionIds.get(index);
  }

  collectionName(id: number): string | undefined {
    return this.collections.value(id);
  }

  /**
   * Index of the first event with time_us >= cursorUs (inclusive cursor, as
   * Jetstream); `released` when the cursor is beyond the head (live tail).
   * A cursor older than the history gives 0: the start of history.
   */
  indexAtOrAfter(cursorUs: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.times.get(mid) < cursorUs) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  stats(): ReleaseStats {
    const c = this.counts;
    return {
      ...c,
      byKind: { ...c.byKind },
      byCollection: { ...c.byCollection },
      byOperation: { ...c.byOperation },
      invalidByType: { ...c.invalidByType },
    };
  }
}
