// One way to open Redis connections, so every service gets the same behaviour:
// commands wait (bounded) while reconnecting instead of failing at once, and
// the connection retries forever with a capped delay.

import { Redis, type RedisOptions } from 'ioredis';

export type { Redis };

export function createRedis(url: string, connectionName: string, overrides: RedisOptions = {}): Redis {
  return new Redis(url, {
    connectionName,
    lazyConnect: true,
    maxRetriesPerRequest: 3,
    enableAutoPipelining: false,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 6), 2000),
    ...overrides,
  });
}

/** Redis answers PING; used by readiness checks. */
export async function pingRedis(redis: Redis): Promise<void> {
  if (redis.status !== 'ready') throw new Error(`redis connection is ${redis.status}`);
  await redis.ping();
}
