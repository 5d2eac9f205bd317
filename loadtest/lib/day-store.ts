// One day of realistic posts written through the writer's own code (batch rows,
// the Parquet sink, compaction of the closed hours), as production would hold
// them: the store the query benchmark and the API load test run against.
//
// Building the planned day (2.3M posts) takes minutes, so a built store can be
// kept and reused: `ensureDayStore` rebuilds only when the store is missing,
// incomplete, or was written by different writer code (a digest of the source
// files that shape the files on disk is kept in a marker file).

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EventGenerator } from '../jetstream-replay/generator.ts';
import type { HistoryView } from '../jetstream-replay/source.ts';
import { openDuckDB } from '../../services/shared/duckdb.ts';
import { buildBatchRows } from '../../services/writer/batch.ts';
import { ParquetSink } from '../../services/writer/parquet-sink.ts';
import { compactPartition, findCompactionWork } from '../../services/writer/compaction.ts';
import { REPO_ROOT } from '../../base/paths.ts';

/** The day the benchmarks and load tests write (UTC). */
export const DEFAULT_DAY_START_MS = Date.parse('2026-11-20T00:00:00Z');
const DAY_US = 86_400_000_000;
const MARKER = 'day-store.json';

export interface DayStoreOptions {
  posts: number;
  seed: number;
  /** Start of the UTC day the posts are spread over. */
  dayStartMs?: number;
  /** Generator account pool (authors). */
  accounts?: number;
  onProgress?: (message: string, fields: object) => void;
}

export interface DayStoreInfo {
  posts: number;
  seed: number;
  dayStartMs: number;
  accounts: number;
  /** Digest of the writer code that wrote the store. */
  writerCode: string;
  buildSeconds: number;
  hours: number;
}

/** The window [start, end) of the day as ISO strings. */
export function dayWindow(dayStartMs = DEFAULT_DAY_START_MS): { start: string; end: string } {
  return { start: new Date(dayStartMs).toISOString(), end: new Date(dayStartMs + 86_400_000).toISOString() };
}

/**
 * The sources that decide what lands on disk: the writer's batch, sink and
 * compaction code (services/writer, minus the service around them), the shared
 * layout, tables and normalization, and the generator.
 */
const CODE_THAT_WRITES: Record<string, (name: string) => boolean> = {
  'services/writer': (n) => !['main.ts', 'config.ts', 'metrics.ts', 'instrument.ts', 'lease.ts', 'retention.ts', 'stream-consumer.ts', 'writer.ts'].includes(n),
  'services/shared': (n) => ['layout.ts', 'tables.ts', 'normalize.ts'].includes(n),
  'loadtest/jetstream-replay': (n) => ['generator.ts', 'vocabulary.ts', 'ids.ts', 'random.ts', 'source.ts'].includes(n),
};

/** Digest of the sources that decide what the writer puts on disk. */
export async function writerCodeDigest(): Promise<string> {
  const hash = createHash('sha256');
  for (const [dir, wanted] of Object.entries(CODE_THAT_WRITES)) {
    for (const name of (await readdir(join(REPO_ROOT, dir))).filter((n) => n.endsWith('.ts') && wanted(n)).sort()) {
      hash.update(`${dir}/${name}\0`).update(await readFile(join(REPO_ROOT, dir, name)));
    }
  }
  return hash.digest('hex').slice(0, 16);
}

/** Writes the day of posts through the writer's code into dataDir, then compacts every hour as production would. */
export async function buildDayStore(dataDir: string, options: DayStoreOptions): Promise<DayStoreInfo> {
  const log = options.onProgress ?? (() => undefined);
  const dayStartMs = options.dayStartMs ?? DEFAULT_DAY_START_MS;
  const accounts = options.accounts ?? 200_000;
  const { posts } = options;
  const { instance, connection } = await openDuckDB({ threads: 2 });
  try {
    const sink = await ParquetSink.create(connection, dataDir);
    const generator = new EventGenerator({ seed: options.seed, mix: 'posts', accounts });
    const step = DAY_US / posts;
    const history: HistoryView = { timeOf: (i) => dayStartMs * 1000 + Math.floor(i * step) };
    const started = performance.now();
    const batch = 50_000;
    for (let i = 0; i < posts; i += batch) {
      const entries = [];
      for (let j = i; j < Math.min(posts, i + batch); j++) entries.push({ id: `${1_790_000_000_000 + i}-${j - i}`, payload: generator.frame(j, history.timeOf(j), history).text });
      await sink.writeBatch(entries[0]!.id, buildBatchRows(entries).groups);
      if ((i / batch) % 10 === 0) log('writing posts', { written: i + entries.length, of: posts, seconds: Math.round((performance.now() - started) / 1000) });
    }
    const work = await findCompactionWork(dataDir, dayStartMs + 2 * 86_400_000, 0);
    for (const partition of work) await compactPartition(connection, partition);
    const buildSeconds = Math.round((performance.now() - started) / 1000);
    log('day written and compacted', { posts, seconds: buildSeconds, hours: work.length });
    return { posts, seed: options.seed, dayStartMs, accounts, writerCode: await writerCodeDigest(), buildSeconds, hours: work.length };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/**
 * The store under root/parquet: reused when its marker says it holds the same
 * day written by the same writer code, otherwise (re)built.
 */
export async function ensureDayStore(root: string, options: DayStoreOptions): Promise<{ dataDir: string; info: DayStoreInfo; reused: boolean }> {
  const dataDir = join(root, 'parquet');
  const markerPath = join(root, MARKER);
  const dayStartMs = options.dayStartMs ?? DEFAULT_DAY_START_MS;
  const accounts = options.accounts ?? 200_000;
  if (existsSync(markerPath)) {
    const info = JSON.parse(await readFile(markerPath, 'utf8')) as DayStoreInfo;
    const same = info.posts === options.posts && info.seed === options.seed && info.dayStartMs === dayStartMs && info.accounts === accounts;
    if (same && info.writerCode === (await writerCodeDigest())) return { dataDir, info, reused: true };
    options.onProgress?.('the kept store is for other settings or older writer code: rebuilding', { root });
  }
  await rm(markerPath, { force: true });
  await rm(dataDir, { recursive: true, force: true });
  await mkdir(dataDir, { recursive: true });
  const info = await buildDayStore(dataDir, options);
  await writeFile(markerPath, `${JSON.stringify(info, null, 2)}\n`);
  return { dataDir, info, reused: false };
}
