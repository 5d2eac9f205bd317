// Security: authentication failures, rate limiting, the audit trail, export
// volume. Empty until the API's authentication and audit trail fill the counters.

import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { buildDashboard, envVariable, instanceVariable, statPanel, steps, timeseriesPanel, type MixinConfig } from './lib.ts';
import { queries } from './queries.ts';
import { ALERT } from '../alerts/names.ts';

export function securityDashboard(config: MixinConfig): Dashboard {
  const q = queries(config).security;
  const t = config.thresholds;
  return buildDashboard(config, {
    ref: config.dashboards.security,
    description: 'Authentication failures, rate limiting, audit events and export volume.',
    tags: ['security'],
    variables: [envVariable(config), instanceVariable(config, [config.jobs.api])],
    runbooks: [ALERT.AuthFailureSpike, ALERT.UnusualExportVolume],
    rows: [
      {
        title: 'Access',
        height: 8,
        panels: [
          [statPanel(config, { title: 'Auth failures (1 h)', description: 'Requests refused by authentication or authorization in the last hour.', unit: 'short', thresholds: steps('green', [t.authFailureRatePerSecond * 600, 'orange'], [t.authFailureRatePerSecond * 3600, 'red']), targets: [{ expr: q.authFailuresLastHour }], runbooks: [ALERT.AuthFailureSpike] }), 4],
          [timeseriesPanel(config, { title: 'Auth failures by reason', description: `Refused requests per second, by reason (missing, unknown, revoked, scope). The spike alert needs over ${t.authFailureRatePerSecond}/s.`, unit: 'reqps', thresholds: steps('green', [t.authFailureRatePerSecond, 'red']), showThresholds: true, targets: [{ expr: q.authFailuresByReason, legend: '{{reason}}' }], runbooks: [ALERT.AuthFailureSpike] }), 8],
          [statPanel(config, { title: 'Rate limited (1 h)', description: 'Requests answered 429 in the last hour.', unit: 'short', thresholds: steps('green', [100, 'orange']), targets: [{ expr: q.rateLimitedLastHour }] }), 4],
          [timeseriesPanel(config, { title: 'Rate limited by limit', description: 'Requests answered 429 per second, by the limit that refused them (key, ip, export).', unit: 'reqps', thresholds: steps('green'), targets: [{ expr: q.rateLimitedByLimit, legend: '{{limit}}' }] }), 8],
        ],
      },
      {
        title: 'Audit and exports',
        height: 8,
        panels: [
          [timeseriesPanel(config, { title: 'Audit events (1 h)', description: 'Entries appended to the audit trail in the last hour, by action.', unit: 'short', thresholds: steps('green'), targets: [{ expr: q.auditByAction, legend: '{{action}}' }] }), 8],
          [timeseriesPanel(config, { title: 'Export bytes (1 h)', description: `Bytes exported over the last hour. Unusual past ${t.exportBytesPerHour / 1024 ** 3} GiB and ${t.exportBaselineFactor}× the weekly hourly average.`, unit: 'bytes', thresholds: steps('green', [t.exportBytesPerHour, 'red']), showThresholds: true, targets: [{ expr: q.exportBytesPerHour, legend: 'bytes' }], runbooks: [ALERT.UnusualExportVolume] }), 8],
          [timeseriesPanel(config, { title: 'Export rows (1 h)', description: 'Rows exported over the last hour.', unit: 'short', thresholds: steps('green'), targets: [{ expr: q.exportRowsPerHour, legend: 'rows' }] }), 8],
        ],
      },
    ],
  });
}
