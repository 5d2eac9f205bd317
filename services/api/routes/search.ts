import type { FastifyPluginAsync } from 'fastify';
import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { FromSchema } from 'json-schema-to-ts';
import type { ApiContext } from '../context.ts';
import { decodeCursor, encodeCursor, queryFingerprint } from '../cursor.ts';
import { errorResponseSchema } from '../errors.ts';
import { clientGone, parseSearchQuery, resolvePostFilters, resolveSearchWindow } from '../filters.ts';
import { searchPosts } from '../post-query.ts';
import { postFilterProperties, postSchema } from '../schemas.ts';

const searchResponseSchema = {
  type: 'object',
  required: ['results', 'meta'],
  properties: {
    results: { type: 'array', items: postSchema },
    meta: {
      type: 'object',
      required: ['count', 'next_cursor', 'partitions_scanned'],
      properties: {
        count: { type: 'integer', description: 'results in this page' },
        next_cursor: { type: ['string', 'null'], description: 'pass as cursor for the next page; null on the last page' },
        partitions_scanned: { type: 'integer', description: 'hour partitions read to answer' },
        start: { type: 'string', format: 'date-time' },
        end: { type: 'string', format: 'date-time' },
        took_ms: { type: 'number' },
      },
    },
  },
} as const;

/** A page of results, as sent and as cached. */
export type SearchResponse = FromSchema<typeof searchResponseSchema>;

export const searchRoutes: FastifyPluginAsync<{ ctx: ApiContext }> = async (fastify, { ctx }) => {
  const { config } = ctx;
  // request.query and the reply take their types from the route's schemas.
  const app = fastify.withTypeProvider<JsonSchemaToTsProvider>();
  app.get(
    '/v1/search',
    {
      schema: {
        tags: ['posts'],
        summary: 'Search posts, newest first',
        description:
          'Posts matching every given filter inside the window, newest first (by the time the network saw them). ' +
          'q takes Bluesky\'s search syntax (from:, mentions:, lang:, since:, until:, domain:, #hashtag, "phrase", -word, words), ' +
          'combined with the other parameters: everything must match. Deleted posts never appear. Page with meta.next_cursor.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...postFilterProperties,
            limit: { type: 'integer', minimum: 1, maximum: config.SEARCH_MAX_LIMIT, default: config.SEARCH_DEFAULT_LIMIT, description: 'results per page' },
            cursor: { type: 'string', maxLength: 4096, pattern: '^[A-Za-z0-9_-]+$', description: 'meta.next_cursor of the previous page' },
          },
        },
        response: {
          200: searchResponseSchema,
          400: errorResponseSchema,
          503: errorResponseSchema,
        },
      },
    },
    async (request, reply) => {
      const started = performance.now();
      const { limit, cursor, ...filterQuery } = request.query;
      const cacheKey = ctx.cache.key('/v1/search', request.query);
      const cached = await ctx.cache.get<SearchResponse>(cacheKey);
      if (cached) return reply.header('x-cache', 'hit').send(cached);

      const syntax = parseSearchQuery(filterQuery);
      const fingerprint = queryFingerprint(filterQuery);
      // A cursor carries the window of its first page, so a default window ("the
      // last 24 h") does not slide between pages.
      const position = cursor ? decodeCursor(cursor, fingerprint) : undefined;
      const window = position ? { startUs: position.startUs, endUs: position.endUs } : resolveSearchWindow(filterQuery, syntax, config);
      const outcome = await ctx.engine.run(
        'search',
        async (connection) => {
          const filters = await resolvePostFilters(connection, filterQuery, window, syntax);
          return searchPosts(connection, ctx.store, filters, limit, position);
        },
        config.QUERY_TIMEOUT_MS,
        clientGone(reply),
      );
      const body: SearchResponse = {
        results: outcome.results.map(({ time_us: _t, rkey: _r, ...post }) => post),
        meta: {
          count: outcome.results.length,
          next_cursor: outcome.next ? encodeCursor({ ...outcome.next, ...window }, fingerprint) : null,
          partitions_scanned: outcome.partitionsScanned,
          start: new Date(window.startUs / 1000).toISOString(),
          end: new Date(window.endUs / 1000).toISOString(),
          took_ms: Math.round(performance.now() - started),
        },
      };
      ctx.stats.rowsReturned.search = (ctx.stats.rowsReturned.search ?? 0) + body.results.length;
      await ctx.cache.set(cacheKey, body);
      return reply.header('x-cache', 'miss').send(body);
    },
  );
};
