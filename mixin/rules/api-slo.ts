// The API's SLO recording rules (level:metric:operations): request, error and slow
// rates and ratios over the burn-rate windows. The burn-rate alerts (alerts/api.ts)
// and the API dashboard read them; they live here, below both.

import type { MixinConfig, Severity } from '../config.ts';
import { metric, promql, series } from '../promql.ts';
import type { RecordingRule } from './types.ts';

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\\\$&');

/** The burn-rate pairs of the SRE workbook for a 30-day SLO. */
export const BURN_RATES: readonly { long: string; short: string; factor: number; for: string; severity: Severity }[] = [
  { long: '1h', short: '5m', factor: 14.4, for: '2m', severity: 'critical' },
  { long: '6h', short: '30m', factor: 6, for: '15m', severity: 'critical' },
  { long: '1d', short: '2h', factor: 3, for: '1h', severity: 'warning' },
  { long: '3d', short: '6h', factor: 1, for: '3h', severity: 'warning' },
];
/** Latency: the two fastest pairs (a slow latency burn is a capacity question, not an incident). */
export const LATENCY_BURN_RATES = BURN_RATES.slice(0, 2);

/** Names of the SLO recording rules (level:metric:operations), used by alerts and dashboards. */
export const SLO_RECORDS = {
  requestsRate5m: 'job:bpe_api_requests:rate5m',
  errorsRate5m: 'job:bpe_api_request_errors:rate5m',
  errorRatio: (window: string) => `job:bpe_api_request_errors:ratio_rate${window}`,
  latencyRequestsRate5m: 'job:bpe_api_latency_requests:rate5m',
  slowRate5m: 'job:bpe_api_request_slow:rate5m',
  slowRatio: (window: string) => `job:bpe_api_request_slow:ratio_rate${window}`,
};

/** Series selectors of the SLOs, shared with the API dashboard. */
export function sloSelectors(config: MixinConfig) {
  const count = `${metric('httpServerDuration')}_count`;
  const bucket = `${metric('httpServerDuration')}_bucket`;
  const route = (routes: readonly string[]) => (routes.length ? `http_route!~"${routes.map(escapeRegex).join('|')}"` : '');
  const api = config.selectors.api;
  const excluded = route(config.slo.excludedRoutes);
  const latencyExcluded = route([...config.slo.excludedRoutes, ...config.slo.latencyExcludedRoutes]);
  return {
    requests: series(count, api, excluded),
    errors: series(count, api, excluded, 'http_response_status_code=~"5.."'),
    latencyRequests: series(count, api, latencyExcluded),
    fast: series(bucket, api, latencyExcluded, `le="${String(config.slo.latencyThresholdSeconds)}"`),
  };
}

export function apiRecordingRules(config: MixinConfig): RecordingRule[] {
  const s = sloSelectors(config);
  // By environment too, so dashboards can select one.
  const by = `by (${config.environment.label}, job)`;
  const errorWindows = [...new Set(BURN_RATES.flatMap((b) => [b.short, b.long]))];
  const latencyWindows = [...new Set(LATENCY_BURN_RATES.flatMap((b) => [b.short, b.long]))];
  return [
    { record: SLO_RECORDS.requestsRate5m, expr: `sum ${by} (rate(${s.requests}[5m]))` },
    // `or 0 * …`: no 5xx series yet means a ratio of 0, not no ratio at all.
    { record: SLO_RECORDS.errorsRate5m, expr: `sum ${by} (rate(${s.errors}[5m])) or 0 * sum ${by} (rate(${s.requests}[5m]))` },
    ...errorWindows.map((w) => ({
      record: SLO_RECORDS.errorRatio(w),
      expr: promql`
        (sum ${by} (rate(${s.errors}[${w}])) or 0 * sum ${by} (rate(${s.requests}[${w}])))
        /
        sum ${by} (rate(${s.requests}[${w}]))`,
    })),
    { record: SLO_RECORDS.latencyRequestsRate5m, expr: `sum ${by} (rate(${s.latencyRequests}[5m]))` },
    {
      record: SLO_RECORDS.slowRate5m,
      expr: `sum ${by} (rate(${s.latencyRequests}[5m])) - sum ${by} (rate(${s.fast}[5m]))`,
    },
    ...latencyWindows.map((w) => ({
      record: SLO_RECORDS.slowRatio(w),
      expr: promql`
        1 - (
          sum ${by} (rate(${s.fast}[${w}]))
          /
          sum ${by} (rate(${s.latencyRequests}[${w}]))
        )`,
    })),
  ];
}
