// Parquet exports: DuckDB writes the export query (post-query.ts) to a temporary
// file with COPY ... TO (FORMAT parquet, COMPRESSION zstd), and the route sends
// the finished file with its Content-Length. A Parquet file is only readable once
// its footer is written, so unlike CSV and NDJSON it cannot be streamed as the
// rows come: the file exists between the end of the query and the end of the
// response, and nowhere else. Whoever holds a ParquetExport removes it, whatever
// happens (the query fails or times out, the client goes away, sending fails).

import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Queryable } from './query-engine.ts';
import { sqlString } from '../shared/duckdb.ts';
import { parquetExportQuery, type PostFilters } from './post-query.ts';
import type { StoreIndex } from './store-index.ts';

/** The directories of exports being written or sent start with this, in the system's temporary directory. */
export const EXPORT_TMP_PREFIX = 'bpe-export-';

export interface ParquetExport {
  path: string;
  rows: number;
  bytes: number;
  /** Deletes the file and its directory; safe to call more than once. */
  remove(): Promise<void>;
}

/** Writes the export of `filters` (at most maxRows rows) to a new temporary Parquet file. */
export async function writeParquetExport(connection: Queryable, store: StoreIndex, filters: PostFilters, maxRows: number): Promise<ParquetExport> {
  // A directory of its own (mode 0700, an unguessable name) per export: no other user
  // of the machine can read or replace the file while it is written and sent.
  const dir = await mkdtemp(join(tmpdir(), EXPORT_TMP_PREFIX));
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    const path = join(dir, 'posts.parquet');
    const { sql, params } = await parquetExportQuery(connection, store, filters, maxRows);
    // COPY answers with the number of rows it wrote.
    const reader = await connection.runAndReadAll(`COPY (${sql}) TO ${sqlString(path)} (FORMAT parquet, COMPRESSION zstd)`, params);
    const rows = Number(reader.getRowObjectsJS()[0]?.Count ?? 0);
    return { path, rows, bytes: (await stat(path)).size, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}
