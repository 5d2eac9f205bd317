// The host (node-exporter): CPU, memory, disks with their forecast, network; the
// backup's age; the public endpoint's certificate (blackbox exporter).

import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { buildDashboard, envVariable, instanceVariable, statPanel, steps, timeseriesPanel, upDownMappings, type MixinConfig } from './lib.ts';
import { queries } from './queries.ts';
import { ALERT } from '../alerts/names.ts';

export function hostDashboard(config: MixinConfig): Dashboard {
  const q = queries(config).host;
  const t = config.thresholds;
  return buildDashboard(config, {
    ref: config.dashboards.host,
    description: 'The machine (node-exporter), its backup and its public certificate.',
    tags: ['host'],
    variables: [envVariable(config), instanceVariable(config, [config.jobs.node, config.jobs.blackbox])],
    runbooks: [ALERT.DiskFillingUp, ALERT.BackupMissing, ALERT.TlsCertificateExpiring],
    rows: [
      {
        title: 'Compute',
        height: 7,
        panels: [
          [timeseriesPanel(config, { title: 'CPU busy', description: 'Share of CPU time not idle, all cores.', unit: 'percentunit', min: 0, max: 1, thresholds: steps('green', [0.8, 'orange'], [0.95, 'red']), showThresholds: true, targets: [{ expr: q.cpu, legend: '{{instance}}' }] }), 8],
          [timeseriesPanel(config, { title: 'Load (1 min)', description: 'One-minute load average.', unit: 'short', thresholds: steps('green'), targets: [{ expr: q.load, legend: '{{instance}}' }] }), 8],
          [timeseriesPanel(config, { title: 'Memory used', description: 'Share of memory not available to new processes.', unit: 'percentunit', min: 0, max: 1, thresholds: steps('green', [0.85, 'orange'], [0.95, 'red']), showThresholds: true, targets: [{ expr: q.memory, legend: '{{instance}}' }] }), 8],
        ],
      },
      {
        title: 'Disks',
        height: 8,
        panels: [
          [timeseriesPanel(config, { title: 'Disk used', description: 'Share of each real filesystem in use.', unit: 'percentunit', min: 0, max: 1, thresholds: steps('green', [1 - t.diskFreeWarningRatio, 'orange'], [1 - t.diskFreeCriticalRatio, 'red']), showThresholds: true, targets: [{ expr: q.diskUsed, legend: '{{mountpoint}}' }], runbooks: [ALERT.DiskFillingUp] }), 8],
          [timeseriesPanel(config, { title: `Free space forecast (${t.diskForecastWarningHours} h ahead)`, description: `Free bytes each filesystem will have in ${t.diskForecastWarningHours} hours at the trend of the last 6 hours; below zero it fills up.`, unit: 'bytes', thresholds: steps('red', [0, 'green']), showThresholds: true, targets: [{ expr: q.diskForecast, legend: '{{mountpoint}}' }], runbooks: [ALERT.DiskFillingUp] }), 8],
          [timeseriesPanel(config, {
            title: 'Disk I/O',
            description: 'Bytes read and written per second, all disks.',
            unit: 'Bps',
            thresholds: steps('green'),
            targets: [
              { expr: q.diskIo.read, legend: 'read {{instance}}' },
              { expr: q.diskIo.written, legend: 'written {{instance}}' },
            ],
          }), 8],
        ],
      },
      {
        title: 'Network, backup, certificate',
        height: 6,
        panels: [
          [timeseriesPanel(config, {
            title: 'Network',
            description: 'Bytes received and sent per second, all interfaces but loopback.',
            unit: 'Bps',
            thresholds: steps('green'),
            targets: [
              { expr: q.network.received, legend: 'received {{instance}}' },
              { expr: q.network.transmitted, legend: 'sent {{instance}}' },
            ],
          }), 12],
          [statPanel(config, { title: 'Last backup', description: `Time since the last successful backup (deploy/backup/backup.sh). Missing past ${t.backupMaxAgeHours} hours.`, unit: 's', thresholds: steps('green', [t.backupMaxAgeHours * 3600, 'red']), targets: [{ expr: q.backupAge }], runbooks: [ALERT.BackupMissing] }), 4],
          [statPanel(config, { title: 'Certificate expires in', description: `Days until the public certificate expires. Caddy renews at 30; warning under ${t.certificateWarningDays}, critical under ${t.certificateCriticalDays}.`, unit: 'd', thresholds: steps('red', [t.certificateCriticalDays, 'orange'], [t.certificateWarningDays, 'green']), targets: [{ expr: q.certificateDays, legend: '{{instance}}' }], runbooks: [ALERT.TlsCertificateExpiring] }), 4],
          [statPanel(config, { title: 'Public probe', description: 'Whether the blackbox exporter reaches the public HTTPS endpoint.', unit: 'none', thresholds: steps('red', [1, 'green']), mappings: upDownMappings('ok', 'failing'), targets: [{ expr: q.probeSuccess, legend: '{{instance}}' }] }), 4],
        ],
      },
    ],
  });
}
