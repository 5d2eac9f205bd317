// Pipeline overview, for stakeholders: volume against the plan, data freshness,
// end-to-end lag, the API's SLOs, storage growth and compression.

import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { buildDashboard, envVariable, instanceVariable, statPanel, steps, timeseriesPanel, upDownMappings, type MixinConfig } from './lib.ts';
import { queries } from './queries.ts';
import { ALERT } from '../alerts/names.ts';

export function overviewDashboard(config: MixinConfig): Dashboard {
  const q = queries(config).overview;
  const t = config.thresholds;
  const target = t.eventsPerDayTarget;
  const { availabilityTarget, latencyTarget, latencyThresholdSeconds, windowDays } = config.slo;
  const pct = (x: number) => `${Number((x * 100).toPrecision(6))}%`;
  return buildDashboard(config, {
    ref: config.dashboards.overview,
    description: 'The pipeline at a glance: volume against the plan, freshness, lag, API SLOs, storage.',
    tags: ['overview'],
    variables: [envVariable(config), instanceVariable(config, [config.jobs.ingester, config.jobs.writer, config.jobs.api])],
    runbooks: [ALERT.DataStale, ALERT.ApiErrorBudgetBurn],
    rows: [
      {
        title: 'Volume',
        height: 8,
        panels: [
          [statPanel(config, {
            title: 'Events in the last 24 hours',
            description: `Jetstream events accepted by the ingester over the last 24 hours, against the plan's ${target.toLocaleString('en')} a day (green at or above it).`,
            unit: 'short',
            thresholds: steps('orange', [target, 'green']),
            targets: [{ expr: q.eventsLast24h, legend: 'events' }],
          }), 6],
          [timeseriesPanel(config, {
            title: 'Events per second by collection',
            description: `Events accepted per second, by collection ("other" folds the long tail). The dashed line is the plan's average rate (${Math.round(target / 86400)}/s).`,
            unit: 'ops',
            thresholds: steps('transparent', [Math.round(target / 86400), 'green']),
            showThresholds: true,
            stack: true,
            targets: [{ expr: q.eventsPerSecondByCollection, legend: '{{collection}}' }],
          }), 12],
          [timeseriesPanel(config, {
            title: 'Events per day',
            description: 'Events accepted over the trailing 24 hours, against the daily target (dashed).',
            unit: 'short',
            thresholds: steps('transparent', [target, 'green']),
            showThresholds: true,
            targets: [{ expr: q.eventsPerDay, legend: 'trailing 24 h' }],
          }), 6],
        ],
      },
      {
        title: 'Freshness and lag',
        height: 7,
        panels: [
          [statPanel(config, {
            title: 'Data freshness',
            description: `Age of the newest event written to Parquet: what a search can see. Red past ${t.dataStaleSeconds}s (the data-stale alert).`,
            unit: 's',
            thresholds: steps('green', [t.dataStaleSeconds / 3, 'orange'], [t.dataStaleSeconds, 'red']),
            targets: [{ expr: q.freshness, legend: 'freshness' }],
            runbooks: [ALERT.DataStale],
          }), 6],
          [timeseriesPanel(config, {
            title: 'End-to-end lag',
            description: 'How far behind the network each stage is: the newest event stored in Redis (ingest), the oldest event waiting in the stream (buffer), and the newest event in Parquet (end to end).',
            unit: 's',
            thresholds: steps('transparent', [t.cursorLagWarningSeconds, 'orange'], [t.dataStaleSeconds, 'red']),
            showThresholds: true,
            targets: [
              { expr: q.ingestLag, legend: 'ingest (cursor lag)' },
              { expr: q.bufferWait, legend: 'buffer (oldest unacknowledged)' },
              { expr: q.freshness, legend: 'end to end (Parquet)' },
            ],
            runbooks: [ALERT.CursorLagHigh],
          }), 12],
          [statPanel(config, {
            title: 'Services up',
            description: 'Whether Prometheus can scrape each pipeline service (1 = up).',
            unit: 'none',
            thresholds: steps('red', [1, 'green']),
            mappings: upDownMappings(),
            targets: [{ expr: q.servicesUp, legend: '{{job}}' }],
          }), 6],
        ],
      },
      {
        title: 'API service levels',
        height: 7,
        panels: [
          [statPanel(config, {
            title: `Availability (${windowDays} days)`,
            description: `Share of API requests answered without a 5xx over ${windowDays} days (probes excluded). SLO: ${pct(availabilityTarget)}.`,
            unit: 'percentunit',
            decimals: 3,
            thresholds: steps('red', [availabilityTarget, 'green']),
            targets: [{ expr: q.availability30d, legend: 'availability' }],
            runbooks: [ALERT.ApiErrorBudgetBurn],
          }), 6],
          [statPanel(config, {
            title: 'Error budget remaining',
            description: `Share of the ${windowDays}-day error budget (${pct(1 - availabilityTarget)} of requests) not yet spent.`,
            unit: 'percentunit',
            thresholds: steps('red', [0, 'orange'], [0.25, 'green']),
            targets: [{ expr: q.budgetRemaining, legend: 'remaining' }],
          }), 6],
          [statPanel(config, {
            title: `Requests within ${latencyThresholdSeconds}s (${windowDays} days)`,
            description: `Share of API requests (exports excluded) answered within ${latencyThresholdSeconds}s over ${windowDays} days. SLO: ${pct(latencyTarget)}.`,
            unit: 'percentunit',
            decimals: 2,
            thresholds: steps('red', [latencyTarget, 'green']),
            targets: [{ expr: q.latency30d, legend: 'within threshold' }],
            runbooks: [ALERT.ApiLatencyBudgetBurn],
          }), 6],
          [timeseriesPanel(config, {
            title: 'SLIs over the last hour',
            description: 'Availability and latency SLIs over a sliding hour, against their SLOs (dashed).',
            unit: 'percentunit',
            thresholds: steps('red', [latencyTarget, 'orange'], [availabilityTarget, 'green']),
            showThresholds: true,
            targets: [
              { expr: q.availability1h, legend: 'availability' },
              { expr: q.latency1h, legend: `within ${latencyThresholdSeconds}s` },
            ],
          }), 6],
        ],
      },
      {
        title: 'Storage',
        height: 7,
        panels: [
          [timeseriesPanel(config, {
            title: 'Parquet store by table',
            description: 'Bytes of Parquet on disk, by table (sampled by the writer every minute).',
            unit: 'bytes',
            thresholds: steps('green'),
            stack: true,
            targets: [{ expr: q.storeBytesByTable, legend: '{{table}}' }],
          }), 12],
          [statPanel(config, {
            title: 'Storage growth per day',
            description: 'How fast the store grows, from the trend of the last 6 hours, in bytes a day (compaction and retention make it shrink at times).',
            unit: 'bytes',
            thresholds: steps('green'),
            targets: [{ expr: q.storeGrowthPerDay, legend: 'per day' }],
          }), 6],
          [statPanel(config, {
            title: 'Compression ratio',
            description: 'Bytes of Parquet written per byte of Jetstream JSON received, over 24 hours (before compaction, which shrinks it further).',
            unit: 'percentunit',
            thresholds: steps('green', [0.3, 'orange'], [0.5, 'red']),
            targets: [{ expr: q.compressionRatio, legend: 'Parquet / JSON' }],
          }), 6],
        ],
      },
    ],
  });
}
