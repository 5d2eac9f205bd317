// One way to open Redis connections, so every service gets the same behaviour:
// commands wait (bounded) while reconnecting instead of failing at once, and
// the connection retries forever with a capped delay. With ACLs on, each service
// connects as its own user (REDIS_USERNAME) with the password read from a secret
// file (REDIS_PASSWORD_FILE), never from the environment.

import { Redis, type RedisOptions } from 'ioredis';
import type { RedisSettings } from './config.ts';

export type { Redis };

export function createRedis(url: string, connectionName: string, overrides: RedisOptions = {}): Redis {
  return new Redis(url, {
    connectionName,
    lazyConnect: true,
    maxRetriesPerRequest: 3,
    enableAutoPipelining: false,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 6), 2000),
    // No CLIENT SETINFO: the ACL users are not allowed it (Redis 7.0 does not know it), and
    // every refusal would land in ACL LOG, where refused commands should mean trouble.
    disableClientInfo: true,
    ...overrides,
  });
}

/** The ACL credentials of a service's configuration, as ioredis options (they override any in the URL). */
export function redisCredentials(settings: RedisSettings): Pick<RedisOptions, 'username' | 'password'> {
  const credentials: Pick<RedisOptions, 'username' | 'password'> = {};
  if (settings.REDIS_USERNAME) credentials.username = settings.REDIS_USERNAME;
  if (settings.REDIS_PASSWORD_FILE) credentials.password = settings.REDIS_PASSWORD_FILE.reveal();
  return credentials;
}

/** A connection for a service: its REDIS_URL, as its ACL user, with its password file. */
export function connectRedis(settings: RedisSettings, connectionName: string, overrides: RedisOptions = {}): Redis {
  return createRedis(settings.REDIS_URL, connectionName, { ...redisCredentials(settings), ...overrides });
}

/** Redis answers PING; used by readiness checks. */
export async function pingRedis(redis: Redis): Promise<void> {
  if (redis.status !== 'ready') throw new Error(`redis connection is ${redis.status}`);
  await redis.ping();
}
