// Structured JSON logs on stdout with the service's name and version on every line.
// Units of work log through child loggers (`logger.child({ batch })`) so the context
// is attached once, not repeated in every call. With LOKI_URL, the same records go
// to Loki as well, from pino's worker thread (telemetry/loki-transport.mjs): the
// service's own thread never waits on Loki, and a Loki restart loses nothing (the
// transport retries, holding a bounded queue meanwhile).

import { pino, type Logger, type TransportTargetOptions } from 'pino';
import { BroadcastChannel } from 'node:worker_threads';
import type { LokiTransportDefaults } from '../../telemetry/loki-transport.mjs';
import { SERVICE_VERSION } from '../../base/version.ts';

export type { Logger };

/**
 * Tuning of the Loki transport. Production uses the defaults of
 * telemetry/loki-transport.mjs (DEFAULTS); tests pass small ones to reach a full
 * buffer or a retry in a few records and milliseconds.
 */
export type LokiTuning = Partial<Omit<LokiTransportDefaults, 'batchSeconds'>>;

export interface LoggerOptions {
  level?: string;
  /** Loki base URL (http://loki:3100); logs go to stdout only when absent. */
  lokiUrl?: string;
  environment?: string;
  /** Seconds between Loki pushes (LOKI_BATCH_SECONDS; fractions for tests). */
  lokiBatchSeconds?: number;
  lokiTuning?: LokiTuning;
}

/** The transport reports records Loki will never get on this channel (see loki-transport.mjs). */
const DROPPED_CHANNEL = 'bpe-logs-dropped';
let dropped = 0;
let listening = false;

/** Log records Loki will never get since start: evicted from a full queue, refused, or unsent at close (they still went to stdout). */
export function droppedLogRecords(): number {
  return dropped;
}

function listenForDroppedRecords(): void {
  if (listening) return;
  listening = true;
  const channel = new BroadcastChannel(DROPPED_CHANNEL);
  channel.onmessage = (event) => {
    dropped += Number((event as { data: unknown }).data) || 0;
  };
  // Counting must not keep a service alive that has nothing else to do.
  channel.unref();
}

const LOKI_TRANSPORT = new URL('../../telemetry/loki-transport.mjs', import.meta.url).pathname;

export interface LokiTargetOptions {
  lokiUrl: string;
  /** Labels of every stream: service and env, and audit="true" for the audit trail's copy; level is added per record. */
  labels: Record<string, string>;
  batchSeconds: number;
  level?: string;
  tuning?: LokiTuning;
}

/**
 * The Loki transport as a pino target: the one place that says how logs reach Loki,
 * for the services' loggers (createLogger) and the audit trail's Loki copy
 * (createAuditLokiLogger). Records it drops are counted by droppedLogRecords().
 */
export function lokiTarget(options: LokiTargetOptions): TransportTargetOptions {
  listenForDroppedRecords();
  return {
    target: LOKI_TRANSPORT,
    ...(options.level ? { level: options.level } : {}),
    options: { url: options.lokiUrl, labels: options.labels, batchSeconds: options.batchSeconds, droppedChannel: DROPPED_CHANNEL, ...options.tuning },
  };
}

type Transport = ReturnType<typeof pino.transport>;
/** Transports whose worker is running (closeLogger). */
const openTransports = new Set<Transport>();

/**
 * pino's worker-thread transport over these targets. At process exit pino ends it
 * (its exit hook waits while the worker writes stdout and the Loki transport pushes
 * what it holds, within the transport's close deadline): the last lines of a stop
 * reach Loki without the services doing anything.
 */
export function logTransport(targets: TransportTargetOptions[]): Transport {
  const transport = pino.transport({ targets });
  openTransports.add(transport);
  transport.once('close', () => openTransports.delete(transport));
  return transport;
}

export function createLogger(service: string, options: LoggerOptions | string = {}): Logger {
  const { level = 'info', lokiUrl, environment = 'local', lokiBatchSeconds = 2, lokiTuning } = typeof options === 'string' ? { level: options } : options;
  // pino's own formats (numeric level, epoch-ms time) are what the Loki transport and
  // log tooling expect, and the only ones its multi-target transports allow.
  const base = { level, base: { service, version: SERVICE_VERSION } };
  if (!lokiUrl) return pino(base);
  const transport = logTransport([
    { target: 'pino/file', level, options: { destination: 1 } },
    lokiTarget({ lokiUrl, labels: { service, env: environment }, batchSeconds: lokiBatchSeconds, level, ...(lokiTuning ? { tuning: lokiTuning } : {}) }),
  ]);
  return pino(base, transport);
}

/**
 * Ends a logger's transport before the process does (tests, a tool that outlives its
 * logger), as pino does at exit. Note that, as at exit, ending blocks this thread until
 * the worker is done: up to the Loki transport's close deadline when Loki is away.
 */
export async function closeLogger(logger: Logger): Promise<void> {
  const transport = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as Transport | undefined;
  if (!transport || !openTransports.has(transport)) return;
  const closed = new Promise<void>((resolve) => transport.once('close', () => resolve()));
  // A record logged after this (a late callback) is refused by the ending stream with
  // an 'error' event: nothing to do about it then, and it must not crash anything.
  transport.on('error', () => undefined);
  transport.end();
  await closed;
}
