// From validated query parameters to a PostFilters: the time window (defaults,
// order, maximum length), the author (a handle resolved to DIDs), and the
// normalised hashtag and language.

import type { Queryable } from './query-engine.ts';
import type { FastifyReply } from 'fastify';
import { normalizeTag } from '../shared/normalize.ts';
import type { ApiConfig } from './config.ts';
import { badRequest } from './errors.ts';
import type { PostFilters } from './post-query.ts';

export interface WindowQuery {
  start?: string;
  end?: string;
}

export interface PostFilterQuery extends WindowQuery {
  text?: string;
  exact?: boolean;
  username?: string;
  lang?: string;
  hashtag?: string;
  has_media?: boolean;
  is_reply?: boolean;
}

const HOUR_US = 3_600_000_000;

export function resolveWindow(query: WindowQuery, config: ApiConfig, nowMs = Date.now()): { startUs: number; endUs: number } {
  const endUs = query.end ? Date.parse(query.end) * 1000 : nowMs * 1000;
  const startUs = query.start ? Date.parse(query.start) * 1000 : endUs - config.SEARCH_DEFAULT_WINDOW_HOURS * HOUR_US;
  if (!Number.isFinite(startUs) || !Number.isFinite(endUs)) throw badRequest('start and end must be ISO 8601 date-times');
  if (startUs >= endUs) throw badRequest('start must be before end');
  const maxUs = config.SEARCH_MAX_WINDOW_DAYS * 24 * HOUR_US;
  if (endUs - startUs > maxUs) throw badRequest(`the window from start to end may span at most ${config.SEARCH_MAX_WINDOW_DAYS} days`);
  return { startUs, endUs };
}

/** DIDs currently holding a handle (normally one), from identity events. */
export async function resolveHandle(connection: Queryable, handle: string): Promise<string[]> {
  const reader = await connection.runAndReadAll('SELECT did FROM current_handles WHERE handle = $1', [handle.replace(/^@/, '').toLowerCase()]);
  return reader.getRowObjectsJS().map((row) => row.did as string);
}

export async function resolvePostFilters(
  connection: Queryable,
  query: PostFilterQuery,
  window: { startUs: number; endUs: number },
): Promise<PostFilters> {
  const filters: PostFilters = { ...window };
  if (query.text !== undefined) {
    filters.text = query.text;
    filters.exact = query.exact === true;
  }
  if (query.username !== undefined) {
    filters.authorDids = query.username.startsWith('did:') ? [query.username] : await resolveHandle(connection, query.username);
  }
  if (query.lang !== undefined) filters.lang = query.lang;
  if (query.hashtag !== undefined) filters.hashtag = normalizeTag(query.hashtag);
  if (query.has_media !== undefined) filters.hasMedia = query.has_media;
  if (query.is_reply !== undefined) filters.isReply = query.is_reply;
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
