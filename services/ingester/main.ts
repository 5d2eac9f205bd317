// Ingester entry point: telemetry first, then configuration, Redis, health checks,
// and the ingester itself, until SIGTERM, when it stores what it received before
// exiting.

import { telemetry } from './instrument.ts';
import { loadIngesterConfig } from './config.ts';
import { Ingester } from './ingester.ts';
import { bindIngesterMetrics } from './metrics.ts';
import { createLogger } from '../shared/logger.ts';
import { connectRedis, pingRedis } from '../shared/redis.ts';
import { redisKeys } from '../shared/redis-keys.ts';
import { startHealthServer } from '../shared/health-server.ts';
import { exitOnStartupError, handleShutdown } from '../shared/lifecycle.ts';

async function main(): Promise<void> {
  const config = loadIngesterConfig();
  const logger = createLogger('ingester', { level: config.LOG_LEVEL, lokiUrl: config.LOKI_URL, environment: config.DEPLOYMENT_ENV, lokiBatchSeconds: config.LOKI_BATCH_SECONDS });
  try {
    const redis = connectRedis(config, 'ingester');
    redis.on('error', (error: Error) => logger.warn({ err: error.message }, 'redis connection error'));
    // Not awaited: the ingester starts (and reports not ready) while Redis is
    // down, and connects once it answers.
    redis.connect().catch((error: Error) => logger.warn({ err: error.message }, 'redis not reachable yet'));
    const ingester = new Ingester(config, redis, redisKeys(config.REDIS_PREFIX), logger);
    bindIngesterMetrics(telemetry.meter, ingester);
    const health = await startHealthServer({
      host: config.HEALTH_HOST,
      port: config.HEALTH_PORT,
      checks: {
        redis: () => pingRedis(redis),
        jetstream: () =>
          ingester.client.connected || ingester.paused ? Promise.resolve() : Promise.reject(new Error('not connected to jetstream')),
      },
    });
    ingester.start();
    logger.info({ urls: config.JETSTREAM_URL, healthPort: health.port, metricsPort: telemetry.port }, 'ingester started');
    handleShutdown(logger, async () => {
      await ingester.stop();
      await health.close();
      await redis.quit();
      await telemetry.shutdown();
    }, config.SHUTDOWN_GRACE_SECONDS * 1000);
  } catch (error) {
    exitOnStartupError(logger, error);
  }
}

main().catch((error: unknown) => exitOnStartupError(undefined, error));
