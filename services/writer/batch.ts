// Stream entries -> table rows grouped by partition, deterministically: the same
// entries always give the same groups in the same order, which is what lets a
// retried batch rewrite the very same files.

import { eventKey, validateJetstreamEvent } from '../shared/jetstream.ts';
import { partitionKey, partitionOf } from '../shared/layout.ts';
import { normalize, type Row } from '../shared/normalize.ts';
import type { DeadLetter } from '../shared/dead-letters.ts';
import type { TableName } from '../shared/tables.ts';
import type { StreamEntry } from './stream-consumer.ts';

export interface BatchRows {
  /** table -> partition key (date/hour) -> rows in stream order */
  groups: Map<TableName, Map<string, Row[]>>;
  events: number;
  /** Events that appeared twice in the batch (the later copies are dropped). */
  duplicates: number;
  deadLetters: DeadLetter[];
  rowsPerTable: Partial<Record<TableName, number>>;
  /** Newest event time in the batch (µs), for freshness. */
  maxTimeUs: number;
}

export function buildBatchRows(entries: readonly StreamEntry[]): BatchRows {
  const groups = new Map<TableName, Map<string, Row[]>>();
  const seen = new Set<string>();
  const deadLetters: DeadLetter[] = [];
  const rowsPerTable: Partial<Record<TableName, number>> = {};
  let duplicates = 0;
  let maxTimeUs = 0;
  for (const entry of entries) {
    if (entry.payload === undefined) {
      deadLetters.push({ reason: 'missing_payload', detail: `stream entry ${entry.id} has no field e`, raw: '', source: 'writer' });
      continue;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(entry.payload);
    } catch (error) {
      deadLetters.push({ reason: 'invalid_json', detail: (error as Error).message, raw: entry.payload, source: 'writer' });
      continue;
    }
    // Entries come from the ingester, which validated them; this guards against
    // anything else that wrote to the stream.
    const result = validateJetstreamEvent(parsed);
    if (!result.ok) {
      deadLetters.push({ reason: result.reason, detail: result.detail, raw: entry.payload, source: 'writer' });
      continue;
    }
    const key = eventKey(result.event);
    if (seen.has(key)) {
      duplicates += 1;
      continue;
    }
    seen.add(key);
    const { table, row } = normalize(result.event);
    const partition = partitionKey(partitionOf(result.event.time_us));
    let byPartition = groups.get(table);
    if (!byPartition) groups.set(table, (byPartition = new Map<string, Row[]>()));
    let rows = byPartition.get(partition);
    if (!rows) byPartition.set(partition, (rows = []));
    rows.push(row);
    rowsPerTable[table] = (rowsPerTable[table] ?? 0) + 1;
    if (result.event.time_us > maxTimeUs) maxTimeUs = result.event.time_us;
  }
  return { groups, events: entries.length, duplicates, deadLetters, rowsPerTable, maxTimeUs };
}
