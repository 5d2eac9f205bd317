// The API: traffic, errors and duration by route, rejected queries, DuckDB,
// the SLOs and their error budget, runtime.

import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { buildDashboard, envVariable, instanceVariable, statPanel, steps, timeseriesPanel, upDownMappings, type MixinConfig } from './lib.ts';
import { queries } from './queries.ts';
import { runtimeRow } from './runtime.ts';
import { ALERT } from '../alerts/names.ts';

export function apiDashboard(config: MixinConfig): Dashboard {
  const q = queries(config).api;
  const { availabilityTarget, latencyTarget, latencyThresholdSeconds, windowDays } = config.slo;
  const errorBudget = 1 - availabilityTarget;
  return buildDashboard(config, {
    ref: config.dashboards.api,
    description: 'The Post Explorer API: traffic, errors, latency, SLOs.',
    tags: ['api'],
    variables: [envVariable(config), instanceVariable(config, [config.jobs.api])],
    runbooks: [ALERT.ApiDown, ALERT.ApiErrorBudgetBurn, ALERT.ApiLatencyBudgetBurn],
    rows: [
      {
        title: 'Status',
        height: 5,
        panels: [
          [statPanel(config, { title: 'API up', description: 'Whether Prometheus can scrape the API.', unit: 'none', thresholds: steps('red', [1, 'green']), mappings: upDownMappings(), targets: [{ expr: q.up, legend: '{{instance}}' }], runbooks: [ALERT.ApiDown] }), 6],
          [statPanel(config, { title: 'Availability (1 h)', description: `Share of requests without a 5xx over the last hour. SLO ${availabilityTarget * 100}%.`, unit: 'percentunit', decimals: 3, thresholds: steps('red', [availabilityTarget, 'green']), targets: [{ expr: q.availability1h }], runbooks: [ALERT.ApiErrorBudgetBurn] }), 6],
          [statPanel(config, { title: 'Latency p99', description: `99th percentile of request duration (probes excluded). The latency SLO counts requests over ${latencyThresholdSeconds}s.`, unit: 's', thresholds: steps('green', [latencyThresholdSeconds / 2, 'orange'], [latencyThresholdSeconds, 'red']), targets: [{ expr: q.p99 }], runbooks: [ALERT.ApiLatencyBudgetBurn] }), 6],
          [statPanel(config, { title: `Error budget remaining (${windowDays} d)`, description: `Share of the ${windowDays}-day error budget (${Number((errorBudget * 100).toPrecision(6))}% of requests) not yet spent.`, unit: 'percentunit', thresholds: steps('red', [0, 'orange'], [0.25, 'green']), targets: [{ expr: q.budgetRemaining }] }), 6],
        ],
      },
      {
        title: 'Traffic',
        height: 8,
        panels: [
          [timeseriesPanel(config, { title: 'Requests by route', description: 'Requests per second by route (probes excluded).', unit: 'reqps', thresholds: steps('green'), stack: true, targets: [{ expr: q.requestsByRoute, legend: '{{http_route}}' }] }), 8],
          [timeseriesPanel(config, { title: '4xx and 5xx by route', description: 'Client errors (4xx) and server errors (5xx) per second, by route and status.', unit: 'reqps', thresholds: steps('green'), targets: [{ expr: q.errorsByRoute, legend: '{{http_route}} {{http_response_status_code}}' }] }), 8],
          [timeseriesPanel(config, {
            title: 'Duration by route',
            description: 'Median and 99th percentile of request duration, by route.',
            unit: 's',
            thresholds: steps('green', [latencyThresholdSeconds, 'red']),
            showThresholds: true,
            targets: [
              { expr: q.durationByRoute.p50, legend: 'p50 {{http_route}}' },
              { expr: q.durationByRoute.p99, legend: 'p99 {{http_route}}' },
            ],
          }), 8],
        ],
      },
      {
        title: 'Queries',
        height: 7,
        panels: [
          [timeseriesPanel(config, { title: 'Queries rejected', description: 'Queries refused per second, by reason: timeout, overload, validation.', unit: 'ops', thresholds: steps('green', [0.1, 'orange']), targets: [{ expr: q.rejected, legend: '{{reason}}' }] }), 6],
          [timeseriesPanel(config, { title: 'DuckDB time p95 by endpoint', description: '95th percentile of the time DuckDB spent answering, by endpoint.', unit: 's', thresholds: steps('green', [5, 'orange'], [30, 'red']), targets: [{ expr: q.queryDuration, legend: '{{endpoint}}' }] }), 6],
          [timeseriesPanel(config, { title: 'Rows returned', description: 'Rows returned to clients per second, by endpoint.', unit: 'ops', thresholds: steps('green'), targets: [{ expr: q.rowsReturned, legend: '{{endpoint}}' }] }), 4],
          [timeseriesPanel(config, { title: 'Export bytes', description: 'Bytes streamed by exports per second, by format.', unit: 'Bps', thresholds: steps('green'), targets: [{ expr: q.exportBytes, legend: '{{format}}' }] }), 4],
          [timeseriesPanel(config, { title: 'Cache hit ratio', description: 'Share of response cache lookups that hit.', unit: 'percentunit', min: 0, max: 1, thresholds: steps('orange', [0.2, 'green']), targets: [{ expr: q.cacheHitRatio, legend: 'hits' }] }), 4],
        ],
      },
      {
        title: 'Service level objectives',
        height: 8,
        panels: [
          [timeseriesPanel(config, {
            title: 'Error ratio by window',
            description: `Share of requests answered with a 5xx, over the windows the burn-rate alerts compare. The error budget is ${Number((errorBudget * 100).toPrecision(6))}%; the fast-burn page starts at 14.4 times it.`,
            unit: 'percentunit',
            thresholds: steps('green', [errorBudget, 'orange'], [14.4 * errorBudget, 'red']),
            showThresholds: true,
            targets: Object.entries(q.errorRatios).map(([w, expr]) => ({ expr, legend: w })),
            runbooks: [ALERT.ApiErrorBudgetBurn],
          }), 12],
          [timeseriesPanel(config, {
            title: `Requests over ${latencyThresholdSeconds}s by window`,
            description: `Share of requests (exports excluded) slower than ${latencyThresholdSeconds}s. SLO: at most ${Number(((1 - latencyTarget) * 100).toPrecision(6))}%.`,
            unit: 'percentunit',
            thresholds: steps('green', [1 - latencyTarget, 'orange'], [14.4 * (1 - latencyTarget), 'red']),
            showThresholds: true,
            targets: Object.entries(q.slowRatios).map(([w, expr]) => ({ expr, legend: w })),
            runbooks: [ALERT.ApiLatencyBudgetBurn],
          }), 12],
        ],
      },
      runtimeRow(config, q.runtime),
    ],
  });
}
