// Writer entry point: telemetry first, then configuration, Redis, DuckDB, health
// checks and the writer, until SIGTERM, when it finishes the batch in hand.

import { telemetry } from './instrument.ts';
import { loadWriterConfig } from './config.ts';
import { Writer } from './writer.ts';
import { bindWriterMetrics } from './metrics.ts';
import { createLogger } from '../shared/logger.ts';
import { connectRedis, pingRedis } from '../shared/redis.ts';
import { redisKeys } from '../shared/redis-keys.ts';
import { openDuckDB } from '../shared/duckdb.ts';
import { startHealthServer } from '../shared/health-server.ts';
import { exitOnStartupError, handleShutdown } from '../shared/lifecycle.ts';

/** Of the shutdown grace, what is kept for closing servers and connections after the writer stopped. */
const CLOSING_MS = 2000;

async function main(): Promise<void> {
  const config = loadWriterConfig();
  const logger = createLogger('writer', { level: config.LOG_LEVEL, lokiUrl: config.LOKI_URL, environment: config.DEPLOYMENT_ENV, lokiBatchSeconds: config.LOKI_BATCH_SECONDS });
  try {
    const redis = connectRedis(config, 'writer');
    // Blocking reads hold their connection; they get one of their own, with no
    // per-request retry limit (a blocked read is not a failed one).
    const blocking = connectRedis(config, 'writer-reader', { maxRetriesPerRequest: null });
    for (const connection of [redis, blocking]) {
      connection.on('error', (error: Error) => logger.warn({ err: error.message }, 'redis connection error'));
      connection.connect().catch((error: Error) => logger.warn({ err: error.message }, 'redis not reachable yet'));
    }
    const { connection: duckdb } = await openDuckDB({ memoryLimit: config.DUCKDB_MEMORY_LIMIT, threads: config.DUCKDB_THREADS });
    const keys = redisKeys(config.REDIS_PREFIX);
    const writer = await Writer.create(config, redis, blocking, keys, duckdb, logger);
    const stopSampling = bindWriterMetrics(telemetry.meter, writer, redis, keys, config.DATA_DIR, config.STORE_SAMPLE_SECONDS * 1000, logger);
    const health = await startHealthServer({
      host: config.HEALTH_HOST,
      port: config.HEALTH_PORT,
      checks: { redis: () => pingRedis(redis), storage: () => writer.checkStorage() },
    });
    writer.start();
    logger.info({ dataDir: config.DATA_DIR, consumer: config.WRITER_CONSUMER, healthPort: health.port, metricsPort: telemetry.port }, 'writer started');
    const graceMs = config.SHUTDOWN_GRACE_SECONDS * 1000;
    handleShutdown(logger, async () => {
      // The rest of the stop (closing servers, flushing metrics) needs little time.
      const finished = await writer.stop(Math.max(graceMs - CLOSING_MS, graceMs / 2));
      stopSampling();
      await health.close();
      blocking.disconnect();
      if (finished) await redis.quit();
      else redis.disconnect();
      await telemetry.shutdown();
      if (!finished) throw new Error('stopped without finishing the batch in hand; it stays pending for the next leader');
    }, graceMs);
  } catch (error) {
    exitOnStartupError(logger, error);
  }
}

main().catch((error: unknown) => exitOnStartupError(undefined, error));
