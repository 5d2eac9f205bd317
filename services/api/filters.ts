// From validated query parameters to a PostFilters: the time window (defaults,
// order, maximum length), the author (a handle resolved to DIDs), the normalised
// hashtag and language, and q, the search syntax (query-syntax.ts), merged with
// the parameters: everything given must match.

import type { Queryable } from './query-engine.ts';
import type { FastifyReply } from 'fastify';
import { normalizeTag } from '../shared/normalize.ts';
import type { ApiConfig } from './config.ts';
import { badQuery, badRequest } from './errors.ts';
import type { PostFilters } from './post-query.ts';
import { parseQuery, type FromToken, type SearchQuery } from './query-syntax.ts';
import type { PostFilterQuery, WindowQuery } from './schemas.ts';

const HOUR_US = 3_600_000_000;

export function resolveWindow(query: WindowQuery, config: ApiConfig, nowMs = Date.now()): { startUs: number; endUs: number } {
  return windowOf(query.start ? Date.parse(query.start) * 1000 : undefined, query.end ? Date.parse(query.end) * 1000 : undefined, config, nowMs);
}

/** The window of a search or export: start and end, or q's since: and until:, which may not be given twice. */
export function resolveSearchWindow(query: PostFilterQuery, syntax: SearchQuery | undefined, config: ApiConfig, nowMs = Date.now()): { startUs: number; endUs: number } {
  if (!syntax?.since && !syntax?.until) return resolveWindow(query, config, nowMs);
  const startUs = syntax.since?.value ?? (query.start ? Date.parse(query.start) * 1000 : undefined);
  const endUs = syntax.until?.value ?? (query.end ? Date.parse(query.end) * 1000 : undefined);
  return windowOf(startUs, endUs, config, nowMs, { start: syntax.since ? 'since:' : 'start', end: syntax.until ? 'until:' : 'end' });
}

function windowOf(
  start: number | undefined,
  end: number | undefined,
  config: ApiConfig,
  nowMs: number,
  names = { start: 'start', end: 'end' },
): { startUs: number; endUs: number } {
  const endUs = end ?? nowMs * 1000;
  const startUs = start ?? endUs - config.SEARCH_DEFAULT_WINDOW_HOURS * HOUR_US;
  if (!Number.isFinite(startUs) || !Number.isFinite(endUs)) throw badRequest('start and end must be ISO 8601 date-times');
  if (startUs >= endUs) throw badRequest(`${names.start} must be before ${names.end}`);
  const maxUs = config.SEARCH_MAX_WINDOW_DAYS * 24 * HOUR_US;
  if (endUs - startUs > maxUs) throw badRequest(`the window from ${names.start} to ${names.end} may span at most ${config.SEARCH_MAX_WINDOW_DAYS} days`);
  return { startUs, endUs };
}

/**
 * q parsed, and checked against the parameters: a filter that holds one value (the
 * author, the language, each end of the window) may be given once, by q or by its
 * parameter, never both, since a silent choice between two would answer a different
 * question than one of them asked. Hashtags and text combine: all must match.
 */
export function parseSearchQuery(query: PostFilterQuery): SearchQuery | undefined {
  if (query.q === undefined) return undefined;
  const syntax = parseQuery(query.q);
  const twice = (given: FromToken<unknown> | undefined, parameter: keyof PostFilterQuery, what: string) => {
    if (given && query[parameter] !== undefined) throw badQuery(`${what} is given twice, by the ${parameter} parameter and by q; give it once`, given.token);
  };
  twice(syntax.author, 'username', 'the author');
  twice(syntax.lang, 'lang', 'the language');
  twice(syntax.since, 'start', 'the start of the window');
  twice(syntax.until, 'end', 'the end of the window');
  return syntax;
}

/** DIDs currently holding a handle (normally one), from identity events. */
export async function resolveHandle(connection: Queryable, handle: string): Promise<string[]> {
  const reader = await connection.runAndReadAll('SELECT did FROM current_handles WHERE handle = $1', [handle.replace(/^@/, '').toLowerCase()]);
  return reader.getRowObjectsJS().map((row) => row.did as string);
}

/** DIDs of an account named by a DID or a handle. */
async function accountDids(connection: Queryable, account: string): Promise<string[]> {
  return account.startsWith('did:') ? [account] : resolveHandle(connection, account);
}

export async function resolvePostFilters(
  connection: Queryable,
  query: PostFilterQuery,
  window: { startUs: number; endUs: number },
  syntax?: SearchQuery,
): Promise<PostFilters> {
  const filters: PostFilters = { ...window };
  if (query.text !== undefined) {
    filters.text = query.text;
    filters.exact = query.exact === true;
  }
  const author = query.username ?? syntax?.author?.value;
  if (author !== undefined) filters.authorDids = await accountDids(connection, author);
  const lang = query.lang ?? syntax?.lang?.value;
  if (lang !== undefined) filters.lang = lang;
  const hashtags = [...(query.hashtag !== undefined ? [query.hashtag] : []), ...(syntax?.hashtags.map((h) => h.value) ?? [])];
  if (hashtags.length > 0) filters.hashtags = [...new Set(hashtags.map(normalizeTag))];
  if (query.has_media !== undefined) filters.hasMedia = query.has_media;
  if (query.is_reply !== undefined) filters.isReply = query.is_reply;
  if (syntax) {
    if (syntax.include.length > 0) filters.include = syntax.include;
    if (syntax.exclude.length > 0) filters.exclude = syntax.exclude;
    // One after the other: a connection runs one statement at a time.
    if (syntax.mentions.length > 0) {
      const mentions: string[][] = [];
      for (const mention of syntax.mentions) mentions.push(await accountDids(connection, mention.value));
      filters.mentions = mentions;
    }
    if (syntax.domains.length > 0) filters.domains = [...new Set(syntax.domains.map((d) => d.value))];
  }
  return filters;
}

/** Aborts when the client closes the connection before the response is complete. */
export function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}
