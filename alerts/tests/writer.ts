// promtool unit tests of alerts/dist/writer.yml.

import { metric } from '../../mixin/promql.ts';
import { AlertTests, s, type UnitTests } from './dsl.ts';

export function writerTests(t = new AlertTests()): UnitTests {
  const env = t.externalLabels;
  const target = { job: t.config.jobs.writer, instance: 'writer:9465', ...env };
  const alertLabels = { job: target.job, instance: target.instance };
  return {
    name: 'writer',
    components: ['writer'],
    groups: [
      t.group('batches failing: fires after 10 minutes of failures', '1m', [
        { series: s(metric('writerBatches'), { ...target, outcome: 'failed' }), values: '0+1x30' },
        { series: s(metric('writerBatches'), { ...target, outcome: 'ok' }), values: '0+5x30' },
      ], [t.boundary('WriterBatchesFailing', '1m', '1m', { labels: alertLabels, value: '16.67m' })]),
      t.group('batches failing: quiet when none fails', '1m', [
        { series: s(metric('writerBatches'), { ...target, outcome: 'failed' }), values: '0x30' },
        { series: s(metric('writerBatches'), { ...target, outcome: 'ok' }), values: '0+5x30' },
      ], [t.quiet('WriterBatchesFailing', '30m')]),
      // time() is the evaluation time: a timestamp of 60 * minute is perfectly fresh.
      t.group('data stale: fires when the newest event written stops moving', '1m', [
        { series: s(metric('writerNewestEvent'), target), values: '0+60x10 600x30' },
      ], [t.boundary('DataStale', '26m', '1m', { labels: { job: target.job }, value: '21m 0s' })]),
      t.group('data stale: still fires once the writer stops exporting (down)', '1m', [
        { series: s(metric('writerNewestEvent'), target), values: '0+60x10 _x30' },
      ], [t.boundary('DataStale', '26m', '1m', { labels: { job: target.job }, value: '21m 0s' })]),
      t.group('data stale: quiet while fresh, and before the first batch', '1m', [
        { series: s(metric('writerNewestEvent'), target), values: '0+60x40' },
        { series: s(metric('writerNewestEvent'), { ...target, instance: 'standby:9465' }), values: '0x40' },
      ], [t.quiet('DataStale', '40m')]),
      t.group('dead letters: any entry the writer refuses fires after `for`', '1m', [
        { series: s(metric('writerDeadLettered'), target), values: '0x5 1x30' },
      ], [t.boundary('DeadLettersIncreasing', '6m', '1m', { service: 'writer', labels: alertLabels, value: '1' })]),
      t.group('dead letters: quiet when the writer refuses nothing', '1m', [
        { series: s(metric('writerDeadLettered'), target), values: '0x40' },
      ], [t.quiet('DeadLettersIncreasing', '40m')]),
    ],
  };
}
