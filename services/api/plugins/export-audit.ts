// Every export is an audit entry: who (the key), which filters, how many rows, and
// whether it ran to the end, written once the response is over.

import type { ApiContext } from '../app.ts';
import { sharedPlugin } from './shared-plugin.ts';

export const exportAudit = sharedPlugin<{ ctx: ApiContext }>('bpe-export-audit', async (app, { ctx }) => {
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
});
