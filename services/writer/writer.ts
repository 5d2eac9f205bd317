// The writer: Redis stream -> Parquet, exactly once.
//
// At-least-once transport (a consumer group; entries stay pending until
// acknowledged) becomes exactly-once storage through idempotent writes:
//   1. read a batch (bounded by count and age);
//   2. record its manifest (its stream IDs), fenced by the lease;
//   3. write one Parquet file per (table, partition), named after the batch's
//      first stream ID, atomically (temporary file, fsync, rename);
//   4. acknowledge the batch and drop its manifest in one fenced script.
// A crash anywhere before 4 leaves the entries pending; the next leader rebuilds
// the same batch from its manifest and overwrites the same files. Compaction
// later deduplicates by natural key, a second line of defence for duplicates that
// reached the stream itself (e.g. a replay beyond the ingester's dedup window).

import { mkdir, access, constants } from 'node:fs/promises';
import { Backoff, sleep } from '../shared/backoff.ts';
import { writeDeadLetters } from '../shared/dead-letters.ts';
import type { DuckDBConnection } from '../shared/duckdb.ts';
import type { Logger } from '../shared/logger.ts';
import type { Redis } from '../shared/redis.ts';
import type { RedisKeys } from '../shared/redis-keys.ts';
import type { TableName } from '../shared/tables.ts';
import { buildBatchRows } from './batch.ts';
import { compactPartition, findCompactionWork, type CompactionResult } from './compaction.ts';
import type { WriterConfig } from './config.ts';
import { Lease } from './lease.ts';
import { ParquetSink } from './parquet-sink.ts';
import { applyRetention } from './retention.ts';
import { LeaseLostError, StreamConsumer, type StreamEntry } from './stream-consumer.ts';

export interface WriterStats {
  leader: boolean;
  eventsWritten: Partial<Record<TableName, number>>;
  batches: { ok: number; failed: number };
  rowsWritten: number;
  bytesWritten: number;
  filesWritten: number;
  duplicatesDropped: number;
  deadLettered: number;
  compactions: number;
  compactionFailures: number;
  /** Wall-clock time (ms) of the last committed batch. */
  lastWriteAt: number;
  /** Newest event time (µs) committed. */
  lastEventTimeUs: number;
}

/** A leader-less writer polls for the lease this often. */
const STANDBY_POLL_MS = 1000;
/** XREADGROUP blocks at most this long, so stop requests and housekeeping are never late. */
const READ_BLOCK_MS = 1000;
const RETENTION_INTERVAL_MS = 3_600_000;

export class Writer {
  readonly stats: WriterStats = {
    leader: false,
    eventsWritten: {},
    batches: { ok: 0, failed: 0 },
    rowsWritten: 0,
    bytesWritten: 0,
    filesWritten: 0,
    duplicatesDropped: 0,
    deadLettered: 0,
    compactions: 0,
    compactionFailures: 0,
    lastWriteAt: 0,
    lastEventTimeUs: 0,
  };
  readonly consumer: StreamConsumer;
  private readonly lease: Lease;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private nextReclaimAt = 0;
  private nextCompactionAt = 0;
  private nextRetentionAt = 0;
  private batchesStarted = 0;
  private retryPending = false;
  /** The batch being written and not yet acknowledged, if any. */
  private batchInHand: string | undefined;
  /** Set while a batch is held at a failpoint (tests only). */
  private releaseHold: (() => void) | undefined;
  /** Called after each compaction (tests and metrics). */
  onCompaction: ((result: CompactionResult) => void) | undefined;
  /** Called after each committed batch with its duration in seconds (metrics). */
  onBatchWritten: ((seconds: number) => void) | undefined;

  private constructor(
    private readonly config: WriterConfig,
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly sink: ParquetSink,
    private readonly duckdb: DuckDBConnection,
    blocking: Redis,
    private readonly logger: Logger,
  ) {
    this.consumer = new StreamConsumer(redis, blocking, keys, config.WRITER_CONSUMER);
    // Redis may go away after serving a read whose reply then never arrives: the entries
    // are pending for this consumer, which never saw them, and only a reclaim finds them.
    // So one runs as soon as a connection is back, not RECLAIM_INTERVAL_MS later.
    for (const connection of [redis, blocking]) connection.on('ready', () => (this.nextReclaimAt = 0));
    this.lease = new Lease(redis, keys.writerLease, config.LEASE_TTL_MS, () => {
      this.logger.warn('writer lease lost: standing by');
      this.stats.leader = false;
    });
  }

  static async create(
    config: WriterConfig,
    redis: Redis,
    blocking: Redis,
    keys: RedisKeys,
    duckdb: DuckDBConnection,
    logger: Logger,
  ): Promise<Writer> {
    await mkdir(config.DATA_DIR, { recursive: true });
    const sink = await ParquetSink.create(duckdb, config.DATA_DIR);
    return new Writer(config, redis, keys, sink, duckdb, blocking, logger);
  }

  start(): void {
    this.loop ??= this.run();
  }

  /**
   * Finishes the batch being collected (writes and acknowledges it), releases the
   * lease, and resolves true. Resolves false if that takes longer than `timeoutMs`,
   * which happens when Redis is unreachable (a batch cannot be recorded or
   * acknowledged without it): the writer gives up on the batch in hand. Nothing is
   * lost: its entries stay pending in the consumer group, and if its manifest was
   * recorded (its files may be written) the next leader rebuilds exactly the same
   * files from it; the lease expires after its TTL. The caller exits non-zero.
   */
  async stop(timeoutMs: number): Promise<boolean> {
    this.stopping = true;
    this.releaseHold?.();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const loopEnded = await Promise.race([this.loop?.then(() => true) ?? true, timedOut]);
    clearTimeout(timer);
    if (!loopEnded || this.batchInHand !== undefined) {
      const reason = loopEnded ? 'the lease was lost' : `redis did not answer within ${timeoutMs} ms`;
      this.logger.error({ batch: this.batchInHand, reason }, 'stopping without finishing the batch in hand: it stays pending for the next leader (with its manifest if recorded)');
      return false;
    }
    if (this.lease.held) await this.lease.release().catch(() => undefined);
    this.stats.leader = false;
    return true;
  }

  /** Readiness: the data directory is writable and DuckDB answers. */
  async checkStorage(): Promise<void> {
    await access(this.config.DATA_DIR, constants.W_OK);
    await this.duckdb.run('SELECT 1');
  }

  private async run(): Promise<void> {
    const backoff = new Backoff({ baseMs: 200, maxMs: 10_000 });
    while (!this.stopping) {
      try {
        if (!this.lease.held) {
          await this.becomeLeader();
          continue;
        }
        // A batch that failed (disk full, DuckDB error) is still pending, with its
        // manifest: finish it before reading anything new.
        if (this.retryPending) {
          await this.recover();
          this.retryPending = false;
        }
        const entries = await this.collectBatch();
        if (entries.length > 0) await this.processBatch(entries, entries[0]!.id);
        await this.housekeeping();
        backoff.reset();
      } catch (error) {
        if (error instanceof LeaseLostError) {
          this.logger.warn('lease lost mid-batch: the new leader will finish it');
          this.stats.leader = false;
          continue;
        }
        this.stats.batches.failed += 1;
        this.retryPending = true;
        const delay = backoff.next();
        this.logger.error({ err: error, retryInMs: delay }, 'writer iteration failed; retrying');
        await sleep(delay);
        if (isNoGroupError(error)) await this.recreateGroup();
      }
    }
  }

  /**
   * The consumer group is gone while the leader holds the lease: Redis lost it (its
   * creation never reached the AOF before a crash, or Redis came back from older data)
   * and the ingester's appends made the stream anew without it. Without a group
   * nothing is ever read again, so it is made anew from the stream's first entry:
   * every entry still in the stream is written, and the few already written that the
   * last trim left behind (at most one stream node) are deduplicated by compaction.
   */
  private async recreateGroup(): Promise<void> {
    this.logger.warn({ group: this.keys.writerGroup, stream: this.keys.stream }, 'the consumer group is missing: recreating it from the first entry of the stream');
    await this.consumer.ensureGroup().catch((error: unknown) => this.logger.warn({ err: error }, 'cannot recreate the consumer group yet'));
  }

  private async becomeLeader(): Promise<void> {
    if (!(await this.lease.tryAcquire())) {
      this.stats.leader = false;
      await sleep(STANDBY_POLL_MS);
      return;
    }
    this.stats.leader = true;
    // A batch left in hand when a lease was lost is the manifests' business now: recover() takes it up if it is still unfinished.
    this.batchInHand = undefined;
    this.logger.info({ consumer: this.consumer.consumer }, 'writer lease acquired: recovering pending work');
    await this.consumer.ensureGroup();
    await this.recover();
  }

  /**
   * Finishes what a previous leader left: batches with a manifest are rebuilt
   * exactly (same files); entries pending without one form new batches.
   */
  private async recover(): Promise<void> {
    for (const [batchId, ids] of await this.consumer.manifests()) {
      const entries = await this.consumer.claimIds(ids);
      if (entries.length === 0) {
        await this.consumer.dropManifest(batchId);
        continue;
      }
      if (entries.length !== ids.length) {
        this.logger.warn({ batchId, expected: ids.length, pending: entries.length }, 'manifest entries partly gone; rebuilding what remains');
      }
      this.logger.info({ batchId, entries: entries.length }, 'rebuilding an unfinished batch from its manifest');
      await this.processBatch(entries, batchId);
    }
    let start = '0-0';
    do {
      const { next, entries } = await this.consumer.claimPending(start, this.config.BATCH_MAX_EVENTS);
      if (entries.length > 0) {
        this.logger.info({ entries: entries.length }, 'claimed entries left pending without a manifest');
        await this.processBatch(entries, entries[0]!.id);
      }
      start = next;
    } while (start !== '0-0' && !this.stopping);
    this.nextReclaimAt = Date.now() + this.config.RECLAIM_INTERVAL_MS;
  }

  /** Reads until the batch is full, old enough, or the writer is stopping. */
  private async collectBatch(): Promise<StreamEntry[]> {
    const entries: StreamEntry[] = [];
    let firstAt = 0;
    while (entries.length < this.config.BATCH_MAX_EVENTS && !this.stopping && this.lease.held) {
      const waited = firstAt ? Date.now() - firstAt : 0;
      const remaining = this.config.BATCH_MAX_AGE_MS - waited;
      if (firstAt && remaining <= 0) break;
      const block = Math.max(1, Math.min(READ_BLOCK_MS, firstAt ? remaining : READ_BLOCK_MS));
      const got = await this.consumer.readNew(this.config.BATCH_MAX_EVENTS - entries.length, block);
      if (got.length === 0 && !firstAt) break; // idle: give housekeeping a turn
      if (got.length > 0 && !firstAt) firstAt = Date.now();
      for (const entry of got) entries.push(entry);
    }
    return entries;
  }

  private async processBatch(entries: readonly StreamEntry[], batchId: string): Promise<void> {
    const started = performance.now();
    const ids = entries.map((e) => e.id);
    const rows = buildBatchRows(entries);
    const log = this.logger.child({ batch: batchId });
    this.batchesStarted += 1;
    this.batchInHand = batchId;
    await this.consumer.recordManifest(this.lease.token, batchId, ids);
    this.failpoint('after-manifest');
    const files = await this.sink.writeBatch(batchId, rows.groups);
    this.failpoint('after-files');
    this.failpoint('fail-after-files');
    await this.holdpoint('hold-after-files');
    if (rows.deadLetters.length > 0) {
      await writeDeadLetters(this.redis, this.keys.deadLetter, this.config.DEAD_LETTER_MAXLEN, rows.deadLetters);
      log.warn({ count: rows.deadLetters.length }, 'entries refused by the writer went to the dead-letter stream');
    }
    await this.commitWithRetry(batchId, ids);
    this.batchInHand = undefined;

    const durationMs = performance.now() - started;
    const bytes = files.reduce((sum, f) => sum + f.bytes, 0);
    for (const [table, count] of Object.entries(rows.rowsPerTable) as [TableName, number][]) {
      this.stats.eventsWritten[table] = (this.stats.eventsWritten[table] ?? 0) + count;
    }
    this.stats.batches.ok += 1;
    this.onBatchWritten?.(durationMs / 1000);
    this.stats.rowsWritten += files.reduce((sum, f) => sum + f.rows, 0);
    this.stats.bytesWritten += bytes;
    this.stats.filesWritten += files.length;
    this.stats.duplicatesDropped += rows.duplicates;
    this.stats.deadLettered += rows.deadLetters.length;
    this.stats.lastWriteAt = Date.now();
    this.stats.lastEventTimeUs = Math.max(this.stats.lastEventTimeUs, rows.maxTimeUs);
    log.info({ events: entries.length, files: files.length, bytes, durationMs: Math.round(durationMs) }, 'batch written');
  }

  /**
   * Fault injection for the shutdown tests: the n-th batch waits after its files are
   * written (manifest recorded, not acknowledged) until the writer is asked to stop,
   * so a test can take Redis away at exactly that point (WRITER_FAILPOINT=hold-after-files:1).
   */
  private async holdpoint(point: 'hold-after-files'): Promise<void> {
    if (this.config.WRITER_FAILPOINT !== `${point}:${this.batchesStarted}` || this.stopping) return;
    this.logger.warn({ point, batch: this.batchesStarted }, 'failpoint reached: holding the batch until stopped');
    await new Promise<void>((resolve) => (this.releaseHold = resolve));
  }

  /**
   * Fault injection for the crash tests: a real SIGKILL of this process at an
   * exact point of the delivery protocol (WRITER_FAILPOINT=after-files:3).
   */
  private failpoint(point: 'after-manifest' | 'after-files' | 'fail-after-files'): void {
    if (this.config.WRITER_FAILPOINT !== `${point}:${this.batchesStarted}`) return;
    if (point === 'fail-after-files') {
      this.logger.warn({ point, batch: this.batchesStarted }, 'failpoint reached: failing the batch');
      throw new Error('failpoint: simulated write failure');
    }
    this.logger.warn({ point, batch: this.batchesStarted }, 'failpoint reached: killing the writer');
    process.kill(process.pid, 'SIGKILL');
  }

  /** The files are in place: the acknowledgement must land, so transient Redis errors are retried. */
  private async commitWithRetry(batchId: string, ids: readonly string[]): Promise<void> {
    const backoff = new Backoff({ baseMs: 100, maxMs: 5000 });
    for (;;) {
      try {
        await this.consumer.commit(this.lease.token, batchId, ids);
        return;
      } catch (error) {
        if (error instanceof LeaseLostError || !this.lease.held) throw new LeaseLostError();
        this.logger.warn({ err: error, batch: batchId }, 'acknowledging the batch failed; retrying');
        await sleep(backoff.next());
      }
    }
  }

  /** Between batches: reclaim orphans, compact one closed partition, apply retention. */
  private async housekeeping(): Promise<void> {
    const now = Date.now();
    if (now >= this.nextReclaimAt) await this.recover();
    if (now >= this.nextCompactionAt) await this.compactOne(now);
    if (this.config.RETENTION_DAYS !== undefined && now >= this.nextRetentionAt) {
      this.nextRetentionAt = now + RETENTION_INTERVAL_MS;
      const removed = await applyRetention(this.config.DATA_DIR, this.config.RETENTION_DAYS, now);
      if (removed.length > 0) this.logger.info({ removed }, 'retention removed old partitions');
    }
  }

  /** Compacts at most one partition per call, so batches are never held up for long. */
  private async compactOne(now: number): Promise<void> {
    const work = await findCompactionWork(this.config.DATA_DIR, now, this.config.COMPACTION_GRACE_MINUTES * 60_000);
    if (work.length <= 1) this.nextCompactionAt = now + this.config.COMPACTION_INTERVAL_MS;
    const next = work[0];
    if (!next) return;
    try {
      const result = await compactPartition(this.duckdb, next);
      this.stats.compactions += 1;
      this.onCompaction?.(result);
      this.logger.info({ table: result.table, partition: result.partition, inputs: result.inputFiles, rows: result.rows, bytes: result.bytes }, 'partition compacted');
    } catch (error) {
      this.stats.compactionFailures += 1;
      this.nextCompactionAt = now + this.config.COMPACTION_INTERVAL_MS;
      this.logger.error({ err: error, table: next.table, partition: next.partition }, 'compaction failed; will retry');
    }
  }

  /** Runs compaction over every closed partition now (used by `npm start` on exit and by tests). */
  async compactAll(now = Date.now()): Promise<CompactionResult[]> {
    const results: CompactionResult[] = [];
    for (const p of await findCompactionWork(this.config.DATA_DIR, now, this.config.COMPACTION_GRACE_MINUTES * 60_000)) {
      results.push(await compactPartition(this.duckdb, p));
    }
    return results;
  }
}

/** Redis's reply when the stream or its consumer group does not exist. */
function isNoGroupError(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOGROUP');
}
