// Assembles a complete API from its configuration: the query engine, the store
// index, the side tables, the cache and the Fastify app. main.ts serves it; tests
// and the query benchmark use it in-process.

import { mkdir } from 'node:fs/promises';
import type { Logger } from '../shared/logger.ts';
import type { Redis } from '../shared/redis.ts';
import { metrics, type Meter } from '@opentelemetry/api';
import { buildApp, newApiStats, type ApiStats } from './app.ts';
import type { ApiConfig } from './config.ts';
import { ResponseCache } from './cache.ts';
import { QueryEngine } from './query-engine.ts';
import { SideTables } from './side-tables.ts';
import { StoreIndex } from './store-index.ts';

export interface Api {
  app: Awaited<ReturnType<typeof buildApp>>;
  engine: QueryEngine;
  cache: ResponseCache;
  stats: ApiStats;
  sideTables: SideTables;
  config: ApiConfig;
  close(): Promise<void>;
}

export async function createApi(config: ApiConfig, logger: Logger, redis?: Redis, meter: Meter = metrics.getMeter('api')): Promise<Api> {
  await mkdir(config.DATA_DIR, { recursive: true });
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
  const cache = new ResponseCache(redis, config.REDIS_PREFIX, config.CACHE_TTL_SECONDS);
  const stats = newApiStats();
  const app = await buildApp({
    config,
    stats,
    meter,
    engine,
    store,
    sideTables,
    cache,
    redis,
    healthConnection: await engine.connect(),
    logger,
  });
  await app.ready();
  return {
    app,
    engine,
    cache,
    stats,
    sideTables,
    config,
    close: async () => {
      await app.close();
      sideTables.stop();
    },
  };
}
