// Structured JSON logs on stdout with the service's name and version on every line.
// Units of work log through child loggers (`logger.child({ batch })`) so the context
// is attached once, not repeated in every call. With LOKI_URL, the same records go
// to Loki as well, from pino's worker thread (telemetry/loki-transport.mjs): the
// service's own thread never waits on Loki.

import { pino, type Logger } from 'pino';
import { readFileSync } from 'node:fs';

export type { Logger };

const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
export const SERVICE_VERSION = packageJson.version;

export interface LoggerOptions {
  level?: string;
  /** Loki base URL (http://loki:3100); logs go to stdout only when absent. */
  lokiUrl?: string;
  environment?: string;
  /** Seconds between Loki pushes. */
  lokiBatchSeconds?: number;
}

/** The transport reports records Loki refused on this channel (see loki-transport.mjs). */
const DROPPED_CHANNEL = 'bpe-logs-dropped';
let dropped = 0;
let listening = false;

/** Log records Loki did not accept since start (they still went to stdout). */
export function droppedLogRecords(): number {
  return dropped;
}

const LOKI_TRANSPORT = new URL('../../telemetry/loki-transport.mjs', import.meta.url).pathname;

export function createLogger(service: string, options: LoggerOptions | string = {}): Logger {
  const { level = 'info', lokiUrl, environment = 'local', lokiBatchSeconds = 2 } = typeof options === 'string' ? { level: options } : options;
  // pino's own formats (numeric level, epoch-ms time) are what Loki's pusher and
  // log tooling expect, and the only ones its multi-target transports allow.
  const base = { level, base: { service, version: SERVICE_VERSION } };
  if (!lokiUrl) return pino(base);
  if (!listening) {
    listening = true;
    const channel = new BroadcastChannel(DROPPED_CHANNEL);
    channel.onmessage = (event) => {
      dropped += Number((event as { data: unknown }).data) || 0;
    };
    (channel as unknown as { unref(): void }).unref();
  }
  const transport = pino.transport({
    targets: [
      { target: 'pino/file', level, options: { destination: 1 } },
      {
        target: LOKI_TRANSPORT,
        level,
        options: {
          host: lokiUrl,
          labels: { service, env: environment },
          batching: { interval: lokiBatchSeconds, maxBufferSize: 10_000 },
          timeout: 5000,
          droppedChannel: DROPPED_CHANNEL,
        },
      },
    ],
  });
  return pino(base, transport);
}
