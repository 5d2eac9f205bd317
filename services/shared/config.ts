// The pipeline's shared configuration: the variables every service that talks to the
// buffer, writes the audit trail or logs declares the same way. Each service's own
// schema spreads these; base/config.ts validates them.

import { DEPLOYMENT_ENV, env, type Secret } from '../../base/config.ts';

/** Variables every service that talks to the buffer shares. */
export const redisSchema = {
  REDIS_URL: env.url('Redis connection URL (redis:// or rediss://), with credentials when ACLs are on', /^rediss?$/).default('redis://127.0.0.1:6379'),
  REDIS_PREFIX: env
    .string('prefix of every Redis key the pipeline uses; lets several pipelines share one Redis')
    .regex(/^[a-zA-Z0-9_.-]{1,64}$/, 'letters, digits, _ . - only')
    .default('bpe'),
  REDIS_USERNAME: env
    .string('Redis ACL user this service connects as (deploy/config/redis/acl.ts declares one per service); unset = the default user')
    .regex(/^[a-zA-Z0-9_.-]{1,64}$/, 'letters, digits, _ . - only')
    .optional(),
  REDIS_PASSWORD_FILE: env
    .secretFile('file holding the password of REDIS_USERNAME (mode 0600 or stricter, never in the environment); it takes precedence over a password in REDIS_URL')
    .optional(),
};

/** The part of a service's configuration that says how to reach Redis. */
export interface RedisSettings {
  REDIS_URL: string;
  REDIS_USERNAME?: string | undefined;
  REDIS_PASSWORD_FILE?: Secret | undefined;
}

/** Where the audit trail goes besides Redis (services/shared/audit/). */
export const auditSchema = {
  AUDIT_DIR: env
    .string('directory of the audit trail\'s daily files (audit-YYYY-MM-DD.jsonl, mode 0600), mirrored with the Loki copy from the stream; unset = Redis only')
    .optional(),
  AUDIT_STREAM_MAXLEN: env.int('approximate number of entries the Redis audit stream keeps (the daily files keep all)', 1000).default(100_000),
  AUDIT_SYNC_MS: env.int('how often the audit stream is mirrored to the daily files and Loki (ms)', 100, 60_000).default(2000),
};

/** Variables every service shares: logging and its destination. */
export const commonSchema = {
  LOG_LEVEL: env.logLevel(),
  DEPLOYMENT_ENV,
  LOKI_URL: env.url('Loki base URL (http://loki:3100); when set, logs go to Loki as well as stdout', /^https?$/).optional(),
  LOKI_BATCH_SECONDS: env.int('seconds between log pushes to Loki', 1, 60).default(2),
};

/**
 * How long a service may take to stop, from SIGTERM to exit. Keep it under the
 * container's stop_grace_period (deploy/compose.yaml), after which Docker sends
 * SIGKILL: a stop that overruns it exits non-zero on its own, and says so.
 */
export function shutdownSchema(defaultSeconds: number) {
  return {
    SHUTDOWN_GRACE_SECONDS: env
      .int('seconds a stop (SIGTERM) may take before the service gives up and exits non-zero; keep it under the container\'s stop_grace_period', 1, 3600)
      .default(defaultSeconds),
  };
}
