import { access, constants } from 'node:fs/promises';
import type { FastifyPluginAsync } from 'fastify';
import type { ApiContext } from '../context.ts';
import { runReadinessChecks, type ReadinessCheck } from '../../shared/health-server.ts';
import { pingRedis } from '../../shared/redis.ts';

export const healthRoutes: FastifyPluginAsync<{ ctx: ApiContext }> = async (app, { ctx }) => {
  app.get('/healthz', { schema: { tags: ['health'], summary: 'The process is alive' } }, () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { tags: ['health'], summary: 'Redis, the data directory and DuckDB answer' } }, async (_request, reply) => {
    const redis: Record<string, ReadinessCheck> = ctx.redis ? { redis: () => pingRedis(ctx.redis!) } : {};
    const result = await runReadinessChecks({
      ...redis,
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
