// SQL views over the Parquet store: one view per table, named after it, reading
// every committed file with its hive partition columns (date, hour), plus the
// derived `uri` of record tables. A table with no file yet gets an empty view of
// the declared columns, so queries never fail on a young store.

import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { sqlIdentifier, sqlString, type DuckDBConnection } from './duckdb.ts';
import { tableDir, tableGlob } from './layout.ts';
import { TABLE_NAMES, TABLES, hasRecordUri, uriSql, type TableName } from './tables.ts';

async function hasFiles(dataDir: string, table: TableName): Promise<boolean> {
  const dir = tableDir(dataDir, table);
  if (!existsSync(dir)) return false;
  return (await readdir(dir)).some((d) => d.startsWith('date='));
}

export async function createStoreViews(connection: DuckDBConnection, dataDir: string): Promise<void> {
  for (const table of TABLE_NAMES) {
    const name = sqlIdentifier(table);
    const uri = hasRecordUri(table) ? `, ${uriSql(table)} AS uri` : '';
    if (await hasFiles(dataDir, table)) {
      await connection.run(
        `CREATE OR REPLACE VIEW ${name} AS SELECT *${uri} FROM read_parquet(${sqlString(tableGlob(dataDir, table))}, hive_partitioning = true, union_by_name = true)`,
      );
    } else {
      const columns = TABLES[table].columns.map((c) => `NULL::${c.type} AS ${sqlIdentifier(c.name)}`).join(', ');
      await connection.run(`CREATE OR REPLACE VIEW ${name} AS SELECT *${uri} FROM (SELECT ${columns}, NULL::DATE AS "date", NULL::BIGINT AS "hour" WHERE false)`);
    }
  }
}
