// Security alerts: an authentication-failure spike (credential stuffing, a leaked
// or revoked key in a loop) and an unusual export volume (bulk exfiltration).
// Both compare a recent rate with an absolute floor *and* with the usual level.

import type { MixinConfig } from '../mixin/config.ts';
import { metric, promql, series } from '../mixin/promql.ts';
import type { Component } from '../mixin/rules/types.ts';
import { ALERT, alertName } from './names.ts';

export function securityAlerts(config: MixinConfig): Component {
  const api = config.selectors.api;
  const t = config.thresholds;
  const failures = series(metric('apiAuthFailures'), api);
  const exported = series(metric('apiExportBytes'), api);
  return {
    name: 'security',
    dashboard: 'security',
    groups: [
      {
        name: 'bpe-security',
        rules: [
          {
            alert: alertName(config, ALERT.AuthFailureSpike),
            expr: promql`
              sum by (job) (rate(${failures}[5m])) > ${t.authFailureRatePerSecond}
              and
              sum by (job) (rate(${failures}[5m])) > ${t.authFailureBaselineFactor} * sum by (job) (rate(${failures}[1d]))`,
            for: t.securityFor,
            labels: { severity: 'warning', service: 'api' },
            annotations: {
              summary: 'Authentication failures spike on the API.',
              description:
                'The API refuses {{ $value | humanize }} requests/s for authentication or authorization, ' +
                `over ${t.authFailureRatePerSecond}/s and ${t.authFailureBaselineFactor}× its 1-day average.`,
            },
          },
          {
            alert: alertName(config, ALERT.UnusualExportVolume),
            expr: promql`
              sum by (job) (increase(${exported}[1h])) > ${t.exportBytesPerHour}
              and
              sum by (job) (increase(${exported}[1h])) > ${t.exportBaselineFactor} * sum by (job) (increase(${exported}[7d])) / 168`,
            for: t.securityFor,
            labels: { severity: 'warning', service: 'api' },
            annotations: {
              summary: 'Unusually large exports from the API.',
              description:
                'The API exported {{ $value | humanize1024 }}B in the last hour, over ' +
                `${t.exportBytesPerHour / 1024 ** 3} GiB and ${t.exportBaselineFactor}× the hourly average of the last 7 days.`,
            },
          },
        ],
      },
    ],
  };
}
