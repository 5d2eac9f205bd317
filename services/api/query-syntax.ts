// Bluesky's search box syntax, the `q` parameter of /v1/search and /v1/export: a
// query is cut into tokens, and each token becomes one of the filters the API
// already has (filters.ts maps them; post-query.ts turns them into SQL).
//
// The reference is Bluesky's own search service, palomar (bluesky-social/indigo,
// search/parse_query.go and search/query.go), so a query means here what it means
// in the Bluesky app:
//   - tokens are separated by whitespace outside double quotes, and every double
//     quote opens or closes a quoted part (palomar's FieldsFunc);
//   - operator names are lowercase and end at the first colon (`from:`, `lang:` ...);
//     a `name:value` whose name is not an operator is a plain word (`10:30`, `re:`);
//   - `@handle` is `mentions:handle`, `to:` is `mentions:`, a lone DID is `from:` it;
//   - since: is inclusive and until: exclusive, a bare date meaning midnight UTC;
//   - every word, phrase, hashtag and filter must match (AND).
// Where palomar silently drops a token it cannot use (a date, language or handle
// that does not parse, `from:me` without a signed-in viewer), this API answers 400
// naming the token: a researcher must know that a filter did not apply. The API
// guide (services/api/README.md, "Search syntax") lists every difference.
//
// Pure: no I/O. Handles are resolved to DIDs later (filters.ts), against the
// identity events of the store.

import { badQuery } from './errors.ts';
import { normalizeTag } from '../shared/normalize.ts';
import { DID_PATTERN, HANDLE_PATTERN, HASHTAG_MAX_LENGTH, HASHTAG_PATTERN, LANG_PATTERN } from './schemas.ts';

/** A word or phrase of the query, matched against the post text, case-insensitively. */
export interface TextTerm {
  /** The word, or the phrase between its quotes (trimmed). */
  text: string;
  /** A quoted phrase: whole words, in this order, any whitespace between them. A word: anywhere, as a substring. */
  phrase: boolean;
}

/** A value taken from a token, with the token it came from (for error messages). */
export interface FromToken<T> {
  value: T;
  token: string;
}

export interface SearchQuery {
  /** Words and phrases every post must contain. */
  include: TextTerm[];
  /** Words and phrases (`-word`, `-"a phrase"`) no post may contain. */
  exclude: TextTerm[];
  /** from: (or a lone DID): a DID, or a handle lowercased, without '@'. */
  author?: FromToken<string>;
  /** mentions:, to: and @handle: DIDs or handles as for author; a post must mention every one. */
  mentions: FromToken<string>[];
  lang?: FromToken<string>;
  /** since: and until:, unix microseconds: since inclusive, until exclusive. */
  since?: FromToken<number>;
  until?: FromToken<number>;
  /** #hashtags, normalised as stored (lowercase, without '#'); a post must carry every one. */
  hashtags: FromToken<string>[];
  /** domain: hosts, lowercased, without a leading "www."; a post must link to every one. */
  domains: FromToken<string>[];
}

/** Tokens one query may hold: each becomes a condition on every row read. */
export const MAX_TOKENS = 32;

/** Operators whose value is an account (`from:`), and those meaning "mentions" (palomar treats `to:` as `mentions:`). */
const MENTION_OPERATORS = new Set(['mentions', 'to']);
const HANDLE = new RegExp(HANDLE_PATTERN);
const DID = new RegExp(DID_PATTERN);
const LANG = new RegExp(LANG_PATTERN);
const HASHTAG = new RegExp(HASHTAG_PATTERN);
/** A host name: labels of letters (any script), digits and inner hyphens. */
const HOST = /^[\p{L}\p{N}]([\p{L}\p{N}-]*[\p{L}\p{N}])?(\.[\p{L}\p{N}]([\p{L}\p{N}-]*[\p{L}\p{N}])?)*$/u;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(\.\d{1,9})?)?(Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/i;
const PHRASE = /^(-?)"([^"]*)"$/;

/**
 * The tokens of a query: runs of non-whitespace, where whitespace between double
 * quotes does not separate (palomar splits on spaces alone; any whitespace here, so
 * a tab or the ideographic space of a Japanese keyboard separates words too).
 */
export function tokenize(q: string): string[] {
  const tokens: string[] = [];
  let current = '';
  let quoted = false;
  for (const c of q) {
    if (c === '"') quoted = !quoted;
    if (!quoted && /\s/u.test(c)) {
      if (current !== '') tokens.push(current);
      current = '';
      continue;
    }
    current += c;
  }
  if (quoted) throw badQuery('unterminated quote: a phrase needs a closing "', current);
  if (current !== '') tokens.push(current);
  return tokens;
}

/** Unix microseconds of since:/until: values: a date (midnight UTC) or an ISO 8601 date-time with its time zone. */
export function parseBound(value: string): number | undefined {
  const dateTime = DATE_TIME.exec(value);
  const parts = DATE.exec(value) ?? dateTime;
  if (!parts) return undefined;
  const [year, month, day] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  // Date.UTC rolls 2026-02-30 over into March: a date is valid when it survives the round trip.
  const midnight = new Date(Date.UTC(year, month - 1, day));
  if (midnight.getUTCFullYear() !== year || midnight.getUTCMonth() !== month - 1 || midnight.getUTCDate() !== day) return undefined;
  const ms = dateTime ? Date.parse(value) : midnight.getTime();
  return Number.isFinite(ms) ? ms * 1000 : undefined;
}

/** An account named by from:, mentions:, to: or @: a DID as is, a handle lowercased without its '@'; undefined when neither. */
function account(value: string): string | undefined {
  if (DID.test(value) && value.length <= 2048) return value;
  const handle = value.startsWith('@') ? value.slice(1) : value;
  return !handle.startsWith('@') && HANDLE.test(handle) && handle.length <= 253 ? handle.toLowerCase() : undefined;
}

/** The filters of a query; a 400 (ApiError) naming the token when one is malformed. */
export function parseQuery(q: string): SearchQuery {
  const query: SearchQuery = { include: [], exclude: [], mentions: [], hashtags: [], domains: [] };
  const tokens = tokenize(q);
  if (tokens.length > MAX_TOKENS) throw badQuery(`at most ${MAX_TOKENS} words, phrases and operators`, tokens[MAX_TOKENS]!);
  const once = <T>(current: FromToken<T> | undefined, token: string, what: string): void => {
    if (current) throw badQuery(`${what} is already given by \`${current.token}\`; give it once`, token);
  };

  for (const token of tokens) {
    // Phrases first: a quote anywhere else is a mistake, not a character to search for.
    if (token.includes('"')) {
      const phrase = PHRASE.exec(token);
      if (!phrase) throw badQuery('a double quote must open and close a phrase ("two words", or -"two words" to exclude it)', token);
      const text = phrase[2]!.trim();
      if (text === '') throw badQuery('empty phrase', token);
      (phrase[1] === '-' ? query.exclude : query.include).push({ text, phrase: true });
      continue;
    }
    if (token.length > 1 && token.startsWith('-')) {
      // palomar passes "-anything" to its full-text query as NOT anything: the rest is a word, even `-from:x`.
      query.exclude.push({ text: token.slice(1), phrase: false });
      continue;
    }
    if (token.length > 1 && token.startsWith('#')) {
      if (!HASHTAG.test(token) || token.length > HASHTAG_MAX_LENGTH) throw badQuery('a hashtag is # and then anything but whitespace and #', token);
      query.hashtags.push({ value: normalizeTag(token), token });
      continue;
    }
    if (token.length > 1 && token.startsWith('@')) {
      // palomar: a valid handle after @ is a mention, anything else a plain word.
      const handle = account(token);
      if (handle) query.mentions.push({ value: handle, token });
      else query.include.push({ text: token, phrase: false });
      continue;
    }
    const colon = token.indexOf(':');
    const name = colon > 0 ? token.slice(0, colon) : '';
    const value = token.slice(colon + 1);
    if (name === 'from' || MENTION_OPERATORS.has(name)) {
      if (value === 'me' || value === '@me') {
        throw badQuery(`there is no signed-in Bluesky user here to be "me": name the account (${name}:alice.bsky.social, or a DID)`, token);
      }
      const who = account(value);
      if (!who) throw badQuery(`${name}: takes a handle (alice.bsky.social, with or without @) or a DID`, token);
      if (name === 'from') {
        once(query.author, token, 'the author');
        query.author = { value: who, token };
      } else {
        query.mentions.push({ value: who, token });
      }
    } else if (name === 'did') {
      // palomar: a lone DID is the author (how the app sends from:me).
      if (!DID.test(token) || token.length > 2048) throw badQuery('not a DID (did:plc:…, did:web:…)', token);
      once(query.author, token, 'the author');
      query.author = { value: token, token };
    } else if (name === 'lang') {
      if (!LANG.test(value)) throw badQuery('lang: takes a language code (BCP 47: en, pt-BR)', token);
      once(query.lang, token, 'the language');
      query.lang = { value, token };
    } else if (name === 'since' || name === 'until') {
      const us = parseBound(value);
      if (us === undefined) throw badQuery(`${name}: takes a date (YYYY-MM-DD, UTC) or an ISO 8601 date-time with its time zone`, token);
      once(query[name], token, `${name}:`);
      query[name] = { value: us, token };
    } else if (name === 'domain') {
      const host = value.toLowerCase().replace(/^www\./, '');
      if (!HOST.test(host) || host.length > 253) throw badQuery('domain: takes a host name (example.com), without scheme or path', token);
      query.domains.push({ value: host, token });
    } else if (name === 'http' || name === 'https') {
      // palomar matches a URL against its normalised link URLs; this API has no such
      // normalisation, and a URL as a plain word would silently find almost nothing.
      throw badQuery('search by URL is not supported: use domain:host for posts linking to a site, or the text parameter for the literal text', token);
    } else {
      query.include.push({ text: token, phrase: false });
    }
  }
  if (query.since && query.until && query.since.value >= query.until.value) {
    throw badQuery(`since: must be before until: (since is inclusive, until exclusive), here \`${query.since.token}\``, query.until.token);
  }
  return query;
}
