import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import type { ApiContext } from '../app.ts';
import { csvLine } from '../csv.ts';
import { errorResponseSchema } from '../errors.ts';
import { clientGone, resolvePostFilters, resolveWindow, type PostFilterQuery } from '../filters.ts';
import { exportPosts, type PostResult } from '../post-query.ts';
import { postFilterProperties } from '../schemas.ts';

interface ExportQuery extends PostFilterQuery {
  format?: 'csv' | 'ndjson';
  limit?: number;
}

/** Export columns, in CSV order; NDJSON objects carry the same fields. */
export const EXPORT_COLUMNS = [
  'uri', 'author_did', 'username', 'timestamp', 'indexed_at', 'text', 'langs', 'hashtags', 'mentions', 'links', 'labels',
  'is_reply', 'reply_root_uri', 'reply_parent_uri', 'quote_uri', 'embed_kind', 'has_media',
] as const satisfies readonly (keyof PostResult)[];

export const exportRoutes: FastifyPluginAsync<{ ctx: ApiContext }> = async (app, { ctx }) => {
  const { config } = ctx;
  // Exports hold a query slot for their whole length: at most half the pool, so
  // searches always find room. An export that finds every export slot taken waits
  // in line like any query (QUEUE_TIMEOUT_MS), instead of being turned away at once.
  const exportSlots = ctx.engine.slots(Math.max(1, Math.floor(config.MAX_CONCURRENT_QUERIES / 2)));

  app.get<{ Querystring: ExportQuery }>(
    '/v1/export',
    {
      schema: {
        tags: ['posts'],
        summary: 'Export matching posts as CSV or NDJSON',
        description:
          'The same filters as /v1/search, streamed newest first as a file download, never held in memory. ' +
          `At most ${config.EXPORT_MAX_ROWS} rows (the x-export-row-cap header says the cap in force); closing the connection cancels the query.`,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...postFilterProperties,
            format: { type: 'string', enum: ['csv', 'ndjson'], default: 'csv' },
            limit: { type: 'integer', minimum: 1, maximum: config.EXPORT_MAX_ROWS, description: 'stop after this many rows' },
          },
        },
        response: { 400: errorResponseSchema, 503: errorResponseSchema },
      },
    },
    async (request, reply) => {
      const { format = 'csv', limit, ...filterQuery } = request.query;
      const window = resolveWindow(filterQuery, config);
      const slot = await exportSlots.acquire();
      const signal = clientGone(reply);
      const cap = Math.min(limit ?? config.EXPORT_MAX_ROWS, config.EXPORT_MAX_ROWS);
      const stamp = (us: number) => new Date(us / 1000).toISOString().replace(/[:.]/g, '-');
      try {
        await ctx.engine.run(
        'export',
          async (connection) => {
            const filters = await resolvePostFilters(connection, filterQuery, window);
            const out = new PassThrough();
            void reply
              .header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
              .header('content-disposition', `attachment; filename="posts-${stamp(window.startUs)}-${stamp(window.endUs)}.${format}"`)
              .header('x-export-row-cap', String(cap))
              .send(out);
            let rows = 0;
            try {
              if (format === 'csv') out.write(csvLine(EXPORT_COLUMNS));
              for await (const batch of exportPosts(connection, ctx.store, filters, cap)) {
                const text = batch
                  .map((post) => (format === 'csv' ? csvLine(EXPORT_COLUMNS.map((c) => post[c])) : `${JSON.stringify(Object.fromEntries(EXPORT_COLUMNS.map((c) => [c, post[c]])))}\n`))
                  .join('');
                rows += batch.length;
                request.exportRows = rows; // for the audit trail (plugins/export-audit.ts)
                ctx.stats.rowsReturned.export = (ctx.stats.rowsReturned.export ?? 0) + batch.length;
                ctx.stats.exportBytes[format] += Buffer.byteLength(text);
                if (!out.write(text)) await once(out, 'drain', { signal });
              }
              out.end();
              request.log.info({ rows, format }, 'export finished');
            } catch (error) {
              if (signal.aborted) request.log.info({ rows }, 'export cancelled: the client went away');
              else request.log.warn({ err: error, rows }, 'export stopped early');
              out.destroy(error as Error);
            }
          },
          config.EXPORT_TIMEOUT_MS,
          signal,
        );
      } finally {
        exportSlots.release(slot);
      }
      return reply;
    },
  );
};
