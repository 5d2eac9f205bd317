// Which Parquet files hold a table's rows for a time window, hour by hour, newest
// first. This is the partition pruning of every query: only the hours of the window
// are ever opened. Directory listings are cached briefly (the writer adds a file per
// table every batch, so a few seconds of staleness is the freshness cost).

import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PARQUET_EXTENSION, partitionDir, partitionRangeUs, tableDir, type Partition } from '../shared/layout.ts';
import type { TableName } from '../shared/tables.ts';

export interface HourFiles {
  partition: Partition;
  startUs: number;
  endUs: number;
  /** Absolute paths of the committed files of the hour. */
  files: string[];
}

const HOUR_MS = 3_600_000;

export class StoreIndex {
  private readonly cache = new Map<string, { at: number; entries: Promise<string[]> }>();

  constructor(
    readonly dataDir: string,
    private readonly ttlMs = 2000,
  ) {}

  /** The hours of [startUs, endUs) that hold files, newest first. */
  async hours(table: TableName, startUs: number, endUs: number): Promise<HourFiles[]> {
    const result: HourFiles[] = [];
    const first = Math.floor(startUs / 1000 / HOUR_MS) * HOUR_MS;
    const dates = new Map<string, string[]>();
    for (let t = Math.floor((endUs - 1) / 1000 / HOUR_MS) * HOUR_MS; t >= first; t -= HOUR_MS) {
      const iso = new Date(t).toISOString();
      const partition = { date: iso.slice(0, 10), hour: iso.slice(11, 13) };
      let hoursOfDate = dates.get(partition.date);
      if (!hoursOfDate) dates.set(partition.date, (hoursOfDate = await this.list(join(tableDir(this.dataDir, table), `date=${partition.date}`))));
      if (!hoursOfDate.includes(`hour=${partition.hour}`)) continue;
      const dir = partitionDir(this.dataDir, table, partition);
      const files = (await this.list(dir)).filter((f) => f.endsWith(PARQUET_EXTENSION)).map((f) => join(dir, f));
      if (files.length === 0) continue;
      result.push({ partition, ...partitionRangeUs(partition), files });
    }
    return result;
  }

  /** Every hour of a table (for side tables that follow the whole store). */
  async allHours(table: TableName): Promise<HourFiles[]> {
    const dates = (await this.list(tableDir(this.dataDir, table))).filter((d) => d.startsWith('date=')).sort();
    if (dates.length === 0) return [];
    const start = Date.parse(`${dates[0]!.slice(5)}T00:00:00Z`) * 1000;
    const end = Date.parse(`${dates.at(-1)!.slice(5)}T00:00:00Z`) * 1000 + 24 * HOUR_MS * 1000;
    return this.hours(table, start, end);
  }

  private list(dir: string): Promise<string[]> {
    const now = Date.now();
    const cached = this.cache.get(dir);
    if (cached && now - cached.at < this.ttlMs) return cached.entries;
    const entries = readdir(dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    });
    this.cache.set(dir, { at: now, entries });
    if (this.cache.size > 50_000) this.cache.clear();
    return entries;
  }
}
