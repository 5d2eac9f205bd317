import { access, constants } from 'node:fs/promises';
import type { FastifyPluginAsync } from 'fastify';
import type { ApiContext } from '../app.ts';
import { runReadinessChecks } from '../../shared/health-server.ts';

export const healthRoutes: FastifyPluginAsync<{ ctx: ApiContext }> = async (app, { ctx }) => {
  app.get('/healthz', { schema: { tags: ['health'], summary: 'The process is alive' } }, () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { tags: ['health'], summary: 'The data directory is readable and DuckDB answers' } }, async (_request, reply) => {
    const result = await runReadinessChecks({
      data_dir: () => access(ctx.config.DATA_DIR, constants.R_OK),
      duckdb: async () => {
        await ctx.healthConnection.run('SELECT 1');
      },
      side_tables: () =>
        Date.now() - ctx.sideTables.lastRefreshAt < Math.max(60_000, ctx.config.SIDE_TABLE_REFRESH_MS * 10)
          ? Promise.resolve()
          : Promise.reject(new Error('deleted-post and handle tables are stale')),
    });
    return reply.code(result.ready ? 200 : 503).send({ status: result.ready ? 'ready' : 'not_ready', checks: result.checks });
  });
};
