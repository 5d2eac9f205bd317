// Text search through the term index of compacted posts files: what the index
// holds and why, services/shared/tables.ts (TERM_INDEX); how it is built,
// services/writer/term-index.ts.
//
// The index is a pre-filter, never the answer. It narrows a file down to candidate
// rows, and the search applies its usual conditions (the RE2 match of the text
// among them) to those rows. Results are exactly a scan's as long as the
// candidates include every row that matches, which holds because:
//   - the search text is split into words the way texts are split into terms
//     (termSplitSql), and a post matches only if each word is found inside one of
//     its terms: the word characters are closed under RE2's case folding, so a
//     case-insensitive match of a word never straddles a separator;
//   - both sides are lowercased by the same lower(), which keeps every character
//     in its case-folding class (except İ, alone in its class, so nothing else can
//     match it), and the dictionary is searched with RE2's case-insensitive match;
//   - a word with anything after it in the search text must end its term (that
//     neighbour is a separator in the post too), and one with anything before it
//     must start its term.
// test/term-index.test.ts checks these properties over every code point and
// compares index-backed answers with scans.
//
// Per file, the lookup finds for each word the terms holding it, and decides:
//   - a word is in no term: no row can match, the file is not read at all;
//   - every word is in more than TERM_INDEX.maxPostings rows: reading that many
//     rows costs as much as a scan (DuckDB reads whole row groups), so the file is
//     scanned;
//   - otherwise the candidates are the rows holding every word whose rows are
//     known, and only they are read: file_row_number's row-group statistics let
//     DuckDB skip every other row group.
// Files without an index (batch files: the current hour, late events; stores
// written before the index existed) and texts without a word (emoji, punctuation,
// Chinese or Japanese alone) are scanned as before.

import { access } from 'node:fs/promises';
import type { Queryable } from './query-engine.ts';
import { sqlStringList } from '../shared/duckdb.ts';
import { termIndexPath } from '../shared/layout.ts';
import { TERM_INDEX, termSplitSql } from '../shared/tables.ts';

/** A word of a search text and the RE2 pattern that finds the terms holding it. */
export interface SearchWord {
  word: string;
  pattern: string;
}

/** Which rows of some posts files a search reads. */
export interface FileSelection {
  /** Files read in full. */
  scan: string[];
  /** Files read only at these rows (file_row_number, ascending). */
  rows: Map<string, number[]>;
}

/**
 * Words looked up per search: the longest, which are the rarest. Leaving a word
 * out only leaves more candidates, never misses a row.
 */
const MAX_WORDS = 4;

/** Quotes a phrase for RE2 so every character is literal. */
export function re2Literal(phrase: string): string {
  return `\\Q${phrase.replaceAll('\\E', '\\E\\\\E\\Q')}\\E`;
}

/**
 * The words of a search text, split by DuckDB exactly as the index splits texts
 * (so both sides agree on every character class, whatever Unicode version RE2
 * and V8 know). Empty when the text has no word the index can answer for.
 *
 * Several texts (the text parameter and the words and phrases of q) are texts a
 * post must all contain: each is split on its own (its anchors are its own), and
 * the longest words of all of them are looked up. Words a post must NOT contain
 * never come here: the index can only say where a word may be, so it narrows the
 * rows to read for words that must be present, and for nothing else.
 */
export async function searchWords(connection: Queryable, text: string | readonly string[]): Promise<SearchWord[]> {
  const texts = typeof text === 'string' ? [text] : text;
  if (texts.length === 0) return [];
  const reader = await connection.runAndReadAll(`SELECT [${texts.map((_, k) => termSplitSql(`$${k + 1}`)).join(', ')}] AS parts`, [...texts]);
  const split = (reader.getRowObjectsJS()[0]?.parts ?? []) as string[][];
  const byPattern = new Map<string, SearchWord>();
  for (const parts of split) {
    parts.forEach((part, k) => {
      if (part === '') return;
      const start = k > 0 ? '^' : '';
      const end = k < parts.length - 1 ? '$' : '';
      const pattern = `(?i)${start}${re2Literal(part)}${end}`;
      byPattern.set(pattern, { word: part, pattern });
    });
  }
  return [...byPattern.values()].sort((a, b) => b.word.length - a.word.length).slice(0, MAX_WORDS);
}

// Whether a compacted file has its index, remembered briefly: an index is written
// before its posts file appears and deleted with it, so the answer for a file
// only changes when it goes away.
const PRESENCE_TTL_MS = 5000;
const presence = new Map<string, { at: number; present: Promise<boolean> }>();

function hasIndex(index: string): Promise<boolean> {
  const now = Date.now();
  const known = presence.get(index);
  if (known && now - known.at < PRESENCE_TTL_MS) return known.present;
  const present = access(index).then(
    () => true,
    () => false,
  );
  if (presence.size > 50_000) presence.clear();
  presence.set(index, { at: now, present });
  return present;
}

/** A file vanished between listing and reading (compaction replaced it). */
function isMissingFile(error: unknown): boolean {
  return /No such file|No files found|cannot open/i.test((error as Error).message);
}

/**
 * Which rows of `files` can hold a match of every word: see the top of this file.
 * Without words, every file is scanned.
 */
export async function selectFiles(connection: Queryable, files: readonly string[], words: readonly SearchWord[] | undefined): Promise<FileSelection> {
  const selection: FileSelection = { scan: [], rows: new Map() };
  const indexed = new Map<string, string>(); // index -> posts file
  for (const file of files) {
    const index = words && words.length > 0 ? termIndexPath(file) : undefined;
    if (index && (await hasIndex(index))) indexed.set(index, file);
    else selection.scan.push(file);
  }
  if (indexed.size === 0 || !words) return selection;

  let found: Map<string, Map<number, number[] | null>>;
  try {
    found = await lookUp(connection, [...indexed.keys()], words);
  } catch (error) {
    if (!isMissingFile(error)) throw error;
    for (const index of indexed.keys()) presence.delete(index);
    selection.scan.push(...indexed.values());
    return selection;
  }
  for (const [index, file] of indexed) {
    const byWord = found.get(index);
    if (!byWord || byWord.size < words.length) continue; // a word in no term: nothing to read
    const known = [...byWord.values()].filter((rows): rows is number[] => rows !== null);
    if (known.length === 0) {
      selection.scan.push(file);
      continue;
    }
    const candidates = intersection(known);
    if (candidates.length > 0) selection.rows.set(file, candidates);
  }
  return selection;
}

/**
 * One pass over the dictionaries of some files: per file and word (its position in
 * `words`), the rows of the terms holding the word, or null when they are more
 * than TERM_INDEX.maxPostings. A word in no term of a file has no entry.
 */
async function lookUp(connection: Queryable, indexes: readonly string[], words: readonly SearchWord[]): Promise<Map<string, Map<number, number[] | null>>> {
  const matches = words.map((_, k) => `regexp_matches(term, $${k + 1})`);
  const reader = await connection.runAndReadAll(
    `SELECT filename, word, CASE WHEN sum(n) <= ${TERM_INDEX.maxPostings} THEN flatten(list(row_ids)) END AS row_ids
     FROM (
       SELECT filename, n, row_ids, unnest([${matches.map((m, k) => `CASE WHEN ${m} THEN ${k} END`).join(', ')}]) AS word
       FROM read_parquet(${sqlStringList(indexes)}, filename = true)
       WHERE ${matches.join(' OR ')}
     )
     WHERE word IS NOT NULL
     GROUP BY filename, word`,
    words.map((w) => w.pattern),
  );
  const found = new Map<string, Map<number, number[] | null>>();
  for (const row of reader.getRowObjectsJS()) {
    const file = row.filename as string;
    let byWord = found.get(file);
    if (!byWord) found.set(file, (byWord = new Map<number, number[] | null>()));
    byWord.set(row.word as number, (row.row_ids as number[] | null) ?? null);
  }
  return found;
}

/** Rows present in every list, ascending. */
function intersection(lists: readonly number[][]): number[] {
  const [first, ...rest] = [...lists].sort((a, b) => a.length - b.length);
  const others = rest.map((list) => new Set(list));
  const rows = new Set((first ?? []).filter((row) => others.every((other) => other.has(row))));
  return [...rows].sort((a, b) => a - b);
}
