// Compaction: once an hour partition is closed (its hour ended COMPACTION_GRACE
// ago), its batch files are merged into one file sorted by time_us, with rows
// deduplicated by the table's natural key.
//
// Idempotent and crash-safe: the merged file is written under a temporary name,
// fsynced and renamed; only then are the inputs deleted. A crash in between
// leaves the inputs beside the merged file; the next pass merges them all again
// (deduplicating by key) into a new file and deletes the rest, so the partition
// always converges to one file with each row once. Late events that land in a
// closed hour add a batch file, and the partition is compacted again.
//
// Posts also get their term index (term-index.ts), written from the merged file
// before that file is committed, so a compacted posts file is never visible
// without its index; the index of a file merged away is deleted with it.

import { createHash } from 'node:crypto';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { commitFile, fsyncPath } from '../shared/fs-atomic.ts';
import { sqlIdentifier, sqlString, sqlStringList, type DuckDBConnection } from '../shared/duckdb.ts';
import {
  BATCH_FILE_PREFIX,
  COMPACTED_FILE_PREFIX,
  PARQUET_EXTENSION,
  TEMP_SUFFIX,
  TERM_INDEX_EXTENSION,
  parsePartitionDirs,
  partitionRangeUs,
  tableDir,
  termIndexPath,
  type Partition,
} from '../shared/layout.ts';
import { TABLE_NAMES, TABLES, type TableName } from '../shared/tables.ts';
import { COMPACTED_PARQUET_OPTIONS } from './parquet-sink.ts';
import { writeTermIndex } from './term-index.ts';

/**
 * Compacted posts are written in row groups of 8,192 rows instead of 122,880.
 * DuckDB reads whole row groups, and the search reads only the rows the term index
 * points at: a word found in 3 posts of an hour (about 96,000 posts at today's
 * rate) then reads 3 groups of 8,192 rows instead of the whole hour, and a scan of
 * one hour runs on every thread instead of one. It costs about 4% more bytes for
 * posts (zstd compresses smaller blocks); the other tables are never read by row.
 */
export const POSTS_ROW_GROUP_SIZE = 8192;
const COMPACTED_POSTS_PARQUET_OPTIONS = COMPACTED_PARQUET_OPTIONS.replace(/ROW_GROUP_SIZE \d+/, `ROW_GROUP_SIZE ${POSTS_ROW_GROUP_SIZE}`);
if (!COMPACTED_POSTS_PARQUET_OPTIONS.includes(`ROW_GROUP_SIZE ${POSTS_ROW_GROUP_SIZE}`)) throw new Error('COMPACTED_PARQUET_OPTIONS has no ROW_GROUP_SIZE to override');

export interface PartitionFiles {
  table: TableName;
  partition: Partition;
  dir: string;
  /** Committed Parquet file names (no temporaries), sorted. */
  files: string[];
}

export interface CompactionResult {
  table: TableName;
  partition: Partition;
  inputFiles: number;
  rows: number;
  bytes: number;
  file: string;
}

/** Every partition of a table with its committed files. */
export async function listPartitions(dataDir: string, table: TableName): Promise<PartitionFiles[]> {
  const root = tableDir(dataDir, table);
  const result: PartitionFiles[] = [];
  for (const dateDir of await readdirOrEmpty(root)) {
    for (const hourDir of await readdirOrEmpty(join(root, dateDir))) {
      const partition = parsePartitionDirs(dateDir, hourDir);
      if (!partition) continue;
      const dir = join(root, dateDir, hourDir);
      const files = (await readdirOrEmpty(dir)).filter((f) => f.endsWith(PARQUET_EXTENSION)).sort();
      result.push({ table, partition, dir, files });
    }
  }
  return result;
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

export function needsCompaction(p: PartitionFiles): boolean {
  return p.files.length > 1 || p.files.some((f) => f.startsWith(BATCH_FILE_PREFIX));
}

export function isClosed(partition: Partition, nowMs: number, graceMs: number): boolean {
  return partitionRangeUs(partition).endUs / 1000 + graceMs <= nowMs;
}

/** The partitions of every table that are closed and not yet one compacted file, oldest first. */
export async function findCompactionWork(dataDir: string, nowMs: number, graceMs: number): Promise<PartitionFiles[]> {
  const work: PartitionFiles[] = [];
  for (const table of TABLE_NAMES) {
    for (const p of await listPartitions(dataDir, table)) {
      if (needsCompaction(p) && isClosed(p.partition, nowMs, graceMs)) work.push(p);
    }
  }
  return work.sort((a, b) => `${a.partition.date}${a.partition.hour}`.localeCompare(`${b.partition.date}${b.partition.hour}`));
}

export async function compactPartition(connection: DuckDBConnection, p: PartitionFiles): Promise<CompactionResult> {
  const inputs = p.files.map((f) => join(p.dir, f));
  const digest = createHash('sha256').update(p.files.join('\n')).digest('hex').slice(0, 16);
  const name = `${COMPACTED_FILE_PREFIX}${digest}${PARQUET_EXTENSION}`;
  const target = join(p.dir, name);
  const temp = target + TEMP_SUFFIX;
  const key = TABLES[p.table].key.map(sqlIdentifier).join(', ');
  const index = p.table === 'posts' ? termIndexPath(target) : undefined;
  await connection.run(
    `COPY (
       SELECT * FROM read_parquet(${sqlStringList(inputs)}, union_by_name = true, hive_partitioning = false)
       QUALIFY row_number() OVER (PARTITION BY ${key} ORDER BY time_us) = 1
       ORDER BY time_us
     ) TO ${sqlString(temp)} (${index ? COMPACTED_POSTS_PARQUET_OPTIONS : COMPACTED_PARQUET_OPTIONS})`,
  );
  if (index) await writeTermIndex(connection, temp, index);
  await commitFile(temp, target);
  for (const input of inputs) if (input !== target) await rm(input, { force: true });
  if (index) {
    // The indexes of the files just merged away (or left by a crash) go with them.
    for (const entry of await readdirOrEmpty(p.dir)) {
      if (entry.endsWith(TERM_INDEX_EXTENSION) && join(p.dir, entry) !== index) await rm(join(p.dir, entry), { force: true });
    }
  }
  await fsyncPath(p.dir);
  const rows = await connection.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM read_parquet(${sqlString(target)})`);
  return {
    table: p.table,
    partition: p.partition,
    inputFiles: inputs.length,
    rows: Number(rows.getRowObjects()[0]?.n ?? 0),
    bytes: (await stat(target)).size,
    file: target,
  };
}
