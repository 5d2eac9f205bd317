// The metric catalog: every metric the services export, declared once, with its
// type, unit, labels and meaning. Services create their instruments from it
// (instruments.ts), dashboards and alerts take names from it (promName), and
// telemetry/METRICS.md is rendered from it (`npm run docs:metrics`).
//
// Names follow OpenTelemetry conventions (dots, units as UCUM); the Prometheus
// exporter turns dots into underscores and adds `_total` to monotonic counters
// (and `_bucket`, `_sum`, `_count` to histograms), without unit suffixes.

export type MetricType = 'counter' | 'gauge' | 'histogram';
export type Service = 'ingester' | 'writer' | 'api' | 'all';

export interface MetricSpec {
  name: string;
  type: MetricType;
  /** UCUM unit: s, By, 1, or an annotation like {event}. */
  unit: string;
  description: string;
  /** Label (attribute) names, as OpenTelemetry attributes. */
  labels: readonly string[];
  service: Service;
  /** Histogram bucket boundaries, chosen for what the histogram measures. */
  buckets?: readonly number[];
  /** Emitted by a library instrumentation rather than our code. */
  source?: string;
}

const metric = (spec: MetricSpec) => spec;

export const METRICS = {
  // ---- ingester ----------------------------------------------------------
  ingesterEventsReceived: metric({
    name: 'bpe.ingester.events.received',
    type: 'counter',
    unit: '{event}',
    description: 'Jetstream events accepted by validation; collection is one the pipeline models, or "other"',
    labels: ['kind', 'collection', 'operation'],
    service: 'ingester',
  }),
  ingesterEventsStored: metric({
    name: 'bpe.ingester.events.stored',
    type: 'counter',
    unit: '{event}',
    description: 'events appended to the Redis stream',
    labels: [],
    service: 'ingester',
  }),
  ingesterEventsDuplicate: metric({
    name: 'bpe.ingester.events.duplicate',
    type: 'counter',
    unit: '{event}',
    description: 'replayed events dropped because the stream already has them',
    labels: [],
    service: 'ingester',
  }),
  ingesterBytesReceived: metric({
    name: 'bpe.ingester.bytes.received',
    type: 'counter',
    unit: 'By',
    description: 'bytes of WebSocket frames received from Jetstream',
    labels: [],
    service: 'ingester',
  }),
  ingesterConnected: metric({
    name: 'bpe.ingester.websocket.connected',
    type: 'gauge',
    unit: '1',
    description: '1 while the Jetstream WebSocket is open, else 0',
    labels: [],
    service: 'ingester',
  }),
  ingesterReconnects: metric({
    name: 'bpe.ingester.reconnects',
    type: 'counter',
    unit: '{reconnect}',
    description: 'reconnections to Jetstream (after a drop, a failure or a stale socket)',
    labels: [],
    service: 'ingester',
  }),
  ingesterCursorLag: metric({
    name: 'bpe.ingester.cursor.lag',
    type: 'gauge',
    unit: 's',
    description: 'wall-clock time minus the time of the newest event stored (how far ingestion is behind the network)',
    labels: [],
    service: 'ingester',
  }),
  ingesterDeadLettered: metric({
    name: 'bpe.ingester.events.dead_lettered',
    type: 'counter',
    unit: '{event}',
    description: 'frames refused by validation and sent to the dead-letter stream',
    labels: ['reason'],
    service: 'ingester',
  }),
  ingesterPaused: metric({
    name: 'bpe.ingester.backpressure.paused',
    type: 'gauge',
    unit: '1',
    description: '1 while the ingester stops reading Jetstream (backlog over its high-water mark, or Redis slow)',
    labels: [],
    service: 'ingester',
  }),
  ingesterLastEvent: metric({
    name: 'bpe.ingester.last_event.timestamp',
    type: 'gauge',
    unit: 's',
    description: 'unix time at which the last frame was received from Jetstream',
    labels: [],
    service: 'ingester',
  }),
  ingesterRedisErrors: metric({
    name: 'bpe.ingester.redis.errors',
    type: 'counter',
    unit: '{error}',
    description: 'failed writes to Redis (the events are fetched again from the cursor)',
    labels: [],
    service: 'ingester',
  }),

  // ---- buffer (sampled by the writer) ------------------------------------
  bufferLength: metric({
    name: 'bpe.buffer.stream.length',
    type: 'gauge',
    unit: '{entry}',
    description: 'entries in the Redis stream (XLEN): not yet consumed, plus up to ~100 consumed ones awaiting trimming',
    labels: [],
    service: 'writer',
  }),
  bufferPending: metric({
    name: 'bpe.buffer.pending',
    type: 'gauge',
    unit: '{entry}',
    description: 'entries delivered to a writer and not yet acknowledged',
    labels: [],
    service: 'writer',
  }),
  bufferUndelivered: metric({
    name: 'bpe.buffer.undelivered',
    type: 'gauge',
    unit: '{entry}',
    description: 'entries no writer has read yet (the consumer group lag)',
    labels: [],
    service: 'writer',
  }),
  bufferOldestPendingAge: metric({
    name: 'bpe.buffer.oldest_pending.age',
    type: 'gauge',
    unit: 's',
    description: 'age of the oldest unacknowledged entry (0 when none)',
    labels: [],
    service: 'writer',
  }),

  // ---- writer ---------------------------------------------------------------
  writerEventsWritten: metric({
    name: 'bpe.writer.events.written',
    type: 'counter',
    unit: '{event}',
    description: 'events written to Parquet, by table',
    labels: ['table'],
    service: 'writer',
  }),
  writerBatches: metric({
    name: 'bpe.writer.batches',
    type: 'counter',
    unit: '{batch}',
    description: 'batches by outcome: ok (written and acknowledged) or failed (to be retried)',
    labels: ['outcome'],
    service: 'writer',
  }),
  writerBatchDuration: metric({
    name: 'bpe.writer.batch.duration',
    type: 'histogram',
    unit: 's',
    description: 'time to turn one batch into Parquet and acknowledge it',
    labels: [],
    service: 'writer',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  }),
  writerRowsWritten: metric({
    name: 'bpe.writer.rows.written',
    type: 'counter',
    unit: '{row}',
    description: 'rows written to Parquet batch files',
    labels: [],
    service: 'writer',
  }),
  writerBytesWritten: metric({
    name: 'bpe.writer.bytes.written',
    type: 'counter',
    unit: 'By',
    description: 'bytes of Parquet batch files written',
    labels: [],
    service: 'writer',
  }),
  writerLastWrite: metric({
    name: 'bpe.writer.last_write.timestamp',
    type: 'gauge',
    unit: 's',
    description: 'unix time of the last batch committed (0 before the first)',
    labels: [],
    service: 'writer',
  }),
  writerNewestEvent: metric({
    name: 'bpe.writer.newest_event.timestamp',
    type: 'gauge',
    unit: 's',
    description: 'Jetstream time of the newest event written: data freshness and end-to-end lag',
    labels: [],
    service: 'writer',
  }),
  writerCompactions: metric({
    name: 'bpe.writer.compactions',
    type: 'counter',
    unit: '{compaction}',
    description: 'hour partitions compacted, by outcome (ok, failed)',
    labels: ['outcome'],
    service: 'writer',
  }),
  writerDeadLettered: metric({
    name: 'bpe.writer.events.dead_lettered',
    type: 'counter',
    unit: '{event}',
    description: 'stream entries the writer refused (not a valid event) and sent to the dead-letter stream',
    labels: [],
    service: 'writer',
  }),
  writerLeader: metric({
    name: 'bpe.writer.leader',
    type: 'gauge',
    unit: '1',
    description: '1 while this writer holds the writer lease (exactly one should)',
    labels: [],
    service: 'writer',
  }),
  storeFiles: metric({
    name: 'bpe.store.files',
    type: 'gauge',
    unit: '{file}',
    description: 'Parquet files on disk, by table',
    labels: ['table'],
    service: 'writer',
  }),
  storeBytes: metric({
    name: 'bpe.store.bytes',
    type: 'gauge',
    unit: 'By',
    description: 'bytes of Parquet on disk, by table',
    labels: ['table'],
    service: 'writer',
  }),

  // ---- api -------------------------------------------------------------------
  httpServerDuration: metric({
    name: 'http.server.request.duration',
    type: 'histogram',
    unit: 's',
    description: 'HTTP request duration (OpenTelemetry HTTP semantic conventions)',
    labels: ['http.route', 'http.request.method', 'http.response.status_code'],
    service: 'api',
    // The semantic conventions' recommended boundaries.
    buckets: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
  }),
  apiQueryDuration: metric({
    name: 'bpe.api.query.duration',
    type: 'histogram',
    unit: 's',
    description: 'time DuckDB spent answering, by endpoint (search, export, post, timeseries, hashtags)',
    labels: ['endpoint'],
    service: 'api',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  }),
  apiRowsReturned: metric({
    name: 'bpe.api.rows.returned',
    type: 'counter',
    unit: '{row}',
    description: 'rows returned to clients, by endpoint',
    labels: ['endpoint'],
    service: 'api',
  }),
  apiExportBytes: metric({
    name: 'bpe.api.export.bytes',
    type: 'counter',
    unit: 'By',
    description: 'bytes streamed by exports, by format',
    labels: ['format'],
    service: 'api',
  }),
  apiQueriesRejected: metric({
    name: 'bpe.api.queries.rejected',
    type: 'counter',
    unit: '{query}',
    description: 'queries refused, by reason: timeout, overload, validation',
    labels: ['reason'],
    service: 'api',
  }),
  apiCacheRequests: metric({
    name: 'bpe.api.cache.requests',
    type: 'counter',
    unit: '{request}',
    description: 'response cache lookups, by result (hit, miss)',
    labels: ['result'],
    service: 'api',
  }),

  // ---- security (api) ----------------------------------------------------------
  apiAuthFailures: metric({
    name: 'bpe.api.auth.failures',
    type: 'counter',
    unit: '{request}',
    description: 'requests refused by authentication or authorization, by reason: missing, unknown, revoked, scope',
    labels: ['reason'],
    service: 'api',
  }),
  apiRateLimited: metric({
    name: 'bpe.api.rate_limited',
    type: 'counter',
    unit: '{request}',
    description: 'requests answered 429, by the limit that refused them: key, ip or export',
    labels: ['limit'],
    service: 'api',
  }),
  auditEvents: metric({
    name: 'bpe.audit.events',
    type: 'counter',
    unit: '{event}',
    description: 'entries appended to the audit trail, by action (auth_failure, key_created, key_revoked, key_rotated, export, admin, deploy)',
    labels: ['action'],
    service: 'api',
  }),

  // ---- every service ---------------------------------------------------------
  logsDropped: metric({
    name: 'bpe.logs.dropped',
    type: 'counter',
    unit: '{record}',
    description: 'log records that could not be delivered to Loki (they are still on stdout)',
    labels: [],
    service: 'all',
  }),
  eventLoopDelayP99: metric({
    name: 'nodejs.eventloop.delay.p99',
    type: 'gauge',
    unit: 's',
    description: 'event-loop delay, 99th percentile',
    labels: [],
    service: 'all',
    source: '@opentelemetry/instrumentation-runtime-node',
  }),
  eventLoopUtilization: metric({
    name: 'nodejs.eventloop.utilization',
    type: 'gauge',
    unit: '1',
    description: 'share of time the event loop was busy',
    labels: [],
    service: 'all',
    source: '@opentelemetry/instrumentation-runtime-node',
  }),
  heapUsed: metric({
    name: 'v8js.memory.heap.used',
    type: 'gauge',
    unit: 'By',
    description: 'V8 heap used, by heap space',
    labels: ['v8js.heap.space.name'],
    service: 'all',
    source: '@opentelemetry/instrumentation-runtime-node',
  }),
  gcDuration: metric({
    name: 'v8js.gc.duration',
    type: 'histogram',
    unit: 's',
    description: 'garbage collection pauses, by kind',
    labels: ['v8js.gc.type'],
    service: 'all',
    source: '@opentelemetry/instrumentation-runtime-node',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
  }),
} as const satisfies Record<string, MetricSpec>;

export type MetricKey = keyof typeof METRICS;

/** The Prometheus name of a metric as the exporter writes it (a histogram's base name). */
export function promName(spec: MetricSpec): string {
  const base = spec.name.replace(/[^a-zA-Z0-9_:]/g, '_');
  return spec.type === 'counter' ? `${base}_total` : base;
}

/** A label's name in Prometheus. */
export function promLabel(label: string): string {
  return label.replace(/[^a-zA-Z0-9_]/g, '_');
}

/** The metrics a service exports (its own and those every service has). */
export function metricsOf(service: Exclude<Service, 'all'>): MetricSpec[] {
  return Object.values(METRICS).filter((m) => m.service === service || m.service === 'all');
}

/** Known collections get their own label value; the long tail is folded into "other" (bounded cardinality). */
export const COLLECTION_LABELS = new Set([
  'app.bsky.feed.post',
  'app.bsky.feed.like',
  'app.bsky.feed.repost',
  'app.bsky.graph.follow',
  'app.bsky.graph.block',
  'app.bsky.actor.profile',
]);
