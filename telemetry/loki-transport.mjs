// The pino transport that ships logs to Loki. It runs in pino's worker thread, which
// loads it as plain JavaScript (no TypeScript loader there), hence .mjs; deploy/Dockerfile
// copies it into the image as is. It is built on pino-abstract-transport (pino's own base
// for transports) and speaks Loki's documented JSON push API, nothing else: no library's
// internals to patch.
//
// Why our own and not pino-loki: pino-loki drops a batch whose push fails (no retry), so
// every Loki restart or upgrade cost the logs of its downtime. Here:
//
// - records are batched every `batchSeconds` and pushed in order, one push at a time;
// - a push that fails in a way that may pass (connection refused or reset, timeout,
//   429, 5xx) is retried with capped exponential backoff, the batch kept at the head of
//   the queue, so each stream arrives in order and, Loki being back, exactly once;
// - while Loki is away the queue is BOUNDED (records and bytes): when full, the oldest
//   record goes, so memory stays flat however long the outage;
// - every record that Loki will never get (evicted, refused with a 4xx other than 429,
//   or still queued when the close deadline passes) is reported to the service's main
//   thread on a BroadcastChannel (named in the options), where it becomes the metric
//   bpe_logs_dropped_total. Nothing else counts: a retried record is not a lost one;
// - on close (pino ends the transport on shutdown) what is queued is pushed within
//   `closeTimeoutMs`.
//
// The service's own thread never waits on any of it, except at exit, when pino's exit hook
// waits for the close (at most `closeTimeoutMs`): its records reach stdout (another target
// of the same worker) whatever Loki does.
//
// Labels, as the dashboards and runbooks query them: the configured ones (service, env,
// and audit="true" for the audit trail's copy), `level` with pino-loki's names (debug,
// info, warning, error, critical), and `hostname` when a record carries one. The line is
// pino's JSON line exactly as it went to stdout.

import { Buffer } from 'node:buffer';
import process from 'node:process';
import { clearInterval, clearTimeout, setImmediate, setInterval, setTimeout } from 'node:timers';
import { BroadcastChannel } from 'node:worker_threads';
import build from 'pino-abstract-transport';

/** Production defaults; tests pass smaller ones. */
export const DEFAULTS = Object.freeze({
  batchSeconds: 2,
  // About half an hour of one service's logs at 10 lines/s: longer than a Loki restart or
  // upgrade, and at most a few MB of the worker's memory (the byte bound caps odd lines).
  bufferRecords: 20_000,
  bufferBytes: 32 * 1024 * 1024,
  // One push stays well under Loki's ingestion burst (deploy/config/loki/loki.yml), so
  // draining a backlog is never refused as a whole for its size.
  batchRecords: 2_000,
  batchBytes: 1024 * 1024,
  retryMinMs: 500,
  // A Loki back from a restart gets the services' backlog within 10 s, without four
  // transports hammering it while it starts.
  retryMaxMs: 10_000,
  timeoutMs: 10_000,
  // Stops wait this long per transport when Loki is away (pino's exit hook ends each in turn):
  // the API (two transports) still exits within its stop_grace_period (deploy/compose.yaml).
  closeTimeoutMs: 1_500,
});

/** pino's numeric levels to the level label the dashboards use (pino-loki's names). */
const LEVEL_LABELS = { 10: 'debug', 20: 'debug', 30: 'info', 40: 'warning', 50: 'error', 60: 'critical' };
/** The same for a logger that writes level names (formatters.level). */
const LEVEL_NAME_LABELS = { trace: 'debug', debug: 'debug', info: 'info', warn: 'warning', error: 'error', fatal: 'critical' };

/**
 * @typedef {object} LokiTransportOptions
 * @property {string} url Loki's base URL (http://loki:3100).
 * @property {Record<string, string>} labels Labels of every stream (service, env, audit).
 * @property {string} droppedChannel BroadcastChannel the drop counts go to.
 * @property {number} [batchSeconds]
 * @property {number} [bufferRecords]
 * @property {number} [bufferBytes]
 * @property {number} [batchRecords]
 * @property {number} [batchBytes]
 * @property {number} [retryMinMs]
 * @property {number} [retryMaxMs]
 * @property {number} [timeoutMs]
 * @property {number} [closeTimeoutMs]
 */

/** @param {LokiTransportOptions} options */
export default function lokiTransport(options) {
  const shipper = new LokiShipper(options);
  return build(
    (source) => {
      source.on('data', (/** @type {{ line: string, record: Record<string, unknown> }} */ item) => shipper.add(item.line, item.record));
    },
    {
      // Keep the line as pino wrote it (it is what stdout has); parse it once for level and time.
      parseLine: (line) => ({ line, record: parseRecord(line) }),
      metadata: false,
      close: () => shipper.close(),
    },
  );
}

/** @param {string} line */
function parseRecord(line) {
  try {
    const record = JSON.parse(line);
    return record !== null && typeof record === 'object' ? record : {};
  } catch {
    // Not JSON (a pino pretty-printer upstream?): shipped as is, labelled info.
    return {};
  }
}

/** @param {Record<string, unknown>} record */
function levelLabel(record) {
  const level = record.level;
  if (typeof level === 'number') return LEVEL_LABELS[level] ?? (level >= 60 ? 'critical' : level >= 50 ? 'error' : level >= 40 ? 'warning' : level >= 30 ? 'info' : 'debug');
  if (typeof level === 'string') return LEVEL_NAME_LABELS[level] ?? 'info';
  return 'info';
}

/**
 * @typedef {object} Entry
 * @property {string} key the stream's identity within this transport (level and hostname)
 * @property {Record<string, string>} labels
 * @property {string} ts nanoseconds since the epoch, as Loki wants them
 * @property {string} line
 * @property {number} bytes
 */

/** Outcome of one push: sent, worth retrying, or refused for good. */
const SENT = 'sent';
const RETRY = 'retry';
const REFUSED = 'refused';

class LokiShipper {
  /** @param {LokiTransportOptions} options */
  constructor(options) {
    this.o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
    this.o.bufferRecords = Math.max(1, this.o.bufferRecords);
    this.o.batchRecords = Math.max(1, this.o.batchRecords);
    this.pushUrl = new URL('loki/api/v1/push', this.o.url.endsWith('/') ? this.o.url : `${this.o.url}/`).toString();
    this.channel = new BroadcastChannel(this.o.droppedChannel);
    // The channel must not keep the worker alive once pino has closed the transport.
    this.channel.unref();

    /** Records waiting, oldest first: queue[head..]. @type {Entry[]} */
    this.queue = [];
    this.head = 0;
    /** The batch being pushed (taken off the queue), and how many of its oldest were evicted meanwhile. @type {Entry[] | undefined} */
    this.sending = undefined;
    this.sendingEvicted = 0;
    /** Bytes held: the queue plus the unevicted part of the batch in flight (records: see `held`). */
    this.heldBytes = 0;
    /** Per stream, its labels (one object for all its records). @type {Map<string, Record<string, string>>} */
    this.streamLabels = new Map();
    /** Per stream, the last timestamp given, so timestamps strictly increase (see timestamp()). @type {Map<string, bigint>} */
    this.lastNs = new Map();
    this.failures = 0;
    /** @type {NodeJS.Timeout | undefined} */
    this.retryTimer = undefined;
    /** @type {Promise<void> | undefined} */
    this.inFlight = undefined;
    this.closing = false;
    this.unreportedDrops = 0;
    this.lastRefusalNotice = 0;
    this.timer = setInterval(() => this.kick(), this.o.batchSeconds * 1000);
    this.timer.unref();
  }

  get queued() {
    return this.queue.length - this.head;
  }

  get held() {
    return this.queued + (this.sending ? this.sending.length - this.sendingEvicted : 0);
  }

  /** @param {string} line @param {Record<string, unknown>} record */
  add(line, record) {
    const level = levelLabel(record);
    const hostname = typeof record.hostname === 'string' ? record.hostname : '';
    // The configured labels are the same for every record: a stream is its level and hostname.
    const key = `${level}\u0000${hostname}`;
    let labels = this.streamLabels.get(key);
    if (!labels) {
      labels = { ...this.o.labels, level, ...(hostname ? { hostname } : {}) };
      this.streamLabels.set(key, labels);
    }
    const entry = { key, labels, ts: this.timestamp(key, record.time), line, bytes: Buffer.byteLength(line) + 32 };
    this.queue.push(entry);
    this.heldBytes += entry.bytes;
    while (this.held > this.o.bufferRecords || (this.heldBytes > this.o.bufferBytes && this.held > 1)) this.evictOldest();
    // A full batch does not wait for the timer (a burst, or a backlog after an outage).
    if (this.queued >= this.o.batchRecords) this.kick();
  }

  /**
   * Nanoseconds for Loki, strictly increasing per stream. pino's time has millisecond
   * precision: records of one millisecond would share a timestamp, and Loki treats an
   * entry with the same timestamp and line as one it holds as a duplicate (drops it) and
   * orders equal timestamps as it likes. A nanosecond apart, each record keeps its place,
   * and a retried push (same timestamps, same lines) still deduplicates in Loki.
   * @param {string} key @param {unknown} time
   */
  timestamp(key, time) {
    const ms = typeof time === 'number' && Number.isFinite(time) ? Math.trunc(time) : Date.now();
    let ns = BigInt(ms) * 1_000_000n;
    const last = this.lastNs.get(key);
    if (last !== undefined && ns <= last) ns = last + 1n;
    this.lastNs.set(key, ns);
    return ns.toString();
  }

  /** Drops the oldest record held. One of the batch in flight is counted only if that push fails (if it succeeds, Loki has it). */
  evictOldest() {
    if (this.sending && this.sendingEvicted < this.sending.length) {
      this.heldBytes -= this.sending[this.sendingEvicted].bytes;
      this.sendingEvicted += 1;
      return;
    }
    const entry = this.queue[this.head];
    this.queue[this.head] = undefined;
    this.head += 1;
    this.compact();
    this.heldBytes -= entry.bytes;
    this.reportDropped(1);
  }

  compact() {
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  /** Counts go to the main thread once per turn of the event loop, however many records went. @param {number} count */
  reportDropped(count) {
    if (count <= 0) return;
    if (this.unreportedDrops === 0) setImmediate(() => this.flushDropReports());
    this.unreportedDrops += count;
  }

  flushDropReports() {
    if (this.unreportedDrops > 0) this.channel.postMessage(this.unreportedDrops);
    this.unreportedDrops = 0;
  }

  /** Starts a push unless one is running, a retry is pending, or nothing waits. */
  kick() {
    if (this.closing || this.inFlight || this.retryTimer || this.queued === 0) return;
    this.inFlight = this.pushNext(this.o.timeoutMs).then((outcome) => {
      this.inFlight = undefined;
      if (this.closing) return;
      if (outcome === RETRY) {
        this.failures += 1;
        // Capped exponential backoff with jitter (half fixed, half random), so the
        // services' transports do not hammer a Loki that is starting up in lockstep.
        const ceiling = Math.min(this.o.retryMaxMs, this.o.retryMinMs * 2 ** Math.min(this.failures - 1, 30));
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.kick();
        }, ceiling / 2 + Math.random() * (ceiling / 2));
        this.retryTimer.unref();
        return;
      }
      this.failures = 0;
      // A backlog (after an outage) drains batch after batch, not one batch a period.
      if (this.queued >= this.o.batchRecords) this.kick();
    });
  }

  /** Takes the oldest records (one batch) off the queue and pushes them. @param {number} timeoutMs */
  async pushNext(timeoutMs) {
    const batch = [];
    let bytes = 0;
    while (this.queued > 0 && batch.length < this.o.batchRecords) {
      const entry = this.queue[this.head];
      if (batch.length > 0 && bytes + entry.bytes > this.o.batchBytes) break;
      batch.push(entry);
      bytes += entry.bytes;
      this.queue[this.head] = undefined;
      this.head += 1;
    }
    this.compact();
    this.sending = batch;
    this.sendingEvicted = 0;
    const outcome = await this.post(batch, timeoutMs);
    const evicted = this.sendingEvicted;
    this.sending = undefined;
    this.sendingEvicted = 0;
    const kept = batch.slice(evicted);
    if (outcome === SENT) {
      for (const entry of kept) this.heldBytes -= entry.bytes;
    } else if (outcome === RETRY) {
      // Evicted while in flight and not delivered: lost. The rest goes back to the head, in order.
      this.reportDropped(evicted);
      this.queue = [...kept, ...this.queue.slice(this.head)];
      this.head = 0;
      while (this.held > this.o.bufferRecords || (this.heldBytes > this.o.bufferBytes && this.held > 1)) this.evictOldest();
    } else {
      for (const entry of kept) this.heldBytes -= entry.bytes;
      this.reportDropped(batch.length);
    }
    return outcome;
  }

  /** One HTTP push of Loki's JSON format. @param {Entry[]} batch @param {number} timeoutMs */
  async post(batch, timeoutMs) {
    /** @type {Map<string, { stream: Record<string, string>, values: [string, string][] }>} */
    const streams = new Map();
    for (const entry of batch) {
      let stream = streams.get(entry.key);
      if (!stream) streams.set(entry.key, (stream = { stream: entry.labels, values: [] }));
      stream.values.push([entry.ts, entry.line]);
    }
    try {
      const response = await globalThis.fetch(this.pushUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ streams: [...streams.values()] }),
        signal: globalThis.AbortSignal.timeout(Math.max(1, timeoutMs)),
      });
      const text = await response.text().catch(() => '');
      if (response.ok) return SENT;
      // Loki's own advice: 429 (rate limited) and 5xx (not ready, restarting) pass; any
      // other 4xx (too old, line too long, bad labels) would be refused again.
      if (response.status === 429 || response.status >= 500) return RETRY;
      this.noticeRefusal(response.status, text, batch.length);
      return REFUSED;
    } catch {
      // Connection refused or reset, DNS, timeout: Loki is away; keep the batch.
      return RETRY;
    }
  }

  /**
   * A refused push is a configuration problem (labels, limits, clock), not an outage:
   * say so on stderr (the service's container log), at most once a minute.
   * @param {number} status @param {string} body @param {number} records
   */
  noticeRefusal(status, body, records) {
    const now = Date.now();
    if (now - this.lastRefusalNotice < 60_000) return;
    this.lastRefusalNotice = now;
    const notice = { level: 50, time: now, ...this.o.labels, msg: 'Loki refused a log push; its records are dropped and counted in bpe_logs_dropped_total', status, records, loki: body.slice(0, 500) };
    process.stderr.write(`${JSON.stringify(notice)}\n`);
  }

  /** pino is closing the transport: push what is queued within closeTimeoutMs, count the rest. */
  async close() {
    this.closing = true;
    clearInterval(this.timer);
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const deadline = Date.now() + this.o.closeTimeoutMs;
    const remaining = () => deadline - Date.now();
    if (this.inFlight) await Promise.race([this.inFlight, sleep(remaining())]);
    let failures = 0;
    // The push in flight may have outlived the deadline: what it holds is not counted twice below.
    while (!this.sending && this.queued > 0 && remaining() > 0) {
      const outcome = await this.pushNext(remaining());
      if (outcome !== RETRY) continue;
      failures += 1;
      await sleep(Math.min(remaining(), this.o.retryMinMs * 2 ** Math.min(failures - 1, 10)));
    }
    this.reportDropped(this.queued + (this.sending ? this.sending.length - this.sendingEvicted : 0));
    this.flushDropReports();
  }
}

/** @param {number} ms */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)).unref());
}
