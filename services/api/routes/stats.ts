import type { FastifyPluginAsync } from 'fastify';
import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { FromSchema } from 'json-schema-to-ts';
import type { ApiContext } from '../context.ts';
import { errorResponseSchema } from '../errors.ts';
import { clientGone, resolveWindow } from '../filters.ts';
import { windowProperties } from '../schemas.ts';
import { sqlStringList } from '../../shared/duckdb.ts';
import { TABLE_NAMES, type TableName } from '../../shared/tables.ts';

const HOUR_US = 3_600_000_000;

const timeseriesResponseSchema = {
  type: 'object',
  required: ['interval', 'series', 'totals'],
  properties: {
    interval: { type: 'string' },
    start: { type: 'string', format: 'date-time' },
    end: { type: 'string', format: 'date-time' },
    series: {
      type: 'array',
      items: {
        type: 'object',
        required: ['bucket', 'counts'],
        properties: { bucket: { type: 'string', format: 'date-time' }, counts: { type: 'object', additionalProperties: { type: 'integer' } } },
      },
    },
    totals: { type: 'object', additionalProperties: { type: 'integer' } },
  },
} as const;

const hashtagsResponseSchema = {
  type: 'object',
  required: ['hashtags', 'meta'],
  properties: {
    hashtags: {
      type: 'array',
      items: { type: 'object', required: ['hashtag', 'count'], properties: { hashtag: { type: 'string' }, count: { type: 'integer' } } },
    },
    meta: {
      type: 'object',
      properties: { partitions_scanned: { type: 'integer' }, start: { type: 'string' }, end: { type: 'string' }, took_ms: { type: 'number' } },
    },
  },
} as const;

/** Bodies as sent and as cached. */
type TimeseriesResponse = FromSchema<typeof timeseriesResponseSchema>;
type HashtagsResponse = FromSchema<typeof hashtagsResponseSchema>;

export const statsRoutes: FastifyPluginAsync<{ ctx: ApiContext }> = async (fastify, { ctx }) => {
  const { config } = ctx;
  // request.query and the replies take their types from the routes' schemas.
  const app = fastify.withTypeProvider<JsonSchemaToTsProvider>();

  app.get(
    '/v1/stats/timeseries',
    {
      schema: {
        tags: ['stats'],
        summary: 'Events stored per table per hour or day',
        description:
          'Counts of stored rows per table (posts, likes, reposts, follows, blocks, profiles, deletes, identities, accounts, other) ' +
          'in whole UTC hours or days overlapping the window, read from Parquet metadata (no scan).',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { ...windowProperties, interval: { type: 'string', enum: ['hour', 'day'], default: 'hour' } },
        },
        response: {
          200: timeseriesResponseSchema,
          400: errorResponseSchema,
          503: errorResponseSchema,
        },
      },
    },
    async (request, reply) => {
      const { interval, ...windowQuery } = request.query;
      const cacheKey = ctx.cache.key('/v1/stats/timeseries', request.query);
      const cached = await ctx.cache.get<TimeseriesResponse>(cacheKey);
      if (cached) return reply.header('x-cache', 'hit').send(cached);
      const window = resolveWindow(windowQuery, config);
      const buckets = new Map<string, Partial<Record<TableName, number>>>();
      const totals: Partial<Record<TableName, number>> = {};
      await ctx.engine.run(
        'timeseries',
        async (connection) => {
          for (const table of TABLE_NAMES) {
            const hours = await ctx.store.hours(table, window.startUs, window.endUs);
            if (hours.length === 0) continue;
            const reader = await connection.runAndReadAll(
              `SELECT file_name, num_rows::DOUBLE AS n FROM parquet_file_metadata(${sqlStringList(hours.flatMap((h) => h.files))})`,
            );
            const rowsByFile = new Map(reader.getRowObjectsJS().map((r) => [r.file_name as string, r.n as number]));
            for (const hour of hours) {
              const count = hour.files.reduce((sum, f) => sum + (rowsByFile.get(f) ?? 0), 0);
              const bucketUs = interval === 'day' ? Math.floor(hour.startUs / (24 * HOUR_US)) * 24 * HOUR_US : hour.startUs;
              const bucket = new Date(bucketUs / 1000).toISOString();
              const counts = buckets.get(bucket) ?? {};
              counts[table] = (counts[table] ?? 0) + count;
              buckets.set(bucket, counts);
              totals[table] = (totals[table] ?? 0) + count;
            }
          }
        },
        config.QUERY_TIMEOUT_MS,
        clientGone(reply),
      );
      const body: TimeseriesResponse = {
        interval,
        start: new Date(window.startUs / 1000).toISOString(),
        end: new Date(window.endUs / 1000).toISOString(),
        series: [...buckets.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([bucket, counts]) => ({ bucket, counts })),
        totals,
      };
      ctx.stats.rowsReturned.timeseries = (ctx.stats.rowsReturned.timeseries ?? 0) + body.series.length;
      await ctx.cache.set(cacheKey, body);
      return reply.header('x-cache', 'miss').send(body);
    },
  );

  app.get(
    '/v1/stats/hashtags',
    {
      schema: {
        tags: ['stats'],
        summary: 'Most used hashtags in a window',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { ...windowProperties, limit: { type: 'integer', minimum: 1, maximum: 1000, default: 20 } },
        },
        response: {
          200: hashtagsResponseSchema,
          400: errorResponseSchema,
          503: errorResponseSchema,
        },
      },
    },
    async (request, reply) => {
      const started = performance.now();
      const { limit, ...windowQuery } = request.query;
      const cacheKey = ctx.cache.key('/v1/stats/hashtags', request.query);
      const cached = await ctx.cache.get<HashtagsResponse>(cacheKey);
      if (cached) return reply.header('x-cache', 'hit').send(cached);
      const window = resolveWindow(windowQuery, config);
      const hours = await ctx.store.hours('posts', window.startUs, window.endUs);
      const hashtags =
        hours.length === 0
          ? []
          : await ctx.engine.run(
              'hashtags',
              async (connection) => {
                const reader = await connection.runAndReadAll(
                  `SELECT tag AS hashtag, count(*)::DOUBLE AS count FROM (
                     SELECT unnest(hashtags) AS tag FROM read_parquet(${sqlStringList(hours.flatMap((h) => h.files))}, hive_partitioning = false, union_by_name = true)
                     WHERE operation = 'create' AND time_us >= $1 AND time_us < $2
                   ) GROUP BY tag ORDER BY count DESC, tag LIMIT $3`,
                  [window.startUs, window.endUs, limit],
                );
                return reader.getRowObjectsJS().map((r) => ({ hashtag: r.hashtag as string, count: r.count as number }));
              },
              config.QUERY_TIMEOUT_MS,
              clientGone(reply),
            );
      ctx.stats.rowsReturned.hashtags = (ctx.stats.rowsReturned.hashtags ?? 0) + hashtags.length;
      const body: HashtagsResponse = {
        hashtags,
        meta: {
          partitions_scanned: hours.length,
          start: new Date(window.startUs / 1000).toISOString(),
          end: new Date(window.endUs / 1000).toISOString(),
          took_ms: Math.round(performance.now() - started),
        },
      };
      await ctx.cache.set(cacheKey, body);
      return reply.header('x-cache', 'miss').send(body);
    },
  );
};
