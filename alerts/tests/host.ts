// promtool unit tests of alerts/dist/host.yml.

import { AlertTests, s, type UnitTests } from './dsl.ts';

export function hostTests(t = new AlertTests()): UnitTests {
  const env = t.externalLabels;
  const node = { job: t.config.jobs.node, instance: 'node-exporter:9100', ...env };
  const fs = { ...node, device: '/dev/sdb', fstype: 'ext4', mountpoint: '/srv/bluesky-post-explorer-data' };
  const noName = { ...fs };
  const backup = t.config.externalMetrics.backupLastSuccess;
  return {
    name: 'host',
    components: ['host'],
    evaluationInterval: '1m',
    groups: [
      t.group('disk: 30% free and falling fires the 24-hour forecast (warning)', '1m', [
        { series: s('node_filesystem_avail_bytes', fs), values: '300-1x80' },
        { series: s('node_filesystem_size_bytes', fs), values: '1000x80' },
        { series: s('node_filesystem_readonly', fs), values: '0x80' },
      ], [t.boundary('DiskFillingUp', '1m', '1m', { severity: 'warning', labels: noName, value: '23.9%' })]),
      t.group('disk: 15% free and falling fires both forecasts', '1m', [
        { series: s('node_filesystem_avail_bytes', fs), values: '150-1x80' },
        { series: s('node_filesystem_size_bytes', fs), values: '1000x80' },
        { series: s('node_filesystem_readonly', fs), values: '0x80' },
      ], [
        t.quiet('DiskFillingUp', '60m'),
        t.fires('DiskFillingUp', '61m', { severity: 'warning', labels: noName, value: '8.9%' }, { severity: 'critical', labels: noName, value: '8.9%' }),
      ]),
      t.group('disk: quiet when nearly full but stable, or on tmpfs', '1m', [
        { series: s('node_filesystem_avail_bytes', fs), values: '100x80' },
        { series: s('node_filesystem_size_bytes', fs), values: '1000x80' },
        { series: s('node_filesystem_readonly', fs), values: '0x80' },
        { series: s('node_filesystem_avail_bytes', { ...fs, fstype: 'tmpfs', mountpoint: '/run' }), values: '300-1x80' },
        { series: s('node_filesystem_size_bytes', { ...fs, fstype: 'tmpfs', mountpoint: '/run' }), values: '1000x80' },
        { series: s('node_filesystem_readonly', { ...fs, fstype: 'tmpfs', mountpoint: '/run' }), values: '0x80' },
      ], [t.quiet('DiskFillingUp', '80m')]),
      // The backup last succeeded at time 0; 26 hours later it is missing.
      t.group('backup: fires when the last success is over 26 hours old', '1m', [
        { series: s(backup, node), values: '0x1700' },
      ], [t.boundary('BackupMissing', '1561m', '1m', { match: { problem: 'too-old' }, labels: { job: node.job }, value: '1d 3h 1m 0s' })]),
      t.group('backup: fires when none was ever recorded', '1m', [{ series: s('up', node), values: '1x80' }], [
        t.boundary('BackupMissing', '0m', '1m', { match: { problem: 'never-recorded' }, labels: { job: node.job }, value: '1' }),
      ]),
      t.group('backup: quiet with a success every day', '1h', [
        { series: s(backup, node), values: '0x23 86400x23 172800x23' },
      ], [t.quiet('BackupMissing', '71h')]),
    ],
  };
}
