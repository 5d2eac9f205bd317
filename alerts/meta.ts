// Monitoring of the monitoring: any scrape target down. The per-service "down"
// alerts (ingester, writer, API) inhibit this one for their own job.

import type { MixinConfig } from '../mixin/config.ts';
import { promql } from '../mixin/promql.ts';
import type { Component } from '../mixin/rules/types.ts';
import { ALERT, alertName } from './names.ts';

export function metaAlerts(config: MixinConfig): Component {
  return {
    name: 'meta',
    dashboard: 'overview',
    groups: [
      {
        name: 'bpe-meta',
        rules: [
          {
            alert: alertName(config, ALERT.TargetDown),
            expr: promql`
              up == 0`,
            for: config.targetDownFor,
            labels: { severity: 'warning', service: '{{ $labels.job }}' },
            annotations: {
              summary: 'A Prometheus scrape target is down.',
              description: `Prometheus has failed to scrape {{ $labels.instance }} (job {{ $labels.job }}) for ${config.targetDownFor}: its metrics, and the alerts that read them, are blind.`,
            },
          },
        ],
      },
    ],
  };
}
