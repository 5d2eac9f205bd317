// Configuration: each service declares its environment variables once, as a zod
// schema with a description and a default; `loadConfig` validates them at start-up
// and fails with one message naming every bad or missing variable. The same
// schemas generate the configuration reference.

import { z } from 'zod';

export class ConfigError extends Error {
  constructor(
    readonly service: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid configuration for ${service}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export type EnvSchema = z.ZodObject<Record<string, z.ZodType>>;

/**
 * Validates `env` against `schema`. Empty strings count as unset, so `FOO=` in a
 * compose file falls back to the default instead of becoming 0 or "".
 */
export function loadConfig<S extends EnvSchema>(service: string, schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.join('.') || '(environment)';
    const shown = input[name] === undefined ? ' (unset)' : `=${JSON.stringify(input[name])}`;
    return `${name}${shown}: ${issue.message}`;
  });
  throw new ConfigError(service, problems);
}

// Reusable variable kinds, so every service spells the same kind the same way.
export const env = {
  string: (description: string) => z.string().describe(description),
  int: (description: string, min = 0, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max).describe(description),
  port: (description: string) => z.coerce.number().int().min(0).max(65535).describe(description),
  bool: (description: string) => z.stringbool().describe(description),
  url: (description: string, protocols: RegExp) => z.url({ protocol: protocols }).describe(description),
  /** A comma-separated list; surrounding spaces and empty items are dropped. */
  list: (description: string) =>
    z
      .string()
      .transform((s) =>
        s
          .split(',')
          .map((item) => item.trim())
          .filter((item) => item.length > 0),
      )
      .describe(description),
  logLevel: () =>
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level'),
};

/** Variables every service that talks to the buffer shares. */
export const redisSchema = {
  REDIS_URL: env.url('Redis connection URL (redis:// or rediss://), with credentials when ACLs are on', /^rediss?$/).default('redis://127.0.0.1:6379'),
  REDIS_PREFIX: env
    .string('prefix of every Redis key the pipeline uses; lets several pipelines share one Redis')
    .regex(/^[a-zA-Z0-9_.-]{1,64}$/, 'letters, digits, _ . - only')
    .default('bpe'),
};

export const DEPLOYMENT_ENV = env.string('deployment environment name, attached to logs and metrics').default('local');

/** Variables every service shares: logging and its destination. */
export const commonSchema = {
  LOG_LEVEL: env.logLevel(),
  DEPLOYMENT_ENV,
  LOKI_URL: env.url('Loki base URL (http://loki:3100); when set, logs go to Loki as well as stdout', /^https?$/).optional(),
  LOKI_BATCH_SECONDS: env.int('seconds between log pushes to Loki', 1, 60).default(2),
};
