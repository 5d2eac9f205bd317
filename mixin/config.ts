// The one configuration object of the monitoring mixin (dashboards/, alerts/,
// the Alertmanager and Prometheus configurations), in the manner of
// kubernetes-mixin's `_config`: selectors, thresholds, SLO targets and URL
// patterns live here, never inside a query string. Dashboards and alerts take
// metric names from the catalog (telemetry/metrics.ts, `promName`) and
// everything else from this object.
//
// `withConfig(overrides)` returns a copy with some fields replaced: the local
// stack and the end-to-end test use it for short `for:` durations and local
// receivers; the committed files (alerts/dist, dashboards/dist, deploy/config)
// are rendered from `mixinConfig` itself.

import { METRICS } from '../telemetry/metrics.ts';
import { durationSeconds } from '../base/duration.ts';

export type Severity = 'critical' | 'warning';

/** Where Alertmanager sends a route's notifications. Secrets are read from files, never inlined. */
export type ReceiverSpec =
  | { kind: 'webhook'; url: string }
  | { kind: 'email'; to: string; from: string; smarthost: string; authUsername?: string; authPasswordFile?: string }
  | { kind: 'slack'; channel: string; apiUrlFile: string };

/** One dashboard's identity: its UID is its stable address (`/d/<uid>`) and its file name in dashboards/dist. */
export interface DashboardRef {
  uid: string;
  title: string;
}

export interface MixinConfig {
  /** Prefix of every alert name (mixin convention: CamelCase with a shared prefix). */
  alertPrefix: string;
  /** The label Prometheus adds to every target (scrape config) and its value in production. */
  environment: { label: string; production: string };
  /** Prometheus job names, one per scraped component. */
  jobs: {
    ingester: string;
    writer: string;
    api: string;
    redis: string;
    node: string;
    blackbox: string;
    prometheus: string;
    alertmanager: string;
  };
  /** Label matchers (without braces) selecting each component's series. */
  selectors: {
    ingester: string;
    writer: string;
    api: string;
    redis: string;
    node: string;
    blackbox: string;
    /** Filesystems that count for "disk filling up": real disks, not tmpfs/overlay. */
    filesystem: string;
  };
  /**
   * How often Prometheus scrapes every target and evaluates the rules. With serviceDownFor
   * and the pager's group wait they set how fast a dead service pages: at worst one scrape
   * interval until a scrape fails, one evaluation interval until the rule sees it, then
   * `for`, then the group wait (see pageWithinSeconds).
   */
  prometheus: { scrapeInterval: string; evaluationInterval: string };
  /** How long a service's /metrics may be unreachable before "<service> down" fires. */
  serviceDownFor: string;
  /** How long any scrape target may be down before the generic "target down" fires. */
  targetDownFor: string;
  thresholds: {
    /** The plan's daily target, drawn on the overview dashboard. */
    eventsPerDayTarget: number;
    jetstreamDisconnectedFor: string;
    ingestionStalledFor: string;
    /** Cursor lag (s) for the warning and the critical alert; Jetstream replays 24 h at most. */
    cursorLagWarningSeconds: number;
    cursorLagCriticalSeconds: number;
    cursorLagFor: string;
    /** Undelivered stream entries above which a growing backlog alerts. */
    backlogEntries: number;
    backlogGrowingFor: string;
    /** Redis used/maxmemory ratios (noeviction: at the limit every append fails). */
    redisMemoryWarningRatio: number;
    redisMemoryCriticalRatio: number;
    redisDownFor: string;
    writerBatchesFailingFor: string;
    /** Age (s) of the newest event written above which the data is stale. */
    dataStaleSeconds: number;
    dataStaleFor: string;
    /** How far back "newest event written" is remembered when the writer stops exporting it. */
    dataStaleLookback: string;
    /** Share of Jetstream frames dead-lettered by the ingester above which it alerts. */
    ingesterDeadLetterRatio: number;
    deadLettersFor: string;
    /** Disk: free share and forecast horizon, per severity (node-mixin's NodeFilesystemSpaceFillingUp). */
    diskFreeWarningRatio: number;
    diskForecastWarningHours: number;
    diskFreeCriticalRatio: number;
    diskForecastCriticalHours: number;
    diskFillingFor: string;
    /** The backup runs daily: older than this, it is missing. */
    backupMaxAgeHours: number;
    backupMissingFor: string;
    /** Caddy renews 30 days before expiry: a certificate this close to it was not renewed. */
    /** How long the public probe may fail before the endpoint counts as down (three probes, as for a service). */
    publicEndpointDownFor: string;
    certificateWarningDays: number;
    certificateCriticalDays: number;
    /** Auth failures per second (5-minute rate) that count as a spike, and the factor over the 1-day baseline. */
    authFailureRatePerSecond: number;
    authFailureBaselineFactor: number;
    /** Bytes exported in one hour above which export volume is unusual, and the factor over the 7-day hourly baseline. */
    exportBytesPerHour: number;
    exportBaselineFactor: number;
    securityFor: string;
    certificateFor: string;
  };
  /**
   * Series that are not in the metric catalog (telemetry/metrics.ts) because no service of
   * ours exports them: deploy/backup/backup.sh writes the backup's through node-exporter's
   * textfile collector.
   */
  externalMetrics: { backupLastSuccess: string };
  slo: {
    /** Availability: share of API requests that are not 5xx, over `windowDays`. */
    availabilityTarget: number;
    /** Latency: share of API requests answered within `latencyThresholdSeconds`. */
    latencyTarget: number;
    /** Must be a bucket boundary of http.server.request.duration. */
    latencyThresholdSeconds: number;
    windowDays: number;
    /** Routes outside the SLOs: probes, and exports (long streams by design) for latency. */
    excludedRoutes: readonly string[];
    latencyExcludedRoutes: readonly string[];
  };
  urls: {
    /**
     * Public origin of the deployment (`https://<domain>`). Empty: derived at alert time from
     * Prometheus' --web.external-url (deploy/compose.yaml sets it to https://<domain>/prometheus/),
     * so the committed rules fit any domain; dashboards then use host-relative links.
     */
    publicOrigin: string;
    /**
     * Runbooks are served by Caddy under this path of Grafana's origin, rendered to HTML
     * (`npm run runbooks:build`) and behind Grafana's login: the session cookie belongs to
     * Grafana's host only. runbook_url and the dashboards' runbook links point there; the
     * same path on the public origin redirects to it (deploy/config/caddy/Caddyfile).
     */
    runbookPath: string;
    /** Grafana's origin (and the runbooks'). Empty: https://grafana.<domain>, derived like publicOrigin (GF_SERVER_ROOT_URL). */
    grafanaOrigin: string;
  };
  alerting: {
    groupBy: readonly string[];
    /** How long a new group of warnings waits for more alerts before the first notification. */
    groupWait: string;
    /** The same for pages (critical): short, so that a dead service pages within a minute. */
    pagerGroupWait: string;
    groupInterval: string;
    repeatInterval: string;
    /** critical -> pager, warning -> chat. */
    receivers: { pager: ReceiverSpec; chat: ReceiverSpec };
  };
  grafana: {
    folderUid: string;
    folderTitle: string;
    prometheusDatasourceUid: string;
    lokiDatasourceUid: string;
    refresh: string;
    timeFrom: string;
  };
  dashboards: {
    overview: DashboardRef;
    ingester: DashboardRef;
    buffer: DashboardRef;
    writer: DashboardRef;
    api: DashboardRef;
    host: DashboardRef;
    security: DashboardRef;
    logs: DashboardRef;
  };
}

const jobs = {
  ingester: 'ingester',
  writer: 'writer',
  api: 'api',
  redis: 'redis',
  node: 'node',
  blackbox: 'blackbox',
  prometheus: 'prometheus',
  alertmanager: 'alertmanager',
};

export const mixinConfig: MixinConfig = {
  alertPrefix: 'Bpe',
  environment: { label: 'env', production: 'production' },
  jobs,
  selectors: {
    ingester: `job="${jobs.ingester}"`,
    writer: `job="${jobs.writer}"`,
    api: `job="${jobs.api}"`,
    redis: `job="${jobs.redis}"`,
    node: `job="${jobs.node}"`,
    blackbox: `job="${jobs.blackbox}"`,
    filesystem: 'fstype!~"tmpfs|ramfs|overlay|squashfs|nsfs|fuse.*", mountpoint!~"/(run|proc|sys|dev)(/.*)?"',
  },
  prometheus: { scrapeInterval: '10s', evaluationInterval: '10s' },
  // Three failed scrapes in a row: a restart (a deploy, a crash the container restarts)
  // takes a few seconds and does not page.
  serviceDownFor: '30s',
  targetDownFor: '10m',
  thresholds: {
    eventsPerDayTarget: 8_100_000,
    jetstreamDisconnectedFor: '5m',
    ingestionStalledFor: '10m',
    cursorLagWarningSeconds: 300,
    cursorLagCriticalSeconds: 6 * 3600,
    cursorLagFor: '10m',
    backlogEntries: 100_000,
    backlogGrowingFor: '15m',
    redisMemoryWarningRatio: 0.8,
    redisMemoryCriticalRatio: 0.9,
    redisDownFor: '1m',
    writerBatchesFailingFor: '10m',
    dataStaleSeconds: 900,
    dataStaleFor: '5m',
    dataStaleLookback: '6h',
    ingesterDeadLetterRatio: 0.01,
    deadLettersFor: '15m',
    diskFreeWarningRatio: 0.4,
    diskForecastWarningHours: 24,
    diskFreeCriticalRatio: 0.2,
    diskForecastCriticalHours: 4,
    diskFillingFor: '1h',
    backupMaxAgeHours: 26,
    backupMissingFor: '1h',
    publicEndpointDownFor: '30s',
    certificateWarningDays: 20,
    certificateCriticalDays: 7,
    authFailureRatePerSecond: 1,
    authFailureBaselineFactor: 5,
    exportBytesPerHour: 2 * 1024 ** 3,
    exportBaselineFactor: 3,
    securityFor: '5m',
    certificateFor: '1h',
  },
  externalMetrics: { backupLastSuccess: 'bpe_backup_last_success_timestamp_seconds' },
  slo: {
    availabilityTarget: 0.999,
    latencyTarget: 0.99,
    latencyThresholdSeconds: 1,
    windowDays: 30,
    excludedRoutes: ['/healthz', '/readyz'],
    latencyExcludedRoutes: ['/v1/export'],
  },
  urls: {
    publicOrigin: '',
    runbookPath: '/runbooks/',
    grafanaOrigin: '',
  },
  alerting: {
    groupBy: ['alertname', 'service'],
    groupWait: '30s',
    pagerGroupWait: '5s',
    groupInterval: '5m',
    repeatInterval: '4h',
    // Placeholders for the operator's addresses; the secrets are files Alertmanager reads
    // (copied by secrets-init under /run/bpe-secrets/alertmanager/, deploy/compose.yaml), never values in this repository.
    receivers: {
      pager: {
        kind: 'email',
        to: 'oncall@example.org',
        from: 'alertmanager@example.org',
        smarthost: 'smtp.example.org:587',
        authUsername: 'alertmanager@example.org',
        authPasswordFile: '/run/bpe-secrets/alertmanager/smtp_password',
      },
      chat: { kind: 'slack', channel: '#bpe-alerts', apiUrlFile: '/run/bpe-secrets/alertmanager/slack_webhook_url' },
    },
  },
  grafana: {
    folderUid: 'bluesky-post-explorer',
    folderTitle: 'Bluesky Post Explorer',
    prometheusDatasourceUid: 'prometheus',
    lokiDatasourceUid: 'loki',
    refresh: '30s',
    timeFrom: 'now-6h',
  },
  dashboards: {
    overview: { uid: 'bpe-overview', title: 'BPE / Pipeline overview' },
    ingester: { uid: 'bpe-ingester', title: 'BPE / Ingester' },
    buffer: { uid: 'bpe-buffer', title: 'BPE / Buffer (Redis)' },
    writer: { uid: 'bpe-writer', title: 'BPE / Writer & storage' },
    api: { uid: 'bpe-api', title: 'BPE / API' },
    host: { uid: 'bpe-host', title: 'BPE / Host' },
    security: { uid: 'bpe-security', title: 'BPE / Security' },
    logs: { uid: 'bpe-logs', title: 'BPE / Logs' },
  },
};

type DeepPartial<T> = { [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

function merge<T>(base: T, overrides: DeepPartial<T> | undefined): T {
  if (overrides === undefined) return base;
  if (typeof base !== 'object' || base === null || Array.isArray(base)) return overrides as T;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, value] of Object.entries(overrides as Record<string, unknown>)) {
    if (value === undefined) continue;
    const current = out[key];
    out[key] = typeof current === 'object' && current !== null && !Array.isArray(current) && typeof value === 'object' && !Array.isArray(value) && !('kind' in (value as object))
      ? merge(current, value as never)
      : value;
  }
  return out as T;
}

/** A copy of the configuration with some fields replaced (nested objects merged). */
export function withConfig(overrides: DeepPartial<MixinConfig>, base: MixinConfig = mixinConfig): MixinConfig {
  const config = merge(base, overrides);
  validateConfig(config);
  return config;
}

/** Refuses a configuration the rules could not honour (a latency threshold between buckets, a target of 1). */
export function validateConfig(config: MixinConfig): void {
  const buckets: readonly number[] = METRICS.httpServerDuration.buckets ?? [];
  if (!buckets.includes(config.slo.latencyThresholdSeconds)) {
    throw new Error(`slo.latencyThresholdSeconds=${config.slo.latencyThresholdSeconds} is not a bucket boundary of ${METRICS.httpServerDuration.name} (${buckets.join(', ')})`);
  }
  for (const key of ['availabilityTarget', 'latencyTarget'] as const) {
    const target = config.slo[key];
    if (!(target > 0 && target < 1)) throw new Error(`slo.${key} must be between 0 and 1 (exclusive), got ${target}`);
  }
  if (!config.urls.runbookPath.endsWith('/')) throw new Error(`urls.runbookPath must end with "/", got ${config.urls.runbookPath}`);
}

/**
 * The longest a dead service can take to page with this configuration: the next scrape
 * fails at most one scrape interval after the death, the rule sees it at most one
 * evaluation interval later, fires `serviceDownFor` after that, and Alertmanager waits
 * the pager's group wait before the first notification.
 */
export function pageWithinSeconds(config: MixinConfig): number {
  const { scrapeInterval, evaluationInterval } = config.prometheus;
  return [scrapeInterval, evaluationInterval, config.serviceDownFor, config.alerting.pagerGroupWait].map((d) => durationSeconds(d)).reduce((a, b) => a + b, 0);
}

validateConfig(mixinConfig);
