// Rows -> zstd Parquet files, one per (table, partition) of a batch, through DuckDB.
//
// Rows are appended to an in-memory staging table (DuckDB's appender), copied to
// `<final>.tmp` with COPY ... TO (FORMAT parquet), fsynced and renamed over the
// final name, which derives from the batch id: a retried batch replaces its files.

import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBTimestampValue, LIST, VARCHAR, listValue, type DuckDBAppender } from '@duckdb/node-api';
import { commitFile } from '../shared/fs-atomic.ts';
import { sqlIdentifier, sqlString, type DuckDBConnection } from '../shared/duckdb.ts';
import { batchFileName, parsePartitionKey, partitionDir, TEMP_SUFFIX } from '../shared/layout.ts';
import type { Cell, Row } from '../shared/normalize.ts';
import { TABLE_NAMES, TABLES, type ColumnType, type TableName } from '../shared/tables.ts';

export interface WrittenFile {
  table: TableName;
  path: string;
  rows: number;
  bytes: number;
}

type AppendCell = (appender: DuckDBAppender, value: Cell) => void;

const VARCHAR_LIST = LIST(VARCHAR);

const APPENDERS: Record<ColumnType, AppendCell> = {
  VARCHAR: (a, v) => (v === null ? a.appendNull() : a.appendVarchar(v as string)),
  JSON: (a, v) => (v === null ? a.appendNull() : a.appendVarchar(v as string)),
  BIGINT: (a, v) => (v === null ? a.appendNull() : a.appendBigInt(BigInt(v as number))),
  BOOLEAN: (a, v) => (v === null ? a.appendNull() : a.appendBoolean(v as boolean)),
  TIMESTAMP: (a, v) => (v === null ? a.appendNull() : a.appendTimestamp(new DuckDBTimestampValue(BigInt(v as number)))),
  'VARCHAR[]': (a, v) => (v === null ? a.appendNull() : a.appendList(listValue(v as string[]), VARCHAR_LIST)),
};

/** Parquet writer settings for batch files: zstd at its fast default level, the writer's hot path. */
export const PARQUET_OPTIONS = 'FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880';
/**
 * Compacted files are written once an hour and kept for months: zstd level 9 makes
 * them about 6% smaller than level 3 for twice the (background) CPU.
 */
export const COMPACTED_PARQUET_OPTIONS = 'FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 9, ROW_GROUP_SIZE 122880';

export function stagingTable(table: TableName): string {
  return sqlIdentifier(`stage_${table}`);
}

export class ParquetSink {
  private readonly appenders: Record<TableName, AppendCell[]>;

  private constructor(
    private readonly connection: DuckDBConnection,
    private readonly dataDir: string,
  ) {
    this.appenders = Object.fromEntries(TABLE_NAMES.map((t) => [t, TABLES[t].columns.map((c) => APPENDERS[c.type])])) as Record<
      TableName,
      AppendCell[]
    >;
  }

  static async create(connection: DuckDBConnection, dataDir: string): Promise<ParquetSink> {
    for (const name of TABLE_NAMES) {
      const columns = TABLES[name].columns.map((c) => `${sqlIdentifier(c.name)} ${c.type}`).join(', ');
      await connection.run(`CREATE OR REPLACE TABLE ${stagingTable(name)} (${columns})`);
    }
    return new ParquetSink(connection, dataDir);
  }

  /** Writes one batch's groups; returns the files written. */
  async writeBatch(batchId: string, groups: Map<TableName, Map<string, Row[]>>): Promise<WrittenFile[]> {
    const written: WrittenFile[] = [];
    for (const [table, partitions] of groups) {
      for (const [key, rows] of partitions) {
        const dir = partitionDir(this.dataDir, table, parsePartitionKey(key));
        await mkdir(dir, { recursive: true });
        const path = join(dir, batchFileName(batchId));
        const bytes = await this.writeFile(table, rows, path);
        written.push({ table, path, rows: rows.length, bytes });
      }
    }
    return written;
  }

  private async writeFile(table: TableName, rows: readonly Row[], path: string): Promise<number> {
    const staging = stagingTable(table);
    const append = this.appenders[table];
    const appender = await this.connection.createAppender(`stage_${table}`);
    try {
      for (const row of rows) {
        for (let i = 0; i < append.length; i++) append[i]!(appender, row[i]!);
        appender.endRow();
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
    const temp = path + TEMP_SUFFIX;
    try {
      await this.connection.run(`COPY ${staging} TO ${sqlString(temp)} (${PARQUET_OPTIONS})`);
    } finally {
      await this.connection.run(`DELETE FROM ${staging}`);
    }
    await commitFile(temp, path);
    return (await stat(path)).size;
  }
}
