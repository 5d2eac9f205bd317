// Every export is an audit entry: who (the key), which filters, how many rows, and
// whether it ran to the end, written once the response is over.

import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import type { ApiContext } from '../context.ts';

const auditExports: FastifyPluginAsync<{ ctx: ApiContext }> = async (app, { ctx }) => {
  app.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode !== 200 || request.routeOptions.url !== '/v1/export') return;
    const key = request.apiKey;
    ctx.audit?.record({
      action: 'export',
      actor: key ? { type: 'key', id: key.id, name: key.name } : { type: 'anonymous' },
      ip: request.ip,
      details: {
        filters: request.query,
        rows: request.exportRows ?? 0,
        // end() reached: the stream ran to its end (a client that went away cuts it short).
        complete: reply.raw.writableEnded,
        request_id: request.id,
      },
    });
  });
};

/** fp: the hook covers the export group that registers the plugin (app.ts). */
export const exportAudit = fp(auditExports, { name: 'bpe-export-audit', fastify: '5.x' });
