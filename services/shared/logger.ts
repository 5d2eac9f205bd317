// Structured JSON logs on stdout with the service's name and version on every line.
// Units of work log through child loggers (`logger.child({ batch })`) so the context
// is attached once, not repeated in every call.

import { pino, type Logger } from 'pino';
import { readFileSync } from 'node:fs';

export type { Logger };

const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
export const SERVICE_VERSION = packageJson.version;

export function createLogger(service: string, level = 'info'): Logger {
  return pino({
    level,
    base: { service, version: SERVICE_VERSION },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
