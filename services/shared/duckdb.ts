// DuckDB helpers shared by the writer, compaction and the API.

import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

export type { DuckDBConnection };

export interface DuckDBOptions {
  memoryLimit?: string;
  threads?: number;
}

/** An in-memory DuckDB: the Parquet files are the store, DuckDB only computes. */
export async function openDuckDB(options: DuckDBOptions = {}): Promise<{ instance: DuckDBInstance; connection: DuckDBConnection }> {
  const config: Record<string, string> = {
    // Nothing may be fetched at run time on these machines (and no query needs it).
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  };
  if (options.memoryLimit) config.memory_limit = options.memoryLimit;
  if (options.threads) config.threads = String(options.threads);
  const instance = await DuckDBInstance.create(':memory:', config);
  const connection = await instance.connect();
  return { instance, connection };
}

/** A SQL string literal, for the places DuckDB takes no parameter (COPY targets, file lists). */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A SQL list of string literals: ['a', 'b']. */
export function sqlStringList(values: readonly string[]): string {
  return `[${values.map(sqlString).join(', ')}]`;
}

/** A double-quoted identifier. */
export function sqlIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
