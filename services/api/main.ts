// API entry point: validate configuration, assemble the API, serve until SIGTERM,
// then stop accepting requests and let running ones finish.

import type { AddressInfo } from 'node:net';
import { loadApiConfig } from './config.ts';
import { createApi } from './server.ts';
import { createLogger } from '../shared/logger.ts';
import { createRedis } from '../shared/redis.ts';
import { exitOnStartupError, handleShutdown } from '../shared/lifecycle.ts';

async function main(): Promise<void> {
  const config = loadApiConfig();
  const logger = createLogger('api', config.LOG_LEVEL);
  try {
    const redis = createRedis(config.REDIS_URL, 'api', { maxRetriesPerRequest: 1 });
    redis.on('error', (error: Error) => logger.debug({ err: error.message }, 'redis connection error'));
    redis.connect().catch((error: Error) => logger.warn({ err: error.message }, 'redis not reachable: the cache is off until it is'));
    const api = await createApi(config, logger, redis);
    await api.app.listen({ host: config.API_HOST, port: config.API_PORT });
    const { port } = api.app.server.address() as AddressInfo;
    logger.info({ host: config.API_HOST, port, docs: `http://${config.API_HOST}:${port}/docs` }, 'api started');
    handleShutdown(logger, async () => {
      await api.close();
      redis.disconnect();
    });
  } catch (error) {
    exitOnStartupError(logger, error);
  }
}

main().catch((error: unknown) => exitOnStartupError(undefined, error));
