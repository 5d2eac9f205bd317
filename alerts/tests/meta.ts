// promtool unit tests of alerts/dist/meta.yml.

import { AlertTests, s, type UnitTests } from './dsl.ts';

export function metaTests(t = new AlertTests()): UnitTests {
  const env = t.externalLabels;
  const grafana = { job: 'grafana', instance: 'grafana:3000', ...env };
  return {
    name: 'meta',
    components: ['meta'],
    groups: [
      t.group('target down: any job, after `for`', '1m', [
        { series: s('up', grafana), values: '0x20' },
        { series: s('up', { ...grafana, job: 'loki', instance: 'loki:3100' }), values: '1x20' },
      ], [t.boundary('TargetDown', '0m', '1m', { labels: grafana, value: '0' })]),
      t.group('target down: quiet while every target answers', '1m', [{ series: s('up', grafana), values: '1x20' }], [t.quiet('TargetDown', '20m')]),
    ],
  };
}
