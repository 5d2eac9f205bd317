// The term index of compacted posts (services/writer/term-index.ts builds it,
// services/api/term-index.ts reads it) changes what a text search reads, never
// what it returns. Checked three ways:
//   - the properties of the term splitting the search relies on, over every code point;
//   - the index written by compaction, against an independent JavaScript reading of
//     the posts;
//   - search and export answers with the index against the same store with its
//     index files removed (so every hour is scanned), on seeded data, the edge cases
//     of test/helpers/api-fixture.ts and random substrings of stored texts; and on
//     busy hours whose common words are too frequent to look up.

import { cp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFrames } from '../loadtest/jetstream-replay/generator.ts';
import { openDuckDB, sqlString, type DuckDBConnection } from '../services/shared/duckdb.ts';
import { TERM_INDEX_EXTENSION, termIndexPath } from '../services/shared/layout.ts';
import { TERM_INDEX, termSplitSql } from '../services/shared/tables.ts';
import { searchWords, selectFiles } from '../services/api/term-index.ts';
import { StoreIndex } from '../services/api/store-index.ts';
import { removeDir, tempDir } from './helpers/pipeline.ts';
import { SPECIAL_TEXTS, WINDOW_END, WINDOW_START, buildStore, specialFrames, startTestApi, writeStore, type ApiFixture, type TestApi } from './helpers/api-fixture.ts';
import type { DuckDBInstance } from '@duckdb/node-api';

const WORD = TERM_INDEX.wordCharacters;
const UNSPACED = TERM_INDEX.unspacedScripts;

/** A copy of a store without its term index files: every hour is scanned. */
async function copyWithoutIndex(from: string, to: string): Promise<void> {
  await cp(from, to, { recursive: true });
  for (const entry of await readdir(to, { recursive: true })) if (entry.endsWith(TERM_INDEX_EXTENSION)) await rm(join(to, entry));
}

async function allPages(api: TestApi, params: Record<string, string>): Promise<string[]> {
  const uris: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const q = new URLSearchParams({ limit: '1000', ...params, ...(cursor ? { cursor } : {}) });
    const response = await api.app.inject({ method: 'GET', url: `/v1/search?${q.toString()}` });
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json<{ results: { uri: string }[]; meta: { next_cursor: string | null } }>();
    uris.push(...body.results.map((r) => r.uri));
    if (!body.meta.next_cursor) return uris;
    cursor = body.meta.next_cursor;
  }
  throw new Error('too many pages');
}

/** A seeded pseudo-random generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('term splitting', () => {
  let instance: DuckDBInstance;
  let connection: DuckDBConnection;
  beforeAll(async () => {
    ({ instance, connection } = await openDuckDB({ threads: 2 }));
  });
  afterAll(() => {
    connection.closeSync();
    instance.closeSync();
  });

  it('word characters and unspaced scripts are closed under RE2 case folding, and lower() keeps every character in its class', async () => {
    // Every code point (surrogates are not characters). A character that folds to a
    // word character must be one (else a case-insensitive match could straddle a
    // separator); lower() must not move a character in or out of either class, and
    // must keep it equivalent to itself under RE2's folding, or be alone in its class.
    const reader = await connection.runAndReadAll(`
      WITH cp AS (SELECT chr(range::INTEGER) AS c FROM range(0, 1114112) WHERE range < 55296 OR range > 57343)
      SELECT
        count(*) FILTER (WHERE regexp_matches(c, '(?i)^[${WORD}]$') <> regexp_matches(c, '^[${WORD}]$'))::INTEGER AS word_not_closed,
        count(*) FILTER (WHERE regexp_matches(c, '(?i)^[${UNSPACED}]$') <> regexp_matches(c, '^[${UNSPACED}]$'))::INTEGER AS unspaced_not_closed,
        count(*) FILTER (WHERE regexp_matches(c, '^[${WORD}]$') <> regexp_matches(lower(c), '^[${WORD}]$'))::INTEGER AS lower_moves_word,
        count(*) FILTER (WHERE regexp_matches(c, '^[${UNSPACED}]$') <> regexp_matches(lower(c), '^[${UNSPACED}]$'))::INTEGER AS lower_moves_unspaced,
        count(*) FILTER (WHERE length(lower(c)) <> 1)::INTEGER AS lower_not_one_character,
        list(c) FILTER (WHERE NOT regexp_matches(lower(c), '(?i)^\\Q' || c || '\\E$')) AS lower_leaves_class
      FROM cp`);
    const row = reader.getRowObjectsJS()[0]!;
    expect(row).toMatchObject({ word_not_closed: 0, unspaced_not_closed: 0, lower_moves_word: 0, lower_moves_unspaced: 0, lower_not_one_character: 0 });
    // [\pL\pN] alone would not do: U+0345 (a combining mark) folds to ι.
    expect((await connection.runAndReadAll(`SELECT regexp_matches(chr(837), '(?i)^[\\pL\\pN]$') AND NOT regexp_matches(chr(837), '^[\\pL\\pN]$') AS m`)).getRowObjectsJS()[0]!.m).toBe(true);
    // Each character lower() takes out of its class (İ -> i) is alone in its class.
    const leaving = row.lower_leaves_class as string[];
    expect(leaving).toEqual(['İ']);
    for (const c of leaving) {
      const alone = await connection.runAndReadAll(
        `SELECT count(*)::INTEGER AS n FROM range(0, 1114112) WHERE (range < 55296 OR range > 57343) AND regexp_matches(chr(range::INTEGER), $1)`,
        [`(?i)^\\Q${c}\\E$`],
      );
      expect(alone.getRowObjectsJS()[0]!.n).toBe(1);
    }
  });

  it('splits lowercased text at runs of separators, with empty ends where the text starts or ends with one', async () => {
    const split = async (text: string) => (await connection.runAndReadAll(`SELECT ${termSplitSql('$1')} AS parts`, [text])).getRowObjectsJS()[0]!.parts as string[];
    expect(await split('Hello, World!')).toEqual(['hello', 'world', '']);
    expect(await split('  two  spaces')).toEqual(['', 'two', 'spaces']);
    expect(await split('東京2026年のcoffeeタイム')).toEqual(['', '2026', 'coffee', '']);
    expect(await split('snake_case-name')).toEqual(['snake', 'case', 'name']);
    expect(await split('I ❤️ 🦋')).toEqual(['i', '\uFE0F', '']); // the variation selector is a mark
    expect(await split('ÉCOLE e\u0301cole')).toEqual(['école', 'e\u0301cole']);
    expect(await split('🦋')).toEqual(['', '']);
  });

  it('search words are the parts, anchored where the search text goes on, longest first', async () => {
    const words = async (text: string) => (await searchWords(connection, text)).map((w) => w.pattern);
    expect(await words('coffee')).toEqual(['(?i)\\Qcoffee\\E']);
    expect(await words('Black coffee!')).toEqual(['(?i)^\\Qcoffee\\E$', '(?i)\\Qblack\\E$']);
    expect(await words(' x')).toEqual(['(?i)^\\Qx\\E']);
    expect(await words('🦋 ラーメン %')).toEqual([]);
    expect(await words('one two three four five six')).toHaveLength(4);
  });
});

describe('index-backed search equals a scan: seeded data and edge cases', { timeout: 300_000 }, () => {
  let dir: string;
  let scanDir: string;
  let fixture: ApiFixture;
  let api: TestApi;
  let scanApi: TestApi;
  const window = { start: new Date(WINDOW_START).toISOString(), end: new Date(WINDOW_END).toISOString() };

  beforeAll(async () => {
    dir = await tempDir('term-index');
    scanDir = await tempDir('term-index-scan');
    fixture = await buildStore(dir);
    await copyWithoutIndex(dir, scanDir);
    api = await startTestApi(dir);
    scanApi = await startTestApi(scanDir);
  });
  afterAll(async () => {
    await api?.close();
    await scanApi?.close();
    await fixture?.close();
    await removeDir(dir);
    await removeDir(scanDir);
  });

  async function expectSameAsScan(text: string, extra: Record<string, string> = {}): Promise<string[]> {
    const params = { ...window, text, ...extra };
    const [indexed, scanned] = await Promise.all([allPages(api, params), allPages(scanApi, params)]);
    expect(indexed, JSON.stringify(text)).toEqual(scanned);
    return indexed;
  }

  it('the compacted hours have an index, which answers: absent words read nothing, rare ones a few rows', async () => {
    const hours = await new StoreIndex(dir).hours('posts', WINDOW_START * 1000, WINDOW_END * 1000);
    const compacted = hours.flatMap((h) => h.files).filter((f) => termIndexPath(f));
    expect(compacted.length).toBeGreaterThanOrEqual(5);
    const absent = await selectFiles(fixture.connection, compacted, await searchWords(fixture.connection, 'zebracorn'));
    expect(absent).toEqual({ scan: [], rows: new Map() });
    const rare = await selectFiles(fixture.connection, compacted, await searchWords(fixture.connection, 'ypogegrammeni'));
    expect(rare.scan).toEqual([]);
    expect([...rare.rows.values()]).toEqual([[expect.any(Number)]]);
    // No word: every file is read, as before.
    expect((await selectFiles(fixture.connection, compacted, await searchWords(fixture.connection, '🦋'))).scan).toEqual(compacted);
  });

  it.each([
    ...SPECIAL_TEXTS,
    'coffee', 'Coffee', 'COFFEE AT', 'at the end: coffee', 'coffee-post', ')coffee', 'decaf', 'offeeh', 'e and c', 'house',
    'the', 'a', 'e', 'lighthouse', 'LightHouse', 'zebracorn', 'zebra corn', 'bluesky', '#bluesky', '@', 'bsky.social', '.social', 'https://',
    '❤️', '\uFE0F', '🗼and', 'waves🌊', '🌊', '東京', '2026年', '年のcoffee', 'タイム、ラーメン', 'ภาษา', 'ครับ ภา',
    'σίσυφοσ', 'ΣΊΣΥΦΟΣ AND', 'ς', 'straße', 'STRAẞE', 'ſ', 'kelvin 5k', '5\u212A', 'İstanbul', 'istanbul', 'ISTANBUL', 'ıstanbul',
    'ａｎｄ', 'ｆｕｌｌ', 'FULLWIDTH', 'aι', 'a\u0399', '\u0345', 'e\u0301', '\u0301cole', 'école',
    'word spacing', 'word   spacing', 'spacing\tand', 'and\nnew', 'camelcase', 'wordand', 'upper lower', 'v1.2', '.3 costs', '123-45', '3.14, call',
    '100%', '%', '_', 'snake_case', '"hello"', "it's", '\\Q', '\\E markers', 'secret', 'x'.repeat(40),
  ])('%j', async (text) => {
    await expectSameAsScan(text);
    await expectSameAsScan(text, { exact: 'true' });
  });

  it('random substrings of stored texts, at any offset and length', async () => {
    const next = random(42);
    const texts = fixture.posts.map((p) => p.text).filter((t): t is string => !!t);
    let matched = 0;
    // 60 draws: each is two full searches (index and scan) on a shared 2-core machine;
    // the hand-picked edge cases above carry the hard cases.
    for (let i = 0; i < 60; i++) {
      const chars = Array.from(texts[Math.floor(next() * texts.length)]!);
      const start = Math.floor(next() * chars.length);
      const length = 1 + Math.floor(next() * Math.min(24, chars.length - start));
      const text = chars.slice(start, start + length).join('');
      if (text.trim() === '') continue;
      if ((await expectSameAsScan(text)).length > 0) matched += 1;
    }
    expect(matched).toBeGreaterThan(40); // substrings of stored texts are found, through the index or not
  });

  it('filters, pages and exports combine with the index as with a scan', async () => {
    expect(await expectSameAsScan('coffee', { lang: 'en', limit: '3' })).not.toEqual([]);
    await expectSameAsScan('the', { is_reply: 'false', limit: '50' });
    await expectSameAsScan('lighthouse', { start: new Date(WINDOW_START + 2 * 3_600_000 + 5000).toISOString(), end: new Date(WINDOW_START + 4 * 3_600_000).toISOString() });
    const q = new URLSearchParams({ ...window, text: 'coffee', format: 'ndjson' }).toString();
    const [indexed, scanned] = await Promise.all([api, scanApi].map((a) => a.app.inject({ method: 'GET', url: `/v1/export?${q}` })));
    expect(indexed!.body).toEqual(scanned!.body);
    expect(indexed!.body.length).toBeGreaterThan(0);
  });
});

describe('index-backed search equals a scan: busy hours', { timeout: 300_000 }, () => {
  // 12,000 posts over two hours, compacted: common words are in more than
  // TERM_INDEX.maxPostings rows of an hour, so the index sends those hours to a scan.
  // Then late posts land in the first hour: a batch file beside its compacted file.
  const start = Date.parse('2026-11-20T10:00:00Z');
  let dir: string;
  let scanDir: string;
  let instance: DuckDBInstance;
  let connection: DuckDBConnection;
  let api: TestApi;
  let scanApi: TestApi;
  let files: string[];
  let compacted: string[];
  let late: string[];
  const window = { start: new Date(start).toISOString(), end: new Date(start + 3 * 3_600_000).toISOString() };

  beforeAll(async () => {
    dir = await tempDir('term-index-busy');
    scanDir = await tempDir('term-index-busy-scan');
    ({ instance, connection } = await openDuckDB({ threads: 2 }));
    const frames = [...generateFrames({ seed: 5, mix: 'posts' }, 12_000, start * 1000 + 1000, 580_000).map((f) => f.text), ...specialFrames(start * 1000 + 1_800_000_000)];
    await writeStore(connection, dir, frames, start + 3 * 3_600_000);
    await writeStore(connection, dir, specialFrames(start * 1000 + 2_400_000_000), start); // late, not compacted
    await copyWithoutIndex(dir, scanDir);
    api = await startTestApi(dir);
    scanApi = await startTestApi(scanDir);
    files = (await new StoreIndex(dir).hours('posts', start * 1000, (start + 3 * 3_600_000) * 1000)).flatMap((h) => h.files);
    compacted = files.filter((f) => termIndexPath(f));
    late = files.filter((f) => !termIndexPath(f));
  });
  afterAll(async () => {
    await api?.close();
    await scanApi?.close();
    connection?.closeSync();
    instance?.closeSync();
    await removeDir(dir);
    await removeDir(scanDir);
  });

  it('every hour is one compacted file with its index, whose terms and rows are those of its texts', async () => {
    expect(compacted).toHaveLength(2);
    expect(late).toHaveLength(1);
    for (const file of compacted) {
      const index = termIndexPath(file)!;
      const posts = await connection.runAndReadAll(`SELECT file_row_number::INTEGER AS r, text FROM read_parquet(${sqlString(file)}, file_row_number = true)`);
      // An independent reading of the texts: JavaScript's Unicode classes, and its
      // lowercasing one character at a time (DuckDB's lower() maps İ to i alone).
      const lower = (text: string) => Array.from(text, (c) => (c === '\u0130' ? 'i' : c.toLowerCase())).join('');
      const expected = new Map<string, number[]>();
      for (const { r, text } of posts.getRowObjectsJS() as { r: number; text: string | null }[]) {
        const terms = new Set(lower(text ?? '').split(/(?:[^\p{L}\p{N}\p{M}]|[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\u30FC\uFF70\p{sc=Thai}\p{sc=Lao}\p{sc=Khmer}\p{sc=Myanmar}])+/u));
        terms.delete('');
        for (const term of terms) expected.set(term, [...(expected.get(term) ?? []), r]);
      }
      const stored = (await connection.runAndReadAll(`SELECT term, n, row_ids FROM read_parquet(${sqlString(index)})`)).getRowObjectsJS();
      expect(stored.map((t) => t.term)).toEqual([...expected.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
      for (const { term, n, row_ids } of stored) {
        const rows = expected.get(term as string)!;
        expect(n).toBe(rows.length);
        expect(row_ids).toEqual(rows.length <= TERM_INDEX.maxPostings ? rows : null);
      }
      expect(stored.some((t) => t.row_ids === null)).toBe(true);
    }
  });

  it('common words send an hour to a scan, rare ones to its rows, absent ones nowhere; batch files are scanned', async () => {
    const select = async (text: string) => selectFiles(connection, files, await searchWords(connection, text));
    expect((await select('the')).scan.sort()).toEqual([...files].sort());
    expect(await select('zebracorn')).toEqual({ scan: late, rows: new Map() });
    const rare = await select('ypogegrammeni');
    expect(rare.scan).toEqual(late);
    expect([...rare.rows.values()].flat()).toHaveLength(1);
    // A common word with a rare one: only the rows of the rare one.
    expect([...(await select('the ypogegrammeni')).rows.values()].flat().length).toBeLessThanOrEqual(1);
  });

  it.each(['the', 'and', 'coffee', 'is the', 'the coffee', 'Coffee at the', 'ypogegrammeni', 'ypo', 'zebracorn', 'e', '東京', 'com', 'bsky.social', 'x', '123'])('%j', async (text) => {
    for (const extra of [{}, { exact: 'true' }, { limit: '400' }] as Record<string, string>[]) {
      const params = { ...window, text, ...extra };
      const [indexed, scanned] = await Promise.all([allPages(api, params), allPages(scanApi, params)]);
      expect(indexed).toEqual(scanned);
    }
  });
});
