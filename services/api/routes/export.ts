import { createReadStream } from 'node:fs';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { ApiContext } from '../context.ts';
import { csvLine } from '../csv.ts';
import { errorResponseSchema } from '../errors.ts';
import { clientGone, parseSearchQuery, resolvePostFilters, resolveSearchWindow } from '../filters.ts';
import { writeParquetExport, type ParquetExport } from '../parquet-export.ts';
import { QueryCancelledError } from '../query-engine.ts';
import { exportPosts, type PostResult } from '../post-query.ts';
import { postFilterProperties } from '../schemas.ts';

export const EXPORT_FORMATS = ['csv', 'ndjson', 'parquet'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Export columns, in CSV order; NDJSON objects and Parquet files carry the same fields. */
export const EXPORT_COLUMNS = [
  'uri', 'author_did', 'username', 'timestamp', 'indexed_at', 'text', 'langs', 'hashtags', 'mentions', 'links', 'labels',
  'is_reply', 'reply_root_uri', 'reply_parent_uri', 'quote_uri', 'embed_kind', 'has_media',
] as const satisfies readonly (keyof PostResult)[];

const CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  ndjson: 'application/x-ndjson; charset=utf-8',
  parquet: 'application/vnd.apache.parquet',
};

export const exportRoutes: FastifyPluginAsync<{ ctx: ApiContext }> = async (fastify, { ctx }) => {
  const { config } = ctx;
  // request.query takes its type from the route's schema.
  const app = fastify.withTypeProvider<JsonSchemaToTsProvider>();
  // Exports hold a query slot for their whole length: at most half the pool, so
  // searches always find room. An export that finds every export slot taken waits
  // in line like any query (QUEUE_TIMEOUT_MS), instead of being turned away at once.
  const exportSlots = ctx.engine.slots(Math.max(1, Math.floor(config.MAX_CONCURRENT_QUERIES / 2)));

  app.get(
    '/v1/export',
    {
      schema: {
        tags: ['posts'],
        summary: 'Export matching posts as CSV, NDJSON or Parquet',
        description:
          'The same filters as /v1/search (q included), as a file download, newest first. CSV and NDJSON stream as the query ' +
          'produces rows, never held in memory; Parquet (typed columns, zstd) is written to a temporary file and sent whole, ' +
          'with a Content-Length. CSV cells that a spreadsheet could run as a formula start with a single quote unless ' +
          `csv_raw=true. At most ${config.EXPORT_MAX_ROWS} rows (the x-export-row-cap header says the cap in force); ` +
          'closing the connection cancels the query.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...postFilterProperties,
            format: { type: 'string', enum: [...EXPORT_FORMATS], default: 'csv', description: 'csv (for spreadsheets), ndjson or parquet (typed columns, for programs)' },
            csv_raw: {
              type: 'boolean',
              default: false,
              description: 'CSV only: true writes every value exactly, without the single quote that keeps formula-like cells (= + - @ ...) inert in spreadsheets',
            },
            limit: { type: 'integer', minimum: 1, maximum: config.EXPORT_MAX_ROWS, description: 'stop after this many rows' },
          },
        },
        response: { 400: errorResponseSchema, 503: errorResponseSchema },
      },
    },
    async (request, typedReply) => {
      // The 200 is a file, sent as it is written: the response schemas describe the
      // JSON errors only, so the file goes out through a reply they do not type.
      const reply: FastifyReply = typedReply;
      const { format, csv_raw: raw, limit, ...filterQuery } = request.query;
      const syntax = parseSearchQuery(filterQuery);
      const window = resolveSearchWindow(filterQuery, syntax, config);
      const slot = await exportSlots.acquire();
      const signal = clientGone(reply);
      const cap = Math.min(limit ?? config.EXPORT_MAX_ROWS, config.EXPORT_MAX_ROWS);
      const stamp = (us: number) => new Date(us / 1000).toISOString().replace(/[:.]/g, '-');
      const headers = {
        'content-type': CONTENT_TYPES[format],
        'content-disposition': `attachment; filename="posts-${stamp(window.startUs)}-${stamp(window.endUs)}.${format}"`,
        'x-export-row-cap': String(cap),
      };

      if (format === 'parquet') {
        let file: ParquetExport | undefined;
        try {
          await ctx.engine.run(
            'export',
            async (connection) => {
              file = await writeParquetExport(connection, ctx.store, await resolvePostFilters(connection, filterQuery, window, syntax), cap);
            },
            config.EXPORT_TIMEOUT_MS,
            signal,
          );
        } catch (error) {
          // Written, but the time ran out or the client left meanwhile: nobody will read it.
          await file?.remove();
          throw error;
        } finally {
          exportSlots.release(slot);
        }
        return sendParquet(file!);
      }

      try {
        await ctx.engine.run(
          'export',
          async (connection) => {
            const filters = await resolvePostFilters(connection, filterQuery, window, syntax);
            const out = new PassThrough();
            void reply.headers(headers).send(out);
            let rows = 0;
            try {
              if (format === 'csv') out.write(csvLine(EXPORT_COLUMNS, { raw }));
              for await (const batch of exportPosts(connection, ctx.store, filters, cap)) {
                const text = batch
                  .map((post) =>
                    format === 'csv'
                      ? csvLine(EXPORT_COLUMNS.map((c) => post[c]), { raw })
                      : `${JSON.stringify(Object.fromEntries(EXPORT_COLUMNS.map((c) => [c, post[c]])))}\n`,
                  )
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

      /** Sends a written Parquet file, and removes it once the response is over, sent or cut short. */
      function sendParquet(file: ParquetExport) {
        const cleanup = () => {
          file.remove().catch((error: unknown) => request.log.warn({ err: error }, 'could not remove a Parquet export file'));
        };
        // The client may have left between the end of the query and now: 'close' is then past.
        if (signal.aborted) {
          cleanup();
          throw new QueryCancelledError();
        }
        reply.raw.once('close', cleanup);
        request.exportRows = file.rows;
        ctx.stats.rowsReturned.export = (ctx.stats.rowsReturned.export ?? 0) + file.rows;
        ctx.stats.exportBytes.parquet += file.bytes;
        request.log.info({ rows: file.rows, bytes: file.bytes, format }, 'export written');
        return reply
          .headers({ ...headers, 'content-length': String(file.bytes) })
          .send(createReadStream(file.path));
      }
    },
  );
};
