// The writer's metrics: its own counters, the buffer's backlog and the store's
// size on disk. The backlog (every 5 s, a Redis round trip) and the store (every
// STORE_SAMPLE_SECONDS, a directory walk) are sampled, and served from the last
// sample when Prometheus scrapes.

import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Meter } from '@opentelemetry/api';
import { METRICS } from '../../telemetry/metrics.ts';
import { histogram, observeCounter, observeGauge, series } from '../../telemetry/instruments.ts';
import { droppedLogRecords, type Logger } from '../shared/logger.ts';
import type { Redis } from '../shared/redis.ts';
import type { RedisKeys } from '../shared/redis-keys.ts';
import { PARQUET_EXTENSION, tableDir } from '../shared/layout.ts';
import { TABLE_NAMES, type TableName } from '../shared/tables.ts';
import { readBacklog, type StreamBacklog } from './stream-consumer.ts';
import type { Writer } from './writer.ts';

const BACKLOG_SAMPLE_MS = 5_000;

export interface StoreUsage {
  files: number;
  bytes: number;
}

/** Parquet files and bytes per table under the data directory. */
export async function storeUsage(dataDir: string): Promise<Record<TableName, StoreUsage>> {
  const usage = Object.fromEntries(TABLE_NAMES.map((t) => [t, { files: 0, bytes: 0 }])) as Record<TableName, StoreUsage>;
  for (const table of TABLE_NAMES) {
    let entries;
    try {
      entries = await readdir(tableDir(dataDir, table), { recursive: true, withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (!entry.isFile() || !entry.name.endsWith(PARQUET_EXTENSION)) continue;
      usage[table].files += 1;
      usage[table].bytes += (await stat(join(entry.parentPath, entry.name)).catch(() => ({ size: 0 }))).size;
    }
  }
  return usage;
}

export function bindWriterMetrics(meter: Meter, writer: Writer, redis: Redis, keys: RedisKeys, dataDir: string, storeSampleMs: number, logger: Logger): () => void {
  const { stats } = writer;
  const batchDuration = histogram(meter, METRICS.writerBatchDuration);
  writer.onBatchWritten = (seconds) => batchDuration.record(seconds);
  observeCounter(meter, METRICS.writerEventsWritten, () => series(stats.eventsWritten, 'table'));
  observeCounter(meter, METRICS.writerBatches, () => series(stats.batches, 'outcome'));
  observeCounter(meter, METRICS.writerRowsWritten, () => stats.rowsWritten);
  observeCounter(meter, METRICS.writerBytesWritten, () => stats.bytesWritten);
  observeCounter(meter, METRICS.writerCompactions, () => series({ ok: stats.compactions, failed: stats.compactionFailures }, 'outcome'));
  observeCounter(meter, METRICS.writerDeadLettered, () => stats.deadLettered);
  observeCounter(meter, METRICS.logsDropped, droppedLogRecords);
  observeGauge(meter, METRICS.writerLastWrite, () => stats.lastWriteAt / 1000);
  observeGauge(meter, METRICS.writerNewestEvent, () => stats.lastEventTimeUs / 1e6);
  observeGauge(meter, METRICS.writerLeader, () => (stats.leader ? 1 : 0));

  let backlog: StreamBacklog | undefined;
  let usage: Record<TableName, StoreUsage> | undefined;
  observeGauge(meter, METRICS.bufferLength, () => backlog?.length ?? []);
  observeGauge(meter, METRICS.bufferPending, () => backlog?.pending ?? []);
  observeGauge(meter, METRICS.bufferUndelivered, () => backlog?.undelivered ?? []);
  observeGauge(meter, METRICS.bufferOldestPendingAge, () => (backlog ? backlog.oldestPendingAgeMs / 1000 : []));
  observeGauge(meter, METRICS.storeFiles, () => (usage ? TABLE_NAMES.map((t) => [{ table: t }, usage![t].files] as const) : []));
  observeGauge(meter, METRICS.storeBytes, () => (usage ? TABLE_NAMES.map((t) => [{ table: t }, usage![t].bytes] as const) : []));

  const sampleBacklog = () =>
    readBacklog(redis, keys).then(
      (value) => (backlog = value),
      (error: unknown) => logger.debug({ err: error }, 'cannot sample the stream backlog'),
    );
  const sampleStore = () =>
    storeUsage(dataDir).then(
      (value) => (usage = value),
      (error: unknown) => logger.warn({ err: error }, 'cannot measure the store'),
    );
  void sampleBacklog();
  void sampleStore();
  const timers = [setInterval(() => void sampleBacklog(), BACKLOG_SAMPLE_MS), setInterval(() => void sampleStore(), storeSampleMs)];
  for (const timer of timers) timer.unref();
  return () => timers.forEach(clearInterval);
}
