// promtool unit tests of alerts/dist/security.yml.

import { metric } from '../../mixin/promql.ts';
import { AlertTests, s, type UnitTests } from './dsl.ts';

export function securityTests(t = new AlertTests()): UnitTests {
  const env = t.externalLabels;
  const api = { job: t.config.jobs.api, instance: 'api:9466', ...env };
  const failures = s(metric('apiAuthFailures'), { ...api, reason: 'unknown' });
  const exported = s(metric('apiExportBytes'), { ...api, format: 'ndjson' });
  return {
    name: 'security',
    components: ['security'],
    groups: [
      // A quiet day, then 2 failures/s.
      t.group('auth failures: a spike over the floor and the daily baseline fires', '1m', [
        { series: failures, values: '0x1440 120+120x30' },
      ], [t.boundary('AuthFailureSpike', '1443m', '1m', { labels: { job: api.job }, value: '2' })]),
      t.group('auth failures: quiet at a steady level, however high', '1m', [{ series: failures, values: '0+120x1500' }], [
        t.quiet('AuthFailureSpike', '1500m'),
      ]),
      t.group('auth failures: quiet under the floor', '1m', [{ series: failures, values: '0x1440 0+30x30' }], [t.quiet('AuthFailureSpike', '1470m')]),
      // Two hours of 12 MB/h, then 200 MB a minute (12 GB/h).
      t.group('exports: a burst over the floor and the weekly baseline fires', '1m', [
        { series: exported, values: '0+200000x120 24200000+200000000x120' },
      ], [
        t.quiet('UnusualExportVolume', '120m'),
        t.boundary('UnusualExportVolume', '132m', '1m', { labels: { job: api.job }, value: '2.988Gi' }),
        t.fires('UnusualExportVolume', '200m', { labels: { job: api.job }, value: '11.18Gi' }),
      ]),
      t.group('exports: quiet under the floor', '5m', [{ series: exported, values: '0+100000000x60' }], [t.quiet('UnusualExportVolume', '300m')]),
    ],
  };
}
