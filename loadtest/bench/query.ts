// `npm run bench:query -- --posts N`: N realistic posts spread over one day,
// written through the writer's own code (loadtest/lib/day-store.ts: batch rows,
// Parquet sink, compaction of the closed hours), then a fixed mix of API
// queries measured one client at a time: rare word (absent from the data: a scan of the whole day, the worst
// case without the term index), rare present word (in a few posts an hour: the
// term index finds rows in every hour), common word, author, hashtag, language, a
// page deep in pagination, stats, and Bluesky's search syntax (q): words with lang:,
// a rare phrase with an exclusion, from: with since:/until:, mentions:, domain:. The baseline is the plain DuckDB scan every text search
// would be without partition pruning and early stopping: the whole day, in the
// same process. The last line printed is one JSON object.

import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openDuckDB } from '../../services/shared/duckdb.ts';
import { PARQUET_EXTENSION, TERM_INDEX_EXTENSION, tableGlob } from '../../services/shared/layout.ts';
import { loadApiConfig } from '../../services/api/config.ts';
import { createApi } from '../../services/api/server.ts';
import { createLogger } from '../../services/shared/logger.ts';
import { DEFAULT_DAY_START_MS, buildDayStore } from '../lib/day-store.ts';

const { values } = parseArgs({
  options: {
    posts: { type: 'string', default: '2300000' },
    runs: { type: 'string', default: '15' },
    seed: { type: 'string', default: '7' },
    'data-dir': { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const posts = Number(values.posts);
const runs = Number(values.runs);
if (!Number.isInteger(posts) || posts < 1000) throw new Error('--posts must be an integer >= 1000');
if (!Number.isInteger(runs) || runs < 3) throw new Error('--runs must be an integer >= 3');

const DAY_START_MS = DEFAULT_DAY_START_MS;
const log = (message: string, fields: object = {}) => console.error(`[bench] ${message} ${JSON.stringify(fields)}`);

/** Bytes of the posts files and of their term indexes. */
async function postsBytes(dataDir: string): Promise<{ parquet: number; termIndex: number }> {
  const bytes = { parquet: 0, termIndex: 0 };
  for (const entry of await readdir(join(dataDir, 'posts'), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const size = (await stat(join(entry.parentPath, entry.name))).size;
    if (entry.name.endsWith(PARQUET_EXTENSION)) bytes.parquet += size;
    if (entry.name.endsWith(TERM_INDEX_EXTENSION)) bytes.termIndex += size;
  }
  return bytes;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function main(): Promise<void> {
  const root = values['data-dir'] ?? (await mkdtemp(join(tmpdir(), 'bpe-bench-query-')));
  const dataDir = join(root, 'parquet');
  if (!existsSync(join(dataDir, 'posts'))) await buildDayStore(dataDir, { posts, seed: Number(values.seed), onProgress: log });
  else log('reusing the store', { dataDir });

  // Query cost alone: no API keys (they need Redis) and no rate limits in the way.
  const config = loadApiConfig({
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    CACHE_TTL_SECONDS: '0',
    QUERY_TIMEOUT_MS: '60000',
    API_AUTH: 'off',
    RATE_LIMIT_IP_MAX: '1000000',
    RATE_LIMIT_KEY_MAX: '1000000',
    RATE_LIMIT_EXPORT_MAX: '1000000',
  });
  const api = await createApi(config, createLogger('api', 'warn'));
  const window = `start=${new Date(DAY_START_MS).toISOString()}&end=${new Date(DAY_START_MS + 86_400_000).toISOString()}`;
  // The same day as q's since: and until: (whole UTC days).
  const [day, nextDay] = [new Date(DAY_START_MS).toISOString().slice(0, 10), new Date(DAY_START_MS + 86_400_000).toISOString().slice(0, 10)];
  const get = async (url: string) => {
    const started = performance.now();
    const response = await api.app.inject({ method: 'GET', url });
    const ms = performance.now() - started;
    if (response.statusCode !== 200) throw new Error(`${url} -> ${response.statusCode} ${response.body.slice(0, 200)}`);
    return { ms, body: response.json<{ meta?: { next_cursor?: string | null; count?: number } }>() };
  };

  // Pick the inputs from the data itself: the rarest and commonest words of the
  // vocabulary, busy authors, popular hashtags.
  const { instance, connection } = await openDuckDB({ threads: 2 });
  const all = `read_parquet('${tableGlob(dataDir, 'posts')}')`;
  const pick = async (sql: string) => (await connection.runAndReadAll(sql)).getRowObjectsJS().map((r) => Object.values(r)[0] as string);
  // Rare words: absent from the data, so the whole day is scanned (the worst case of a text search).
  const words = ['zebracorn', 'snollygoster', 'frabjous', 'xylograph', 'quockerwodger'];
  // Rare present words: in 24 to 96 posts of the day (handles in mentions), one to four an hour.
  const present = await pick(
    `SELECT w FROM (SELECT unnest(regexp_extract_all(lower(text), '[a-z0-9]{8,}')) AS w FROM ${all}) GROUP BY w HAVING count(*) BETWEEN 24 AND 96 ORDER BY w LIMIT 5`,
  );
  const authors = await pick(`SELECT author_did FROM ${all} GROUP BY author_did ORDER BY count(*) DESC LIMIT 40`);
  const tags = await pick(`SELECT tag FROM (SELECT unnest(hashtags) AS tag FROM ${all} USING SAMPLE 50000) GROUP BY tag ORDER BY count(*) DESC LIMIT 5`);
  const mentioned = await pick(`SELECT m FROM (SELECT unnest(mentions) AS m FROM ${all} USING SAMPLE 50000) GROUP BY m ORDER BY count(*) DESC LIMIT 5`);

  // Baseline: the whole day scanned for a rare word with plain DuckDB.
  const baseline: number[] = [];
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    await connection.runAndReadAll(`SELECT count(*) FROM ${all} WHERE contains(lower(text), '${words[i % words.length]!}')`); // the old design's LIKE-style scan
    baseline.push(performance.now() - started);
  }
  connection.closeSync();
  instance.closeSync();

  const types: Record<string, (run: number) => Promise<number>> = {
    rare_word: async (r) => (await get(`/v1/search?${window}&text=${encodeURIComponent(words[r % words.length]!)}`)).ms,
    rare_present_word: async (r) => (await get(`/v1/search?${window}&text=${encodeURIComponent(present[r % present.length]!)}`)).ms,
    common_word: async (r) => (await get(`/v1/search?${window}&text=${['the', 'and', 'to', 'of', 'is'][r % 5]!}`)).ms,
    author: async (r) => (await get(`/v1/search?${window}&username=${encodeURIComponent(authors[(r * 7) % authors.length]!)}`)).ms,
    hashtag: async (r) => (await get(`/v1/search?${window}&hashtag=${encodeURIComponent(tags[r % tags.length]!)}`)).ms,
    language: async (r) => (await get(`/v1/search?${window}&lang=${['ja', 'pt', 'de', 'es', 'ko'][r % 5]!}`)).ms,
    deep_page: async (r) => {
      // Follow 20 pages of a common word; time the 20th.
      let url = `/v1/search?${window}&text=${['the', 'and', 'my'][r % 3]!}&limit=50`;
      let ms = 0;
      for (let page = 0; page < 20; page++) {
        const { ms: took, body } = await get(url);
        ms = took;
        if (!body.meta?.next_cursor) break;
        url = `/v1/search?${window}&text=${['the', 'and', 'my'][r % 3]!}&limit=50&cursor=${body.meta.next_cursor}`;
      }
      return ms;
    },
    q_words_lang: async (r) => (await get(`/v1/search?${window}&q=${encodeURIComponent(`${['the', 'and', 'my'][r % 3]!} ${['coffee', 'morning', 'people', 'today', 'love'][r % 5]!} lang:en`)}`)).ms,
    q_phrase_exclusion: async (r) => (await get(`/v1/search?${window}&q=${encodeURIComponent(`"${present[r % present.length]!}" -the`)}`)).ms,
    q_from_since_until: async (r) => (await get(`/v1/search?q=${encodeURIComponent(`from:${authors[(r * 11) % authors.length]!} -the since:${day} until:${nextDay}`)}`)).ms,
    q_mentions: async (r) => (await get(`/v1/search?${window}&q=${encodeURIComponent(`mentions:${mentioned[r % mentioned.length]!}`)}`)).ms,
    q_domain: async (r) => (await get(`/v1/search?${window}&q=${encodeURIComponent(`domain:${['youtube.com', 'github.com', 'en.wikipedia.org'][r % 3]!}`)}`)).ms,
    stats_timeseries: async () => (await get(`/v1/stats/timeseries?${window}&interval=hour`)).ms,
    stats_hashtags: async () => (await get(`/v1/stats/hashtags?${window}&limit=20`)).ms,
  };

  const results: Record<string, { p50_ms: number; p95_ms: number; runs: number }> = {};
  const everything: number[] = [];
  for (const [name, run] of Object.entries(types)) {
    await run(runs); // warm-up: the first touch of each file reads its footer
    const times: number[] = [];
    for (let r = 0; r < runs; r++) times.push(await run(r));
    times.sort((a, b) => a - b);
    everything.push(...times);
    results[name] = { p50_ms: Math.round(percentile(times, 50)), p95_ms: Math.round(percentile(times, 95)), runs };
    log(name, results[name]);
  }
  everything.sort((a, b) => a - b);
  await api.close();
  const storage = await postsBytes(dataDir); // before the store is removed
  if (!values['data-dir'] && !values.keep) await rm(root, { recursive: true, force: true });
  else log('kept the store', { dataDir });

  const baselineMs = baseline.sort((a, b) => a - b)[1]!;
  const overall = { p50_ms: Math.round(percentile(everything, 50)), p95_ms: Math.round(percentile(everything, 95)) };
  console.log(
    JSON.stringify({
      posts,
      ...Object.fromEntries(Object.entries(results).map(([k, v]) => [k, { p50_ms: v.p50_ms, p95_ms: v.p95_ms }])),
      overall,
      baseline_full_day_scan_ms: Math.round(baselineMs),
      ratio_p95_to_baseline: Number((overall.p95_ms / baselineMs).toFixed(3)),
      runs_per_type: runs,
      posts_parquet_bytes: storage.parquet,
      term_index_bytes: storage.termIndex,
    }),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
