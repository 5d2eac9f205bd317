// API entry point: validate configuration, open DuckDB and the side tables, serve
// until SIGTERM, then stop accepting requests and let running ones finish.

import { mkdir } from 'node:fs/promises';
import { loadApiConfig } from './config.ts';
import { buildApp } from './app.ts';
import { QueryEngine } from './query-engine.ts';
import { StoreIndex } from './store-index.ts';
import { SideTables } from './side-tables.ts';
import { ResponseCache } from './cache.ts';
import { createLogger } from '../shared/logger.ts';
import { createRedis } from '../shared/redis.ts';
import { exitOnStartupError, handleShutdown } from '../shared/lifecycle.ts';

async function main(): Promise<void> {
  const config = loadApiConfig();
  const logger = createLogger('api', config.LOG_LEVEL);
  try {
    await mkdir(config.DATA_DIR, { recursive: true });
    const redis = createRedis(config.REDIS_URL, 'api', { maxRetriesPerRequest: 1 });
    redis.on('error', (error: Error) => logger.debug({ err: error.message }, 'redis connection error'));
    redis.connect().catch((error: Error) => logger.warn({ err: error.message }, 'redis not reachable: the cache is off until it is'));

    const engine = await QueryEngine.create({
      connections: config.MAX_CONCURRENT_QUERIES,
      queueTimeoutMs: config.QUEUE_TIMEOUT_MS,
      maxQueued: config.MAX_QUEUED_QUERIES,
      memoryLimit: config.DUCKDB_MEMORY_LIMIT,
      threads: config.DUCKDB_THREADS,
    });
    const store = new StoreIndex(config.DATA_DIR);
    const sideTables = new SideTables(await engine.connect(), store, logger.child({ component: 'side-tables' }));
    await sideTables.init(config.SIDE_TABLE_REFRESH_MS);
    const app = await buildApp({
      config,
      engine,
      store,
      sideTables,
      cache: new ResponseCache(redis, config.REDIS_PREFIX, config.CACHE_TTL_SECONDS),
      healthConnection: await engine.connect(),
      logger,
    });
    const address = await app.listen({ host: config.API_HOST, port: config.API_PORT });
    logger.info({ address, port: app.server.address() && typeof app.server.address() === 'object' ? (app.server.address() as { port: number }).port : config.API_PORT }, 'api started');
    handleShutdown(logger, async () => {
      await app.close();
      sideTables.stop();
      redis.disconnect();
    });
  } catch (error) {
    exitOnStartupError(logger, error);
  }
}

main().catch((error: unknown) => exitOnStartupError(undefined, error));
