// Types of loki-transport.mjs (plain JavaScript for pino's worker thread), for the
// TypeScript that imports its defaults: the tests that hold Loki's limits
// (deploy/config/loki/loki.yml) to what the transport sends.

export interface LokiTransportDefaults {
  /** Seconds between pushes. */
  batchSeconds: number;
  /** Records held while Loki is away; when full, the oldest goes (and is counted as dropped). */
  bufferRecords: number;
  /** The same bound in bytes. */
  bufferBytes: number;
  /** Records, and bytes, of one push at most. */
  batchRecords: number;
  batchBytes: number;
  /** Backoff between retries of a failed push: from retryMinMs, doubling, capped at retryMaxMs. */
  retryMinMs: number;
  retryMaxMs: number;
  /** Time limit of one push. */
  timeoutMs: number;
  /** How long closing may spend pushing what is still queued. */
  closeTimeoutMs: number;
}

export interface LokiTransportOptions extends Partial<LokiTransportDefaults> {
  url: string;
  labels: Record<string, string>;
  droppedChannel: string;
}

export declare const DEFAULTS: Readonly<LokiTransportDefaults>;

export default function lokiTransport(options: LokiTransportOptions): NodeJS.WritableStream;
