// Assembles a complete API from its configuration: the query engine, the store
// index, the side tables, the cache, API keys, the audit trail and the Fastify app.
// main.ts serves it; tests and the query benchmark use it in-process.

import { mkdir } from 'node:fs/promises';
import type { Logger } from '../shared/logger.ts';
import type { Redis } from '../shared/redis.ts';
import { metrics, type Meter } from '@opentelemetry/api';
import { buildApp } from './app.ts';
import { newApiStats, type ApiStats } from './context.ts';
import type { ApiConfig } from './config.ts';
import { ResponseCache } from './cache.ts';
import { QueryEngine } from './query-engine.ts';
import { SideTables } from './side-tables.ts';
import { StoreIndex } from './store-index.ts';
import { ApiKeyStore } from './auth/keys.ts';
import { Authenticator } from './auth/authenticator.ts';
import { ApiAudit } from './audit.ts';
import { AuditLog } from '../shared/audit/log.ts';
import { AuditMirror, createAuditLokiLogger } from '../shared/audit/mirror.ts';
import { DeployImporter } from '../shared/audit/deploy-import.ts';

export interface Api {
  app: Awaited<ReturnType<typeof buildApp>>;
  engine: QueryEngine;
  cache: ResponseCache;
  stats: ApiStats;
  sideTables: SideTables;
  config: ApiConfig;
  keys?: ApiKeyStore;
  audit?: ApiAudit;
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
  if (config.API_AUTH === 'required' && !redis) throw new Error('API_AUTH=required needs Redis, where the API keys are');
  if (config.API_AUTH === 'off') logger.warn('API_AUTH=off: every route is open to anyone who can reach the API');
  const keys = redis ? new ApiKeyStore(redis, config.REDIS_PREFIX) : undefined;
  const auth =
    keys && config.API_AUTH === 'required'
      ? new Authenticator(keys, config.API_KEY_CACHE_MS, (error) => logger.debug({ err: (error as Error).message }, 'could not record a key\'s last use'))
      : undefined;
  const audit = redis ? createAudit(config, redis, stats, logger) : undefined;
  audit?.start(config.AUDIT_SYNC_MS);
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
    auth,
    keys,
    audit,
  });
  await app.ready();
  return {
    app,
    engine,
    cache,
    stats,
    sideTables,
    config,
    keys,
    audit,
    close: async () => {
      await app.close();
      await audit?.stop();
      sideTables.stop();
    },
  };
}

/** The audit trail as the API writes it: the stream, and (one process at a time) the files, Loki and imported deploys. */
function createAudit(config: ApiConfig, redis: Redis, stats: ApiStats, logger: Logger): ApiAudit {
  const count = (action: string) => {
    stats.auditEvents[action] = (stats.auditEvents[action] ?? 0) + 1;
  };
  const log = new AuditLog(redis, config.REDIS_PREFIX, { maxLen: config.AUDIT_STREAM_MAXLEN, onAppended: (entry) => count(entry.action) });
  if (!config.AUDIT_DIR) logger.warn('AUDIT_DIR is unset: the audit trail is kept in Redis only (no daily files, no Loki copy)');
  const mirror = config.AUDIT_DIR
    ? new AuditMirror(redis, config.REDIS_PREFIX, {
        dir: config.AUDIT_DIR,
        loki: config.LOKI_URL
          ? createAuditLokiLogger({ lokiUrl: config.LOKI_URL, service: 'api', environment: config.DEPLOYMENT_ENV, batchSeconds: config.LOKI_BATCH_SECONDS })
          : undefined,
        logger: logger.child({ component: 'audit' }),
        // Entries another program appended (the keys CLI) are counted when this process mirrors them.
        onMirrored: (entry) => {
          if (entry.source !== 'api' && entry.source !== 'deploy-import') count(entry.action);
        },
      })
    : undefined;
  const deploys = config.AUDIT_DEPLOYS_LOG ? new DeployImporter(log, config.AUDIT_DEPLOYS_LOG) : undefined;
  return new ApiAudit(log, logger.child({ component: 'audit' }), mirror, deploys);
}
