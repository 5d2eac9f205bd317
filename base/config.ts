// Configuration: each service declares its environment variables once, as a zod
// schema with a description and a default; `loadConfig` validates them at start-up
// and fails with one message naming every bad or missing variable. The same
// schemas generate the configuration reference.

import { fstatSync, openSync, readFileSync, closeSync } from 'node:fs';
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

/**
 * A secret's value. It never prints: String(), JSON.stringify() and util.inspect
 * (so pino, console.log and error messages) show a placeholder; only `reveal()`
 * gives the value, at the one place that hands it to a client library.
 */
export class Secret {
  readonly #value: string;

  constructor(
    value: string,
    /** Where it came from (a file path), for messages. */
    readonly source: string,
  ) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return '[secret]';
  }

  toJSON(): string {
    return '[secret]';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `[secret from ${this.source}]`;
  }
}

/**
 * Reads a secret from a file, as secrets reach services (deploy/compose.yaml copies
 * them into place with mode 0400/0600). A regular file readable or writable by group
 * or others is refused, as ssh refuses a loose private key; `-` reads standard input
 * (one-off commands fed `< secret-file`, runbooks/security.md), as does a pipe. One
 * trailing newline is dropped.
 */
export function readSecretFile(path: string): Secret {
  // `-` is standard input, read as it is (re-opening /dev/stdin can be refused inside a container).
  const fromStdin = path === '-';
  const fd = fromStdin ? 0 : openSync(path, 'r');
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) throw new Error(`${path} is a directory, not a secret file`);
    if (stat.isFile() && (stat.mode & 0o077) !== 0) {
      throw new Error(`${path} has mode ${(stat.mode & 0o777).toString(8)}: a secret file must not be accessible to group or others (chmod 600)`);
    }
    const value = readFileSync(fd, 'utf8').replace(/\r?\n$/, '');
    if (value.length === 0) throw new Error(`${fromStdin ? 'standard input' : path} is empty`);
    return new Secret(value, fromStdin ? 'standard input' : path);
  } finally {
    if (!fromStdin) closeSync(fd);
  }
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
  /** A path to a secret file (see readSecretFile), read and checked at start-up. */
  secretFile: (description: string) =>
    z
      .string()
      .transform((path, context) => {
        try {
          return readSecretFile(path);
        } catch (error) {
          context.addIssue({ code: 'custom', message: (error as Error).message.replace(/^ENOENT: [^,]*, open/, 'no such file:') });
          return z.NEVER;
        }
      })
      .describe(description),
  logLevel: () =>
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level'),
};

/** The deployment's name (production, staging, local), on every log line and metric. */
export const DEPLOYMENT_ENV = env.string('deployment environment name, attached to logs and metrics').default('local');
