// Edge alerts: the public HTTPS endpoint probed by the blackbox exporter.

import type { MixinConfig } from '../telemetry/mixin-config.ts';
import { promql, series, type AlertRule, type Component } from './lib.ts';

export function edgeAlerts(config: MixinConfig): Component {
  const p = config.alertPrefix;
  const t = config.thresholds;
  const expiring = (severity: 'warning' | 'critical', days: number): AlertRule => ({
    alert: `${p}TlsCertificateExpiring`,
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
  return {
    name: 'edge',
    dashboard: 'host',
    groups: [
      {
        name: 'bpe-edge',
        rules: [expiring('warning', t.certificateWarningDays), expiring('critical', t.certificateCriticalDays)],
      },
    ],
  };
}
