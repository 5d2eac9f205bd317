// API entry point: telemetry first, then configuration, the API itself, served
// until SIGTERM, when it stops accepting requests and lets running ones finish.

import { telemetry } from './instrument.ts';
import type { AddressInfo } from 'node:net';
import { loadApiConfig } from './config.ts';
import { bindApiMetrics } from './metrics.ts';
import { createApi } from './server.ts';
import { createLogger } from '../shared/logger.ts';
import { connectRedis } from '../shared/redis.ts';
import { exitOnStartupError, handleShutdown } from '../shared/lifecycle.ts';

async function main(): Promise<void> {
  const config = loadApiConfig();
  const logger = createLogger('api', { level: config.LOG_LEVEL, lokiUrl: config.LOKI_URL, environment: config.DEPLOYMENT_ENV, lokiBatchSeconds: config.LOKI_BATCH_SECONDS });
  try {
    const redis = connectRedis(config, 'api', { maxRetriesPerRequest: 1 });
    redis.on('error', (error: Error) => logger.debug({ err: error.message }, 'redis connection error'));
    redis.connect().catch((error: Error) => logger.warn({ err: error.message }, 'redis not reachable: keys cannot be checked (503) and the cache is off until it is'));
    const api = await createApi(config, logger, redis, telemetry.meter);
    bindApiMetrics(telemetry.meter, api);
    await api.app.listen({ host: config.API_HOST, port: config.API_PORT });
    const { port } = api.app.server.address() as AddressInfo;
    logger.info({ host: config.API_HOST, port, docs: `http://${config.API_HOST}:${port}/docs`, metricsPort: telemetry.port, auth: config.API_AUTH }, 'api started');
    handleShutdown(logger, async () => {
      await api.close();
      redis.disconnect();
      await telemetry.shutdown();
    }, config.SHUTDOWN_GRACE_SECONDS * 1000);
  } catch (error) {
    exitOnStartupError(logger, error);
  }
}

main().catch((error: unknown) => exitOnStartupError(undefined, error));
