// Compaction of closed hours and retention, on real Parquet files written by the
// writer's own sink: one file per partition, each row once, idempotent, and
// repaired after a crash between writing the merged file and deleting its inputs.

import { copyFile, mkdir, readdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDuckDB, type DuckDBConnection } from '../services/shared/duckdb.ts';
import { generateFrames } from '../loadtest/jetstream-replay/generator.ts';
import { buildBatchRows } from '../services/writer/batch.ts';
import { ParquetSink } from '../services/writer/parquet-sink.ts';
import { POSTS_ROW_GROUP_SIZE, compactPartition, findCompactionWork, isClosed, listPartitions } from '../services/writer/compaction.ts';
import { TERM_INDEX_EXTENSION, termIndexPath } from '../services/shared/layout.ts';
import { sqlString } from '../services/shared/duckdb.ts';
import { applyRetention } from '../services/writer/retention.ts';
import { compareKeys, expectedEvents, storedKeys } from '../loadtest/lib/integrity.ts';
import { removeDir, tempDir } from './helpers/pipeline.ts';
import type { DuckDBInstance } from '@duckdb/node-api';


describe('compaction and retention', () => {
  let dir: string;
  let instance: DuckDBInstance;
  let connection: DuckDBConnection;
  let sink: ParquetSink;
  // 6,000 events over three hours of 2026-07-04, 1.8 s apart.
  const start = Date.parse('2026-07-04T10:00:00Z') * 1000;
  const frames = generateFrames({ seed: 8 }, 6000, start, 1_800_000).map((f) => f.text);

  beforeAll(async () => {
    dir = await tempDir('compaction');
    ({ instance, connection } = await openDuckDB({ threads: 2 }));
    sink = await ParquetSink.create(connection, dir);
    // Four batches, like four writer batches, plus one batch written twice under
    // another name: a duplicate that only compaction can remove.
    for (let b = 0; b < 4; b++) {
      const entries = frames.slice(b * 1500, (b + 1) * 1500).map((payload, i) => ({ id: `${1000 + b}-${i}`, payload }));
      await sink.writeBatch(entries[0]!.id, buildBatchRows(entries).groups);
    }
    const again = frames.slice(0, 500).map((payload, i) => ({ id: `2000-${i}`, payload }));
    await sink.writeBatch(again[0]!.id, buildBatchRows(again).groups);
  });
  afterAll(async () => {
    connection.closeSync();
    instance.closeSync();
    await removeDir(dir);
  });

  it('an hour is closed only once its grace period has passed', () => {
    const partition = { date: '2026-07-04', hour: '10' };
    const end = Date.parse('2026-07-04T11:00:00Z');
    expect(isClosed(partition, end + 9 * 60_000, 10 * 60_000)).toBe(false);
    expect(isClosed(partition, end + 10 * 60_000, 10 * 60_000)).toBe(true);
  });

  it('merges each closed partition into one file holding every row exactly once', async () => {
    const before = compareKeys(expectedEvents(frames), await storedKeys(connection, dir));
    expect(before.missing).toBe(0);
    expect(before.duplicates).toBe(500);

    const work = await findCompactionWork(dir, Date.now(), 10 * 60_000);
    expect(work.length).toBeGreaterThan(10); // 10 tables x 3 hours, minus tables without rows in an hour
    for (const partition of work) {
      const result = await compactPartition(connection, partition);
      expect(result.file).toMatch(/\/c-[0-9a-f]{16}\.parquet$/);
    }
    for (const table of ['posts', 'likes', 'follows'] as const) {
      for (const p of await listPartitions(dir, table)) expect(p.files).toHaveLength(1);
    }
    const after = compareKeys(expectedEvents(frames), await storedKeys(connection, dir));
    expect(after).toMatchObject({ missing: 0, duplicates: 0, unexpected: 0 });
    // Compacted files are sorted by time.
    const [posts] = await listPartitions(dir, 'posts');
    const times = (await connection.runAndReadAll(`SELECT time_us::DOUBLE AS t FROM read_parquet('${join(posts!.dir, posts!.files[0]!)}')`)).getColumns()[0] as number[];
    expect(times).toEqual([...times].sort((a, b) => a - b));
    // A second pass has nothing to do.
    expect(await findCompactionWork(dir, Date.now(), 10 * 60_000)).toEqual([]);
  });

  it('writes the term index of each compacted posts file beside it, and of no other table', async () => {
    for (const p of await listPartitions(dir, 'posts')) {
      const file = join(p.dir, p.files[0]!);
      expect((await readdir(p.dir)).filter((f) => f.endsWith(TERM_INDEX_EXTENSION))).toEqual([p.files[0]!.replace('.parquet', TERM_INDEX_EXTENSION)]);
      // Every text term is there with its rows (the exact content is checked in test/term-index.test.ts).
      const index = (await connection.runAndReadAll(`SELECT count(*)::INTEGER AS terms, sum(n)::INTEGER AS postings FROM read_parquet(${sqlString(termIndexPath(file)!)})`)).getRowObjectsJS()[0]!;
      expect(index.terms).toBeGreaterThan(100);
      expect(index.postings).toBeGreaterThan(index.terms as number);
      // Posts are written in small row groups, so reading a few rows reads little.
      const groups = (await connection.runAndReadAll(`SELECT max(row_group_num_rows)::INTEGER AS most FROM parquet_metadata(${sqlString(file)})`)).getRowObjectsJS()[0]!;
      expect(groups.most).toBeLessThanOrEqual(POSTS_ROW_GROUP_SIZE);
    }
    for (const table of ['likes', 'follows', 'profiles'] as const) {
      for (const p of await listPartitions(dir, table)) expect((await readdir(p.dir)).some((f) => f.endsWith(TERM_INDEX_EXTENSION))).toBe(false);
    }
  });

  it('converges after a crash left the inputs beside the merged file, and after late events', async () => {
    const [likes] = await listPartitions(dir, 'likes');
    const compacted = join(likes!.dir, likes!.files[0]!);
    // Simulate the crash: the inputs are still there next to their merged file.
    await copyFile(compacted, join(likes!.dir, 'b-999-0.parquet'));
    // And a late event for that hour arrives in a new batch file.
    const late = frames.filter((f) => f.includes('app.bsky.feed.like')).slice(0, 1);
    await sink.writeBatch('3000-0', buildBatchRows([{ id: '3000-0', payload: late[0]! }]).groups);

    const [work] = (await findCompactionWork(dir, Date.now(), 10 * 60_000)).filter((w) => w.table === 'likes');
    expect(work!.files.length).toBe(3);
    await compactPartition(connection, work!);
    expect((await readdir(likes!.dir)).filter((f) => f.endsWith('.parquet'))).toHaveLength(1);
    expect(compareKeys(expectedEvents(frames), await storedKeys(connection, dir))).toMatchObject({ missing: 0, duplicates: 0 });
  });

  it('a recompacted posts hour gets a new index, and the index of the file it replaced is deleted', async () => {
    const [posts] = await listPartitions(dir, 'posts');
    const compacted = join(posts!.dir, posts!.files[0]!);
    const oldIndex = termIndexPath(compacted)!;
    // A late post for that hour, and an index left behind by a crash with no file of its own.
    const late = frames.filter((f) => f.includes('app.bsky.feed.post') && f.includes('"operation":"create"')).slice(0, 1);
    await sink.writeBatch('4000-0', buildBatchRows([{ id: '4000-0', payload: late[0]! }]).groups);
    await copyFile(oldIndex, join(posts!.dir, `c-0123456789abcdef${TERM_INDEX_EXTENSION}`));

    const [work] = (await findCompactionWork(dir, Date.now(), 10 * 60_000)).filter((w) => w.table === 'posts' && w.dir === posts!.dir);
    const result = await compactPartition(connection, work!);
    expect(result.file).not.toBe(compacted);
    expect((await readdir(posts!.dir)).sort()).toEqual([basename(result.file), basename(termIndexPath(result.file)!)].sort());
  });

  it('retention removes whole days older than the limit, and nothing else', async () => {
    const [recent] = await listPartitions(dir, 'posts');
    const old = join(dir, 'posts', 'date=2026-06-01', 'hour=00');
    await mkdir(old, { recursive: true });
    await copyFile(join(recent!.dir, recent!.files[0]!), join(old, 'c-old.parquet'));
    const removed = await applyRetention(dir, 30, Date.parse('2026-07-05T00:00:00Z'));
    expect(removed).toEqual([join(dir, 'posts', 'date=2026-06-01')]);
    expect((await listPartitions(dir, 'posts')).length).toBe(3);
    await rm(old, { recursive: true, force: true });
  });
});
