// Edge alerts: the public HTTPS endpoints (the API's /healthz, Grafana's /api/health)
// probed from the outside by the blackbox exporter, through DNS, the firewall, TLS and
// Caddy to the service behind: the way researchers reach the API.

import type { MixinConfig } from '../mixin/config.ts';
import { promql, series } from '../mixin/promql.ts';
import type { AlertRule, Component } from '../mixin/rules/types.ts';
import { ALERT, alertName } from './names.ts';

export function edgeAlerts(config: MixinConfig): Component {
  const t = config.thresholds;
  const expiring = (severity: 'warning' | 'critical', days: number): AlertRule => ({
    alert: alertName(config, ALERT.TlsCertificateExpiring),
    expr: promql`
      min by (job, instance) (${series('probe_ssl_earliest_cert_expiry', config.selectors.blackbox)}) - time() < ${days} * 86400`,
    for: t.certificateFor,
    labels: { severity, service: 'edge' },
    annotations: {
      summary: `The TLS certificate of the public endpoint expires within ${days} days.`,
      description:
        'The certificate served at {{ $labels.instance }} expires in {{ $value | humanizeDuration }}. ' +
        'Caddy renews 30 days before expiry: renewal has been failing.',
    },
  });
  const down: AlertRule = {
    alert: alertName(config, ALERT.PublicEndpointDown),
    expr: `${series('probe_success', config.selectors.blackbox)} == 0`,
    for: t.publicEndpointDownFor,
    labels: { severity: 'critical', service: 'edge' },
    annotations: {
      summary: 'The public HTTPS endpoint fails from the outside: researchers cannot reach it.',
      description:
        `The blackbox probe of {{ $labels.instance }} has failed for ${t.publicEndpointDownFor}: ` +
        'DNS, the firewall, the TLS certificate, Caddy or the service behind it.',
    },
  };
  return {
    name: 'edge',
    dashboard: 'host',
    groups: [
      {
        name: 'bpe-edge',
        rules: [down, expiring('warning', t.certificateWarningDays), expiring('critical', t.certificateCriticalDays)],
      },
    ],
  };
}
