// The Parquet layout, declared once:
//   <DATA_DIR>/<table>/date=YYYY-MM-DD/hour=HH/<file>.parquet
//   <DATA_DIR>/posts/date=YYYY-MM-DD/hour=HH/c-<digest>.terms   (the term index of c-<digest>.parquet)
// Partitions follow the event's Jetstream time (time_us), never the client-declared
// createdAt, which can be malformed or in the future. Files are written under a
// `.tmp` name and renamed, so a reader's `*.parquet` glob only sees whole files.

import { basename, join } from 'node:path';
import type { TableName } from './tables.ts';

export interface Partition {
  /** YYYY-MM-DD (UTC) */
  date: string;
  /** 00-23 (UTC) */
  hour: string;
}

export const PARQUET_EXTENSION = '.parquet';
export const TEMP_SUFFIX = '.tmp';
/** Files written by one writer batch: b-<first stream id>.parquet */
export const BATCH_FILE_PREFIX = 'b-';
/** Files written by compaction of a closed hour: c-<digest of the inputs>.parquet */
export const COMPACTED_FILE_PREFIX = 'c-';
/**
 * The term index of a compacted posts file (tables.ts, TERM_INDEX) sits beside it
 * with the same digest: c-<digest>.terms. It is a Parquet file too, but its name
 * does not end in .parquet, so no reader of a table (the `*.parquet` globs, the
 * API's file listings, backup counts) ever takes it for rows of the table. The
 * digest ties it to that exact file: when late events make compaction merge the
 * hour again, the new file has a new digest, and the old index is deleted with
 * the old file.
 */
export const TERM_INDEX_EXTENSION = '.terms';

const HOUR_US = 3_600_000_000;

export function partitionOf(timeUs: number): Partition {
  const iso = new Date(Math.floor(timeUs / 1000)).toISOString();
  return { date: iso.slice(0, 10), hour: iso.slice(11, 13) };
}

/** A stable string for grouping rows by partition. */
export function partitionKey(p: Partition): string {
  return `${p.date}/${p.hour}`;
}

export function parsePartitionKey(key: string): Partition {
  const [date = '', hour = ''] = key.split('/');
  return { date, hour };
}

/** [start, end) of a partition in unix microseconds. */
export function partitionRangeUs(p: Partition): { startUs: number; endUs: number } {
  const startUs = Date.parse(`${p.date}T${p.hour}:00:00Z`) * 1000;
  return { startUs, endUs: startUs + HOUR_US };
}

export function tableDir(dataDir: string, table: TableName): string {
  return join(dataDir, table);
}

export function partitionDir(dataDir: string, table: TableName, p: Partition): string {
  return join(dataDir, table, `date=${p.date}`, `hour=${p.hour}`);
}

/** Parses a `date=YYYY-MM-DD/hour=HH` pair of directory names; null when they are not one. */
export function parsePartitionDirs(dateDir: string, hourDir: string): Partition | null {
  const date = /^date=(\d{4}-\d{2}-\d{2})$/.exec(dateDir)?.[1];
  const hour = /^hour=([01]\d|2[0-3])$/.exec(hourDir)?.[1];
  return date && hour ? { date, hour } : null;
}

/** Stream IDs (`1732853000000-0`) are safe in file names as they are. */
export function batchFileName(batchId: string): string {
  return `${BATCH_FILE_PREFIX}${batchId}${PARQUET_EXTENSION}`;
}

/** The term index path of a compacted file (c-<digest>.parquet -> c-<digest>.terms); undefined for other files. */
export function termIndexPath(parquetPath: string): string | undefined {
  const name = basename(parquetPath);
  if (!name.startsWith(COMPACTED_FILE_PREFIX) || !name.endsWith(PARQUET_EXTENSION)) return undefined;
  return parquetPath.slice(0, -PARQUET_EXTENSION.length) + TERM_INDEX_EXTENSION;
}

/** Glob over every committed file of a table, for DuckDB's read_parquet with hive_partitioning. */
export function tableGlob(dataDir: string, table: TableName): string {
  return join(dataDir, table, 'date=*', 'hour=*', `*${PARQUET_EXTENSION}`);
}
