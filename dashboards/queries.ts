// The queries of the dashboards, apart from their layout (kubernetes-mixin keeps
// them in separate files too): metric names from the catalog (`metric()`), label
// selectors and thresholds from the mixin configuration, the dashboard variables
// ($env, $instance, $service) and Grafana's $__rate_interval / $__interval.

import { SLO_RECORDS, sloSelectors } from '../mixin/rules/api-slo.ts';
import { metric } from '../mixin/promql.ts';
import type { MixinConfig } from '../mixin/config.ts';
import { scoped, sel } from './lib.ts';

const RI = '$__rate_interval';

export function queries(config: MixinConfig) {
  const c = config;
  const ing = scoped(c, c.selectors.ingester);
  const wr = scoped(c, c.selectors.writer);
  const api = scoped(c, c.selectors.api);
  const redis = scoped(c, c.selectors.redis);
  const node = scoped(c, c.selectors.node);
  const fs = `${node}, ${c.selectors.filesystem}`;
  const probe = scoped(c, c.selectors.blackbox);
  const env = `${c.environment.label}=~"$env"`;
  /** Job-level SLO records: selected by job and environment only. */
  const record = (name: string) => `${name}{${c.selectors.api}, ${env}}`;
  const slo = sloSelectors(c);
  const apiScoped = (selector: string) => selector.replace(`${c.selectors.api}`, api);
  const sloWindow = `${c.slo.windowDays}d`;
  const budget = Number((1 - c.slo.availabilityTarget).toPrecision(6));
  const quantile = (q: number, bucket: string, by: string) => `histogram_quantile(${q}, sum by (le${by ? `, ${by}` : ''}) (rate(${bucket}[${RI}])))`;
  const runtime = (selector: string) => ({
    eventLoopDelay: `max by (instance) (${sel(metric('eventLoopDelayP99'), selector)})`,
    eventLoopUtilization: `max by (instance) (${sel(metric('eventLoopUtilization'), selector)})`,
    heap: `sum by (instance) (${sel(metric('heapUsed'), selector)})`,
    gc: `sum by (instance) (rate(${sel(`${metric('gcDuration')}_sum`, selector)}[${RI}]))`,
  });
  const freshness = `time() - max(max_over_time(${sel(metric('writerNewestEvent'), wr)}[${c.thresholds.dataStaleLookback}]) > 0)`;

  return {
    overview: {
      eventsPerSecondByCollection: `sum by (collection) (rate(${sel(metric('ingesterEventsReceived'), ing)}[${RI}]))`,
      eventsLast24h: `sum(increase(${sel(metric('ingesterEventsReceived'), ing)}[1d]))`,
      eventsPerDay: `sum(increase(${sel(metric('ingesterEventsReceived'), ing)}[1d]))`,
      freshness,
      ingestLag: `max(${sel(metric('ingesterCursorLag'), ing)})`,
      bufferWait: `max(${sel(metric('bufferOldestPendingAge'), wr)})`,
      availability30d: `1 - sum(sum_over_time(${record(SLO_RECORDS.errorsRate5m)}[${sloWindow}])) / sum(sum_over_time(${record(SLO_RECORDS.requestsRate5m)}[${sloWindow}]))`,
      budgetRemaining: `1 - (sum(sum_over_time(${record(SLO_RECORDS.errorsRate5m)}[${sloWindow}])) / sum(sum_over_time(${record(SLO_RECORDS.requestsRate5m)}[${sloWindow}]))) / ${budget}`,
      latency30d: `1 - sum(sum_over_time(${record(SLO_RECORDS.slowRate5m)}[${sloWindow}])) / sum(sum_over_time(${record(SLO_RECORDS.latencyRequestsRate5m)}[${sloWindow}]))`,
      availability1h: `1 - sum(${record(SLO_RECORDS.errorRatio('1h'))})`,
      latency1h: `1 - sum(${record(SLO_RECORDS.slowRatio('1h'))})`,
      storeBytesByTable: `sum by (table) (${sel(metric('storeBytes'), wr)})`,
      storeGrowthPerDay: `sum(deriv(${sel(metric('storeBytes'), wr)}[6h])) * 86400`,
      compressionRatio: `sum(rate(${sel(metric('writerBytesWritten'), wr)}[1d])) / sum(rate(${sel(metric('ingesterBytesReceived'), ing)}[1d]))`,
      servicesUp: `sum by (job) (${sel('up', scoped(c, `job=~"${[c.jobs.ingester, c.jobs.writer, c.jobs.api].join('|')}"`))})`,
    },
    ingester: {
      up: `${sel('up', ing)}`,
      connected: `max(${sel(metric('ingesterConnected'), ing)})`,
      paused: `max(${sel(metric('ingesterPaused'), ing)})`,
      sinceLastFrame: `time() - max(${sel(metric('ingesterLastEvent'), ing)})`,
      receivedByKind: `sum by (kind, operation) (rate(${sel(metric('ingesterEventsReceived'), ing)}[${RI}]))`,
      stored: `sum(rate(${sel(metric('ingesterEventsStored'), ing)}[${RI}]))`,
      duplicates: `sum(rate(${sel(metric('ingesterEventsDuplicate'), ing)}[${RI}]))`,
      deadLettered: `sum(rate(${sel(metric('ingesterDeadLettered'), ing)}[${RI}]))`,
      deadLetteredByReason: `sum by (reason) (rate(${sel(metric('ingesterDeadLettered'), ing)}[${RI}]))`,
      cursorLag: `max by (instance) (${sel(metric('ingesterCursorLag'), ing)})`,
      bytesReceived: `sum by (instance) (rate(${sel(metric('ingesterBytesReceived'), ing)}[${RI}]))`,
      reconnects: `sum by (instance) (increase(${sel(metric('ingesterReconnects'), ing)}[${RI}]))`,
      redisErrors: `sum by (instance) (increase(${sel(metric('ingesterRedisErrors'), ing)}[${RI}]))`,
      runtime: runtime(ing),
    },
    buffer: {
      undelivered: `max(${sel(metric('bufferUndelivered'), wr)})`,
      lengths: {
        length: `max(${sel(metric('bufferLength'), wr)})`,
        undelivered: `max(${sel(metric('bufferUndelivered'), wr)})`,
        pending: `max(${sel(metric('bufferPending'), wr)})`,
      },
      oldestPendingAge: `max(${sel(metric('bufferOldestPendingAge'), wr)})`,
      paused: `max(${sel(metric('ingesterPaused'), ing)})`,
      inOut: {
        in: `sum(rate(${sel(metric('ingesterEventsStored'), ing)}[${RI}]))`,
        out: `sum(rate(${sel(metric('writerEventsWritten'), wr)}[${RI}]))`,
      },
      redisUp: `max(${sel('redis_up', redis)})`,
      memoryRatio: `max(${sel('redis_memory_used_bytes', redis)}) / max(${sel('redis_memory_max_bytes', redis)} > 0)`,
      memory: { used: `max(${sel('redis_memory_used_bytes', redis)})`, max: `max(${sel('redis_memory_max_bytes', redis)})` },
      commands: `sum(rate(${sel('redis_commands_processed_total', redis)}[${RI}]))`,
      clients: `max(${sel('redis_connected_clients', redis)})`,
    },
    writer: {
      up: `${sel('up', wr)}`,
      leaders: `sum(${sel(metric('writerLeader'), wr)})`,
      sinceLastBatch: `time() - max(${sel(metric('writerLastWrite'), wr)} > 0)`,
      freshness,
      writtenByTable: `sum by (table) (rate(${sel(metric('writerEventsWritten'), wr)}[${RI}]))`,
      batchesByOutcome: `sum by (outcome) (rate(${sel(metric('writerBatches'), wr)}[${RI}]))`,
      batchDuration: {
        p50: quantile(0.5, sel(`${metric('writerBatchDuration')}_bucket`, wr), ''),
        p95: quantile(0.95, sel(`${metric('writerBatchDuration')}_bucket`, wr), ''),
        p99: quantile(0.99, sel(`${metric('writerBatchDuration')}_bucket`, wr), ''),
      },
      rows: `sum(rate(${sel(metric('writerRowsWritten'), wr)}[${RI}]))`,
      bytes: `sum(rate(${sel(metric('writerBytesWritten'), wr)}[${RI}]))`,
      storeBytes: `sum by (table) (${sel(metric('storeBytes'), wr)})`,
      storeFiles: `sum by (table) (${sel(metric('storeFiles'), wr)})`,
      compactions: `sum by (outcome) (increase(${sel(metric('writerCompactions'), wr)}[1h]))`,
      deadLettered: `sum(increase(${sel(metric('writerDeadLettered'), wr)}[1h]))`,
      runtime: runtime(wr),
    },
    api: {
      up: `${sel('up', api)}`,
      availability1h: `1 - sum(${record(SLO_RECORDS.errorRatio('1h'))})`,
      p99: quantile(0.99, apiScoped(slo.requests).replace('_count{', '_bucket{'), ''),
      requestsByRoute: `sum by (http_route) (rate(${apiScoped(slo.requests)}[${RI}]))`,
      errorsByRoute: `sum by (http_route, http_response_status_code) (rate(${sel(`${metric('httpServerDuration')}_count`, `${api}, http_response_status_code=~"4..|5.."`)}[${RI}]))`,
      durationByRoute: {
        p50: quantile(0.5, sel(`${metric('httpServerDuration')}_bucket`, api), 'http_route'),
        p99: quantile(0.99, sel(`${metric('httpServerDuration')}_bucket`, api), 'http_route'),
      },
      rejected: `sum by (reason) (rate(${sel(metric('apiQueriesRejected'), api)}[${RI}]))`,
      queryDuration: quantile(0.95, sel(`${metric('apiQueryDuration')}_bucket`, api), 'endpoint'),
      rowsReturned: `sum by (endpoint) (rate(${sel(metric('apiRowsReturned'), api)}[${RI}]))`,
      exportBytes: `sum by (format) (rate(${sel(metric('apiExportBytes'), api)}[${RI}]))`,
      cacheHitRatio: `sum(rate(${sel(metric('apiCacheRequests'), `${api}, result="hit"`)}[${RI}])) / sum(rate(${sel(metric('apiCacheRequests'), api)}[${RI}]))`,
      errorRatios: Object.fromEntries(['5m', '1h', '6h', '1d', '3d'].map((w) => [w, `sum(${record(SLO_RECORDS.errorRatio(w))})`])),
      slowRatios: Object.fromEntries(['5m', '1h', '6h'].map((w) => [w, `sum(${record(SLO_RECORDS.slowRatio(w))})`])),
      budgetRemaining: `1 - (sum(sum_over_time(${record(SLO_RECORDS.errorsRate5m)}[${sloWindow}])) / sum(sum_over_time(${record(SLO_RECORDS.requestsRate5m)}[${sloWindow}]))) / ${budget}`,
      runtime: runtime(api),
    },
    host: {
      cpu: `1 - avg by (instance) (rate(${sel('node_cpu_seconds_total', `${node}, mode="idle"`)}[${RI}]))`,
      load: `max by (instance) (${sel('node_load1', node)})`,
      memory: `1 - max by (instance) (${sel('node_memory_MemAvailable_bytes', node)}) / max by (instance) (${sel('node_memory_MemTotal_bytes', node)})`,
      diskUsed: `1 - max by (instance, mountpoint) (${sel('node_filesystem_avail_bytes', fs)}) / max by (instance, mountpoint) (${sel('node_filesystem_size_bytes', fs)})`,
      diskForecast: `max by (instance, mountpoint) (predict_linear(${sel('node_filesystem_avail_bytes', fs)}[6h], ${c.thresholds.diskForecastWarningHours} * 3600))`,
      diskIo: {
        read: `sum by (instance) (rate(${sel('node_disk_read_bytes_total', node)}[${RI}]))`,
        written: `sum by (instance) (rate(${sel('node_disk_written_bytes_total', node)}[${RI}]))`,
      },
      network: {
        received: `sum by (instance) (rate(${sel('node_network_receive_bytes_total', `${node}, device!="lo"`)}[${RI}]))`,
        transmitted: `sum by (instance) (rate(${sel('node_network_transmit_bytes_total', `${node}, device!="lo"`)}[${RI}]))`,
      },
      backupAge: `time() - max(${sel(c.externalMetrics.backupLastSuccess, scoped(c, c.selectors.node, false))})`,
      certificateDays: `min by (instance) (${sel('probe_ssl_earliest_cert_expiry', probe)} - time()) / 86400`,
      probeSuccess: `min by (instance) (${sel('probe_success', probe)})`,
    },
    security: {
      authFailuresByReason: `sum by (reason) (rate(${sel(metric('apiAuthFailures'), api)}[${RI}]))`,
      authFailuresLastHour: `sum(increase(${sel(metric('apiAuthFailures'), api)}[1h]))`,
      rateLimitedByLimit: `sum by (limit) (rate(${sel(metric('apiRateLimited'), api)}[${RI}]))`,
      rateLimitedLastHour: `sum(increase(${sel(metric('apiRateLimited'), api)}[1h]))`,
      auditByAction: `sum by (action) (increase(${sel(metric('auditEvents'), api)}[1h]))`,
      exportBytesPerHour: `sum(increase(${sel(metric('apiExportBytes'), api)}[1h]))`,
      exportRowsPerHour: `sum(increase(${sel(metric('apiRowsReturned'), `${api}, endpoint="export"`)}[1h]))`,
    },
    logs: {
      errorsByService: `sum by (service) (count_over_time({${env}, level=~"error|critical"} [$__interval]))`,
      linesByLevel: `sum by (level) (count_over_time({${env}, service=~"$service", hostname=~"$instance"} [$__interval]))`,
      stream: `{${env}, service=~"$service", hostname=~"$instance"} | json`,
      problems: `{${env}, service=~"$service", hostname=~"$instance", level=~"warning|error|critical"} | json`,
    },
  };
}

export type Queries = ReturnType<typeof queries>;
