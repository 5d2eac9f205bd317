// Row counts of every table of a Parquet store: what a backup records at snapshot time
// (backup.sh runs this in the app image against its hard-link copy of the store) and
// what the restore drill recounts in the restored copy.
//
//   node deploy/backup/manifest.js <parquet-dir>   -> {"posts":{"rows":12,"files":3},...}

import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openDuckDB, sqlString } from '../../services/shared/duckdb.ts';
import { PARQUET_EXTENSION, tableGlob } from '../../services/shared/layout.ts';
import { TABLE_NAMES, type TableName } from '../../services/shared/tables.ts';

export interface TableCount {
  rows: number;
  files: number;
}

export type TableCounts = Record<TableName, TableCount>;

async function parquetFiles(dir: string): Promise<number> {
  try {
    const entries = await readdir(dir, { recursive: true });
    return entries.filter((e) => e.endsWith(PARQUET_EXTENSION)).length;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}

export async function countTables(dataDir: string): Promise<TableCounts> {
  const { instance, connection } = await openDuckDB({ threads: 2 });
  try {
    const counts = {} as TableCounts;
    for (const table of TABLE_NAMES) {
      const files = await parquetFiles(join(dataDir, table));
      let rows = 0;
      if (files > 0) {
        const reader = await connection.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM read_parquet(${sqlString(tableGlob(dataDir, table))}, hive_partitioning = true)`);
        rows = Number(reader.getRowObjects()[0]?.n ?? 0);
      }
      counts[table] = { rows, files };
    }
    return counts;
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: manifest <parquet-dir>\n');
    process.exit(2);
  }
  process.stdout.write(`${JSON.stringify(await countTables(dir))}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    process.stderr.write(`manifest: ${(error as Error).message}\n`);
    process.exit(1);
  });
}
