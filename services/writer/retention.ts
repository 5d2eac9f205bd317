// Retention: whole days older than RETENTION_DAYS are removed from every table.

import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tableDir } from '../shared/layout.ts';
import { TABLE_NAMES } from '../shared/tables.ts';

const DAY_MS = 86_400_000;

/** Removes `date=` partitions strictly older than `days` days before `nowMs`; returns the removed directories. */
export async function applyRetention(dataDir: string, days: number, nowMs: number): Promise<string[]> {
  const cutoff = new Date(nowMs - days * DAY_MS).toISOString().slice(0, 10);
  const removed: string[] = [];
  for (const table of TABLE_NAMES) {
    let dateDirs: string[];
    try {
      dateDirs = await readdir(tableDir(dataDir, table));
    } catch {
      continue;
    }
    for (const dateDir of dateDirs) {
      const date = /^date=(\d{4}-\d{2}-\d{2})$/.exec(dateDir)?.[1];
      if (date && date < cutoff) {
        const path = join(tableDir(dataDir, table), dateDir);
        await rm(path, { recursive: true, force: true });
        removed.push(path);
      }
    }
  }
  return removed;
}
