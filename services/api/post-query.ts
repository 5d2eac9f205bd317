// Post search over the Parquet store: filters -> parameterized SQL, run hour by
// hour newest first over exactly the files of the window, stopping as soon as a
// page is full. Deleted posts are removed by an anti-join with the tombstones;
// authors' handles come from current_handles (side-tables.ts).
//
// User input only ever reaches DuckDB as a bound parameter. Text matching uses
// RE2 regular expressions whose phrase is quoted with \Q...\E (no LIKE, so % and
// _ are plain characters): case-insensitive by default, case-sensitive and
// bounded by non-word characters in the exact mode.
//
// A text search first asks the term index of each compacted hour which rows may
// match (term-index.ts): hours where a word of the text appears nowhere are not
// read, and hours where it is rare are read only at those rows. The conditions
// below still decide every result, so the index changes what is read, never what
// is returned. Only texts a post must contain (text, q's words and phrases) go to
// the index; q's excluded words are conditions alone.

import { listValue, type DuckDBValue } from '@duckdb/node-api';
import type { Queryable } from './query-engine.ts';
import { sqlString, sqlStringList } from '../shared/duckdb.ts';
import { TABLES, uriSql } from '../shared/tables.ts';
import { termIndexPath } from '../shared/layout.ts';
import type { CursorPosition } from './cursor.ts';
import type { TextTerm } from './query-syntax.ts';
import type { HourFiles, StoreIndex } from './store-index.ts';
import { re2Literal, searchWords, selectFiles, type FileSelection, type SearchWord } from './term-index.ts';

export interface PostFilters {
  startUs: number;
  endUs: number;
  text?: string;
  exact?: boolean;
  /** Resolved authors; an empty list matches nothing (an unknown handle). */
  authorDids?: readonly string[];
  lang?: string;
  /** Hashtags a post must all carry (normalised). */
  hashtags?: readonly string[];
  hasMedia?: boolean;
  isReply?: boolean;
  /** q's words and phrases every post must contain, and those none may (query-syntax.ts). */
  include?: readonly TextTerm[];
  exclude?: readonly TextTerm[];
  /** Per mentions: of q, the DIDs it names: a post must mention one DID of every list (an empty list matches nothing). */
  mentions?: readonly (readonly string[])[];
  /** q's domain: hosts (lowercase, without "www."): a post must link to every one. */
  domains?: readonly string[];
}

export interface PostResult {
  uri: string;
  author_did: string;
  username: string | null;
  text: string | null;
  /** createdAt as the client declared it (ISO 8601); indexed_at when that was malformed. */
  timestamp: string;
  /** When the network saw the post (Jetstream time, ISO 8601). */
  indexed_at: string;
  langs: string[];
  hashtags: string[];
  mentions: string[];
  links: string[];
  labels: string[];
  is_reply: boolean;
  reply_root_uri: string | null;
  reply_parent_uri: string | null;
  quote_uri: string | null;
  embed_kind: string | null;
  has_media: boolean;
  /** Jetstream time in µs and record key: with author_did, the pagination key (not part of API responses). */
  time_us: number;
  rkey: string;
}

const SELECT_COLUMNS = `p.author_did, p.rkey, p.text, epoch_us(p.created_at)::DOUBLE AS created_us, p.time_us::DOUBLE AS time_us,
  p.langs, p.hashtags, p.mentions, p.links, p.labels, p.reply_root_uri, p.reply_parent_uri, p.quote_uri, p.embed_kind, p.has_media`;

/** Characters of a word, for the bounds of phrases (and of the exact mode): letters, digits, underscore. */
const NOT_WORD = '[^\\pL\\pN_]';

/** Whitespace between the words of a phrase: RE2's \s is ASCII only, \p{Z} adds the Unicode spaces (no-break, ideographic). */
const SPACES = '[\\s\\p{Z}]+';

/**
 * The RE2 pattern of a q word or phrase, case-insensitive: a word anywhere (as the
 * text parameter matches), a phrase as whole words in order with any whitespace
 * between them (as the exact mode bounds its phrase, but ignoring case).
 */
export function termPattern(term: TextTerm): string {
  if (!term.phrase) return `(?i)${re2Literal(term.text)}`;
  return `(?i)(^|${NOT_WORD})${term.text.split(/\s+/u).map(re2Literal).join(SPACES)}($|${NOT_WORD})`;
}

/** The host of a link as domain: compares it: lowercased, without "www." or a port. */
const LINK_HOST_SQL = `regexp_extract(lower(x), '^[a-z][a-z0-9+.-]*://(?:[^/?#@]*@)?(?:www\\.)?([^/?#:]*)', 1)`;

/** The texts a post must contain: what the term index may narrow the rows by. */
export function requiredTexts(filters: PostFilters): string[] {
  return [...(filters.text !== undefined ? [filters.text] : []), ...(filters.include ?? []).map((t) => t.text)];
}

/**
 * The WHERE conditions of a filter set, appending their parameters to `params`
 * ($1, $2, ... positions). Always restricted to creates inside the window.
 */
export function postConditions(filters: PostFilters, params: DuckDBValue[], after?: CursorPosition): string {
  const bind = (value: DuckDBValue) => {
    params.push(value);
    return `$${params.length}`;
  };
  const conditions = [`p.operation = 'create'`, `p.time_us >= ${bind(filters.startUs)}`, `p.time_us < ${bind(filters.endUs)}`];
  if (after) {
    const [t, d] = [bind(after.timeUs), bind(after.did)];
    conditions.push(`(p.time_us < ${t} OR (p.time_us = ${t} AND (p.author_did < ${d} OR (p.author_did = ${d} AND p.rkey < ${bind(after.rkey)}))))`);
  }
  if (filters.text !== undefined) {
    if (filters.exact) {
      // Case-sensitive, and the phrase must not be part of a longer word.
      conditions.push(`contains(p.text, ${bind(filters.text)})`);
      conditions.push(`regexp_matches(p.text, ${bind(`(^|${NOT_WORD})${re2Literal(filters.text)}($|${NOT_WORD})`)})`);
    } else {
      // RE2's case-insensitive match of a quoted literal: Unicode case folding
      // without lowercasing every text first, about twice as fast as lower().
      conditions.push(`regexp_matches(p.text, ${bind(`(?i)${re2Literal(filters.text)}`)})`);
    }
  }
  if (filters.authorDids) {
    if (filters.authorDids.length === 0) conditions.push('false');
    else if (filters.authorDids.length === 1) conditions.push(`p.author_did = ${bind(filters.authorDids[0]!)}`);
    else conditions.push(`list_contains(${bind(listValue([...filters.authorDids]))}::VARCHAR[], p.author_did)`);
  }
  if (filters.lang !== undefined) {
    // lang=en matches en, en-US, EN-gb ...
    const lang = bind(filters.lang.toLowerCase());
    conditions.push(`len(list_filter(p.langs, x -> lower(x) = ${lang} OR starts_with(lower(x), ${lang} || '-'))) > 0`);
  }
  for (const tag of filters.hashtags ?? []) conditions.push(`list_contains(p.hashtags, ${bind(tag)})`);
  if (filters.hasMedia !== undefined) conditions.push(`p.has_media = ${bind(filters.hasMedia)}`);
  if (filters.isReply !== undefined) conditions.push(`(p.reply_parent_uri IS NOT NULL) = ${bind(filters.isReply)}`);
  for (const term of filters.include ?? []) conditions.push(`regexp_matches(p.text, ${bind(termPattern(term))})`);
  // A post without text contains no word: NULL must count as "not found", not drop the row.
  for (const term of filters.exclude ?? []) conditions.push(`NOT coalesce(regexp_matches(p.text, ${bind(termPattern(term))}), false)`);
  for (const dids of filters.mentions ?? []) {
    conditions.push(dids.length === 0 ? 'false' : `list_has_any(p.mentions, ${bind(listValue([...dids]))}::VARCHAR[])`);
  }
  for (const host of filters.domains ?? []) conditions.push(`len(list_filter(p.links, x -> ${LINK_HOST_SQL} = ${bind(host)})) > 0`);
  // Deleted posts: (author, rkey) identifies a post without building its URI string per row.
  conditions.push(`hash(p.author_did, p.rkey) NOT IN (SELECT h FROM post_tombstones WHERE time_us >= ${bind(filters.startUs)})`);
  return conditions.join('\n    AND ');
}

/** The posts of some files, as `p`. */
function source(files: readonly string[]): string {
  return `read_parquet(${sqlStringList(files)}, hive_partitioning = false, union_by_name = true) p`;
}

/**
 * The posts of a selection (term-index.ts), as `p`: whole files, and only the
 * given rows of others; undefined when it reads nothing. Row numbers come from the
 * index as integers and are written into the SQL: DuckDB prunes row groups with a
 * literal IN list, not with a bound list (past 50 values).
 */
function selectionSource(selection: FileSelection): string | undefined {
  const parts = [...selection.rows].map(([file, rows]) => {
    if (!rows.every((row) => Number.isSafeInteger(row) && row >= 0)) throw new Error('term index rows must be integers');
    return `SELECT * EXCLUDE (file_row_number) FROM read_parquet(${sqlString(file)}, hive_partitioning = false, file_row_number = true)
      WHERE file_row_number IN (${rows.join(', ')})`;
  });
  if (parts.length === 0) return selection.scan.length > 0 ? source(selection.scan) : undefined;
  if (selection.scan.length > 0) parts.push(`SELECT * FROM ${source(selection.scan)}`);
  return `(${parts.join('\n      UNION ALL BY NAME\n      ')}) p`;
}

/** The source of a search over some files: through the term index when the search has words. */
async function searchSource(connection: Queryable, files: readonly string[], words: readonly SearchWord[] | undefined): Promise<string | undefined> {
  return selectionSource(await selectFiles(connection, files, words));
}

/** The final projection of a top-N subquery `p`: its URI, built only for the rows returned, and the author's handle. */
const WITH_URI_AND_HANDLE = `SELECT p.*, ${uriSql('posts', 'p')} AS uri, h.handle AS username`;
const ORDER = 'ORDER BY p.time_us DESC, p.author_did DESC, p.rkey DESC';

function isoFromUs(us: number): string {
  return new Date(Math.floor(us / 1000)).toISOString();
}

function toResult(row: Record<string, unknown>): PostResult {
  const timeUs = row.time_us as number;
  const createdUs = row.created_us as number | null;
  return {
    uri: row.uri as string,
    author_did: row.author_did as string,
    username: (row.username as string | null) ?? null,
    text: (row.text as string | null) ?? null,
    timestamp: isoFromUs(createdUs ?? timeUs),
    indexed_at: isoFromUs(timeUs),
    langs: (row.langs as string[] | null) ?? [],
    hashtags: (row.hashtags as string[] | null) ?? [],
    mentions: (row.mentions as string[] | null) ?? [],
    links: (row.links as string[] | null) ?? [],
    labels: (row.labels as string[] | null) ?? [],
    is_reply: row.reply_parent_uri !== null,
    reply_root_uri: (row.reply_root_uri as string | null) ?? null,
    reply_parent_uri: (row.reply_parent_uri as string | null) ?? null,
    quote_uri: (row.quote_uri as string | null) ?? null,
    embed_kind: (row.embed_kind as string | null) ?? null,
    has_media: row.has_media === true,
    time_us: timeUs,
    rkey: row.rkey as string,
  };
}

/** The newest `limit` posts of a source matching the filters, after `after`, with handles. */
async function topPosts(connection: Queryable, from: string, filters: PostFilters, limit: number, after?: CursorPosition): Promise<PostResult[]> {
  const params: DuckDBValue[] = [];
  const where = postConditions(filters, params, after);
  params.push(limit);
  const sql = `
    ${WITH_URI_AND_HANDLE} FROM (
      SELECT ${SELECT_COLUMNS} FROM ${from}
      WHERE ${where}
      ${ORDER}
      LIMIT $${params.length}
    ) p LEFT JOIN current_handles h ON h.did = p.author_did
    ${ORDER}`;
  const reader = await connection.runAndReadAll(sql, params);
  return reader.getRowObjectsJS().map((row) => toResult(row as Record<string, unknown>));
}

export interface SearchOutcome {
  results: PostResult[];
  /** Position of the last result when more may follow. */
  next: CursorPosition | undefined;
  partitionsScanned: number;
}

/**
 * One page of matching posts, newest first. Hours are scanned in growing groups
 * (1, 2, 4, ... hours): a common word fills the page from the newest hour alone,
 * a rare one costs a few larger scans instead of one query per hour.
 */
export async function searchPosts(connection: Queryable, store: StoreIndex, filters: PostFilters, limit: number, after?: CursorPosition): Promise<SearchOutcome> {
  const endUs = after ? Math.min(filters.endUs, after.timeUs + 1) : filters.endUs;
  const hours = await store.hours('posts', filters.startUs, endUs);
  const texts = requiredTexts(filters);
  const words = texts.length === 0 ? undefined : await searchWords(connection, texts);
  const results: PostResult[] = [];
  const seen = new Set<string>();
  let position = after;
  let scanned = 0;
  let groupSize = 1;
  for (let i = 0; i < hours.length && results.length <= limit; ) {
    const group: HourFiles[] = hours.slice(i, i + groupSize);
    i += group.length;
    scanned += group.length;
    groupSize *= 2;
    const from = await searchSource(connection, group.flatMap((h) => h.files), words);
    if (!from) continue; // the term index says no row of these hours can match
    // Duplicate rows (a retried batch before compaction) are dropped here; the
    // keyset position always advances, so a page never repeats a post.
    for (;;) {
      const want = limit + 1 - results.length;
      const rows = await topPosts(connection, from, filters, want + 8, position);
      for (const row of rows) {
        position = { timeUs: row.time_us, did: row.author_did, rkey: row.rkey };
        if (seen.has(row.uri)) continue;
        seen.add(row.uri);
        results.push(row);
        if (results.length > limit) break;
      }
      if (results.length > limit || rows.length < want + 8) break;
    }
  }
  const page = results.slice(0, limit);
  const last = page.at(-1);
  return {
    results: page,
    next: results.length > limit && last ? { timeUs: last.time_us, did: last.author_did, rkey: last.rkey } : undefined,
    partitionsScanned: scanned,
  };
}

/**
 * Whether the files of one hour can hold a row twice: batch files can (an event
 * replayed into a later batch before compaction; the copies share their time_us),
 * and so can the moment a recompaction has written its new file beside the old
 * one. A single compacted file is deduplicated by compaction itself.
 */
function mayHoldCopies(files: readonly string[]): boolean {
  return files.length > 1 || files.some((file) => termIndexPath(file) === undefined);
}

/**
 * The export rows of a source, as a SELECT: matching posts, each once, newest first,
 * at most $limit, with their URIs and handles. CSV and NDJSON stream it hour by
 * hour, Parquet runs it over the whole window: either way the same rows.
 */
function exportRowsSql(from: string, where: string, limit: string, dedupe: boolean): string {
  return `${WITH_URI_AND_HANDLE} FROM (
       SELECT ${SELECT_COLUMNS} FROM ${from} WHERE ${where}
       ${dedupe ? 'QUALIFY row_number() OVER (PARTITION BY p.author_did, p.rkey, p.time_us) = 1' : ''}
       ${ORDER} LIMIT ${limit}
     ) p LEFT JOIN current_handles h ON h.did = p.author_did
     ${ORDER}`;
}

/** Rows of an export, streamed hour by hour newest first; stops after maxRows. */
export async function* exportPosts(connection: Queryable, store: StoreIndex, filters: PostFilters, maxRows: number): AsyncGenerator<PostResult[]> {
  const hours = await store.hours('posts', filters.startUs, filters.endUs);
  const texts = requiredTexts(filters);
  const words = texts.length === 0 ? undefined : await searchWords(connection, texts);
  let remaining = maxRows;
  for (const hour of hours) {
    if (remaining <= 0) return;
    const from = await searchSource(connection, hour.files, words);
    if (!from) continue;
    const params: DuckDBValue[] = [];
    const where = postConditions(filters, params);
    params.push(remaining);
    const result = await connection.stream(exportRowsSql(from, where, `$${params.length}`, mayHoldCopies(hour.files)), params);
    for await (const rows of result.yieldRowObjectJs()) {
      const batch = rows.map(toResult);
      remaining -= batch.length;
      if (batch.length > 0) yield batch;
      if (remaining <= 0) return;
    }
  }
}

/** An empty posts relation, as `p`, typed from the table's declaration (for a window where nothing can match). */
const NO_POSTS = `(SELECT ${TABLES.posts.columns.map((c) => `NULL::${c.type} AS ${c.name}`).join(', ')} WHERE false) p`;

/**
 * The export of a whole window as one SELECT with typed columns, for COPY ... TO
 * a Parquet file: the rows and values of the NDJSON export (EXPORT_COLUMNS order),
 * timestamps as TIMESTAMP (UTC, the milliseconds NDJSON shows), lists as
 * VARCHAR[], booleans as BOOLEAN.
 */
export async function parquetExportQuery(
  connection: Queryable,
  store: StoreIndex,
  filters: PostFilters,
  maxRows: number,
): Promise<{ sql: string; params: DuckDBValue[] }> {
  const hours = await store.hours('posts', filters.startUs, filters.endUs);
  const texts = requiredTexts(filters);
  const words = texts.length === 0 ? undefined : await searchWords(connection, texts);
  const from = (await searchSource(connection, hours.flatMap((h) => h.files), words)) ?? NO_POSTS;
  const params: DuckDBValue[] = [];
  const where = postConditions(filters, params);
  params.push(maxRows);
  const msTimestamp = (us: string) => `make_timestamp((floor(${us} / 1000) * 1000)::BIGINT)`;
  const list = (column: string) => `coalesce(${column}, []::VARCHAR[]) AS ${column}`;
  const sql = `
    SELECT uri, author_did, username, ${msTimestamp('coalesce(created_us, time_us)')} AS "timestamp", ${msTimestamp('time_us')} AS indexed_at,
      text, ${list('langs')}, ${list('hashtags')}, ${list('mentions')}, ${list('links')}, ${list('labels')},
      reply_parent_uri IS NOT NULL AS is_reply, reply_root_uri, reply_parent_uri, quote_uri, embed_kind, coalesce(has_media, false) AS has_media
    FROM (${exportRowsSql(from, where, `$${params.length}`, hours.some((h) => mayHoldCopies(h.files)))}) p
    ORDER BY time_us DESC, author_did DESC, rkey DESC`;
  return { sql, params };
}

/** The latest version of one post (create or update), unless it was deleted. */
export async function findPost(connection: Queryable, store: StoreIndex, did: string, rkey: string, aroundUs: number, spanUs: number): Promise<PostResult | undefined> {
  const hours = await store.hours('posts', aroundUs - spanUs, aroundUs + spanUs);
  if (hours.length === 0) return undefined;
  const params: DuckDBValue[] = [did, rkey];
  const reader = await connection.runAndReadAll(
    `${WITH_URI_AND_HANDLE} FROM (
       SELECT ${SELECT_COLUMNS} FROM ${source(hours.flatMap((h) => h.files))}
       WHERE p.author_did = $1 AND p.rkey = $2 AND hash(p.author_did, p.rkey) NOT IN (SELECT h FROM post_tombstones)
       ORDER BY p.time_us DESC LIMIT 1
     ) p LEFT JOIN current_handles h ON h.did = p.author_did`,
    params,
  );
  const row = reader.getRowObjectsJS()[0];
  return row ? toResult(row) : undefined;
}
