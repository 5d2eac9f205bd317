// Ingester entry point: validate configuration, connect Redis, serve health checks,
// run until SIGTERM, then store what was received before exiting.

import { loadIngesterConfig } from './config.ts';
import { Ingester } from './ingester.ts';
import { createLogger } from '../shared/logger.ts';
import { createRedis, pingRedis } from '../shared/redis.ts';
import { redisKeys } from '../shared/redis-keys.ts';
import { startHealthServer } from '../shared/health-server.ts';
import { exitOnStartupError, handleShutdown } from '../shared/lifecycle.ts';

async function main(): Promise<void> {
  const config = loadIngesterConfig();
  const logger = createLogger('ingester', config.LOG_LEVEL);
  try {
    const redis = createRedis(config.REDIS_URL, 'ingester');
    redis.on('error', (error: Error) => logger.warn({ err: error.message }, 'redis connection error'));
    // Not awaited: the ingester starts (and reports not ready) while Redis is
    // down, and connects once it answers.
    redis.connect().catch((error: Error) => logger.warn({ err: error.message }, 'redis not reachable yet'));
    const ingester = new Ingester(config, redis, redisKeys(config.REDIS_PREFIX), logger);
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
    logger.info({ urls: config.JETSTREAM_URL, healthPort: health.port }, 'ingester started');
    handleShutdown(logger, async () => {
      await ingester.stop();
      await health.close();
      await redis.quit();
    });
  } catch (error) {
    exitOnStartupError(logger, error);
  }
}

main().catch((error: unknown) => exitOnStartupError(undefined, error));
