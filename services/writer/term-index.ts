// The term index of a compacted posts file (the declaration, with why it is shaped
// so: services/shared/tables.ts, TERM_INDEX): the distinct terms of the file's
// texts, each with how many rows hold it and, for the rare ones, which rows.
//
// It is built by compaction, from the merged file before that file is committed,
// with one DuckDB statement: the writer's hot path (batches) never pays for it, and
// an index can never be older than the file it describes. Rows are numbered as in
// the committed file (file_row_number): renaming does not change them.
//
// Rows are sorted by term: similar terms sit together, which is what zstd
// compresses best. A search reads the whole dictionary anyway (a substring can
// be anywhere in a term), so there is nothing to prune by term.

import { commitFile } from '../shared/fs-atomic.ts';
import { sqlString, type DuckDBConnection } from '../shared/duckdb.ts';
import { TEMP_SUFFIX } from '../shared/layout.ts';
import { TERM_INDEX, termSplitSql } from '../shared/tables.ts';

/** Written once per closed hour and kept as long as the posts: zstd level 9, like compacted files. */
const TERM_INDEX_PARQUET_OPTIONS = 'FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 9';

/** The SELECT of an index over one posts file: term, n, row_ids (see TERM_INDEX). */
export function termIndexSql(postsFile: string): string {
  return `
    SELECT term, count(*)::UINTEGER AS n,
           CASE WHEN count(*) <= ${TERM_INDEX.maxPostings} THEN list(row_id ORDER BY row_id) END AS row_ids
    FROM (
      SELECT DISTINCT term, file_row_number::UINTEGER AS row_id
      FROM (SELECT file_row_number, unnest(${termSplitSql('text')}) AS term FROM read_parquet(${sqlString(postsFile)}, file_row_number = true))
      WHERE term <> ''
    )
    GROUP BY term
    ORDER BY term`;
}

/** Writes the term index of `postsFile` to `target` atomically (temporary name, fsync, rename). */
export async function writeTermIndex(connection: DuckDBConnection, postsFile: string, target: string): Promise<void> {
  const temp = target + TEMP_SUFFIX;
  await connection.run(`COPY (${termIndexSql(postsFile)}) TO ${sqlString(temp)} (${TERM_INDEX_PARQUET_OPTIONS})`);
  await commitFile(temp, target);
}
