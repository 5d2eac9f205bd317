// Exactly-once verification: the events a source sent, against the rows in the
// Parquet store, compared by event identity (the same key the ingester uses to
// drop replays). Used by the end-to-end tests, the pipeline benchmark and the
// load tests.

import { existsSync } from 'node:fs';
import { eventKey, parseJetstreamEvent } from '../../services/shared/jetstream.ts';
import { tableOf } from '../../services/shared/normalize.ts';
import { tableDir, tableGlob } from '../../services/shared/layout.ts';
import { sqlString, type DuckDBConnection } from '../../services/shared/duckdb.ts';
import { TABLE_NAMES, TABLES, type TableName } from '../../services/shared/tables.ts';

export interface ExpectedEvents {
  byTable: Map<TableName, Set<string>>;
  valid: number;
  invalid: number;
  /** Bytes of JSON text of the valid events. */
  jsonBytes: number;
}

export interface TableIntegrity {
  expected: number;
  stored: number;
  missing: number;
  duplicates: number;
  unexpected: number;
}

export interface IntegrityReport extends TableIntegrity {
  tables: Partial<Record<TableName, TableIntegrity>>;
  /** A few keys of each problem, for the error message. */
  samples: { missing: string[]; duplicates: string[]; unexpected: string[] };
}

/** Keys of the valid events among raw frames, grouped by the table they belong in. */
export function expectedEvents(rawFrames: Iterable<string>, maxEventBytes = 1_048_576): ExpectedEvents {
  const byTable = new Map<TableName, Set<string>>();
  let valid = 0;
  let invalid = 0;
  let jsonBytes = 0;
  for (const raw of rawFrames) {
    const parsed = parseJetstreamEvent(raw, maxEventBytes);
    if (!parsed.ok) {
      invalid += 1;
      continue;
    }
    valid += 1;
    jsonBytes += Buffer.byteLength(raw);
    const table = tableOf(parsed.event);
    let keys = byTable.get(table);
    if (!keys) byTable.set(table, (keys = new Set()));
    keys.add(eventKey(parsed.event));
  }
  return { byTable, valid, invalid, jsonBytes };
}

/** The event key of every stored row, per table (a key appears once per row holding it). */
export async function storedKeys(connection: DuckDBConnection, dataDir: string): Promise<Map<TableName, string[]>> {
  const result = new Map<TableName, string[]>();
  for (const table of TABLE_NAMES) {
    const glob = tableGlob(dataDir, table);
    if (!existsSync(tableDir(dataDir, table))) {
      result.set(table, []);
      continue;
    }
    const source = `read_parquet(${sqlString(glob)}, hive_partitioning = false, union_by_name = true)`;
    const collection = TABLES[table].collection ? sqlString(TABLES[table].collection) : 'collection';
    const sql =
      table === 'identities' || table === 'accounts'
        ? `SELECT '${table === 'identities' ? 'i' : 'a'}|' || did || '|' || seq::VARCHAR AS k FROM ${source}`
        : `SELECT concat_ws('|', 'c', author_did, ${collection}, rkey, rev) AS k FROM ${source}`;
    try {
      const reader = await connection.runAndReadAll(sql);
      result.set(table, reader.getColumns()[0]?.map(String) ?? []);
    } catch (error) {
      if (/No files found/i.test((error as Error).message)) result.set(table, []);
      else throw error;
    }
  }
  return result;
}

export function compareKeys(expected: ExpectedEvents, stored: Map<TableName, string[]>): IntegrityReport {
  const report: IntegrityReport = {
    expected: 0,
    stored: 0,
    missing: 0,
    duplicates: 0,
    unexpected: 0,
    tables: {},
    samples: { missing: [], duplicates: [], unexpected: [] },
  };
  const sample = (list: string[], key: string) => list.length < 5 && list.push(key);
  for (const table of TABLE_NAMES) {
    const want = expected.byTable.get(table) ?? new Set<string>();
    const have = stored.get(table) ?? [];
    const counts = new Map<string, number>();
    for (const key of have) counts.set(key, (counts.get(key) ?? 0) + 1);
    const t: TableIntegrity = { expected: want.size, stored: have.length, missing: 0, duplicates: 0, unexpected: 0 };
    for (const key of want) {
      if (!counts.has(key)) {
        t.missing += 1;
        sample(report.samples.missing, `${table}:${key}`);
      }
    }
    for (const [key, count] of counts) {
      if (count > 1) {
        t.duplicates += count - 1;
        sample(report.samples.duplicates, `${table}:${key}`);
      }
      if (!want.has(key)) {
        t.unexpected += 1;
        sample(report.samples.unexpected, `${table}:${key}`);
      }
    }
    if (t.expected || t.stored) report.tables[table] = t;
    report.expected += t.expected;
    report.stored += t.stored;
    report.missing += t.missing;
    report.duplicates += t.duplicates;
    report.unexpected += t.unexpected;
  }
  return report;
}
