// Host alerts: the disk filling up (node-exporter, node-mixin's forecast) and the
// daily backup (deploy/backup/backup.sh writes its success time to node-exporter's
// textfile collector).

import type { MixinConfig } from '../mixin/config.ts';
import { promql, series } from '../mixin/promql.ts';
import type { AlertRule, Component } from '../mixin/rules/types.ts';
import { ALERT, alertName } from './names.ts';

export function hostAlerts(config: MixinConfig): Component {
  const node = config.selectors.node;
  const fs = config.selectors.filesystem;
  const t = config.thresholds;
  const disk = (severity: 'warning' | 'critical', freeRatio: number, hours: number): AlertRule => ({
    alert: alertName(config, ALERT.DiskFillingUp),
    expr: promql`
      (
        ${series('node_filesystem_avail_bytes', node, fs)} / ${series('node_filesystem_size_bytes', node, fs)} < ${freeRatio}
      and
        predict_linear(${series('node_filesystem_avail_bytes', node, fs)}[6h], ${hours} * 3600) < 0
      and
        ${series('node_filesystem_readonly', node, fs)} == 0
      )`,
    for: t.diskFillingFor,
    labels: { severity, service: 'host' },
    annotations: {
      summary: `A filesystem is predicted to fill up within ${hours} hours.`,
      description:
        'Filesystem {{ $labels.mountpoint }} ({{ $labels.device }}) on {{ $labels.instance }} has ' +
        `{{ $value | humanizePercentage }} space left and, at the rate of the last 6 hours, fills up within ${hours} hours.`,
    },
  });
  const backup = series(config.externalMetrics.backupLastSuccess, node);
  return {
    name: 'host',
    dashboard: 'host',
    groups: [
      {
        name: 'bpe-host',
        rules: [
          disk('warning', t.diskFreeWarningRatio, t.diskForecastWarningHours),
          disk('critical', t.diskFreeCriticalRatio, t.diskForecastCriticalHours),
          {
            alert: alertName(config, ALERT.BackupMissing),
            expr: promql`
              time() - max by (job) (${backup}) > ${t.backupMaxAgeHours} * 3600`,
            for: t.backupMissingFor,
            labels: { severity: 'warning', service: 'backup', problem: 'too-old' },
            annotations: {
              summary: 'No successful backup for more than a day.',
              description:
                'The last successful backup finished {{ $value | humanizeDuration }} ago ' +
                `(threshold ${t.backupMaxAgeHours} hours). Until one succeeds, a lost host loses data.`,
            },
          },
          {
            alert: alertName(config, ALERT.BackupMissing),
            expr: promql`
              absent(${backup})`,
            for: t.backupMissingFor,
            labels: { severity: 'warning', service: 'backup', problem: 'never-recorded' },
            annotations: {
              summary: 'No successful backup has ever been recorded.',
              description:
                `node-exporter ({{ $labels.job }}) has no ${config.externalMetrics.backupLastSuccess} for ${t.backupMissingFor}: ` +
                'the backup never succeeded on this host, or its textfile directory is not mounted.',
            },
          },
        ],
      },
    ],
  };
}
