// promtool unit tests of alerts/dist/ingester.yml.

import { metric } from '../../mixin/promql.ts';
import { AlertTests, s, type UnitTests } from './dsl.ts';

export function ingesterTests(t = new AlertTests()): UnitTests {
  const env = t.externalLabels;
  const target = { job: t.config.jobs.ingester, instance: 'ingester:9464', ...env };
  const alertLabels = { job: target.job, instance: target.instance };
  return {
    name: 'ingester',
    components: ['ingester'],
    groups: [
      t.group('jetstream disconnected: fires unless deliberately paused', '1m', [
        { series: s(metric('ingesterConnected'), target), values: '1 1 0x15' },
        { series: s(metric('ingesterPaused'), target), values: '0x17' },
      ], [t.boundary('JetstreamDisconnected', '2m', '1m', { labels: alertLabels, value: '0' })]),
      t.group('jetstream disconnected: quiet while paused by backpressure', '1m', [
        { series: s(metric('ingesterConnected'), target), values: '0x15' },
        { series: s(metric('ingesterPaused'), target), values: '1x15' },
      ], [t.quiet('JetstreamDisconnected', '15m')]),
      t.group('ingestion stalled: fires after 10 minutes without a stored event', '1m', [
        { series: s(metric('ingesterEventsStored'), target), values: '0+100x10 1000x30' },
      ], [
        t.quiet('IngestionStalled', '10m'),
        t.boundary('IngestionStalled', '15m', '1m', { labels: alertLabels, value: '0' }),
      ]),
      t.group('ingestion stalled: quiet while events are stored', '1m', [
        { series: s(metric('ingesterEventsStored'), target), values: '0+100x40' },
      ], [t.quiet('IngestionStalled', '40m')]),
      t.group('cursor lag: warning over 5 minutes', '1m', [
        { series: s(metric('ingesterCursorLag'), target), values: '10 10 400x30' },
      ], [
        t.boundary('CursorLagHigh', '2m', '1m', { severity: 'warning', labels: alertLabels, value: '6m 40s' }),
      ]),
      t.group('cursor lag: warning and critical over 6 hours', '1m', [
        { series: s(metric('ingesterCursorLag'), target), values: '30000x20' },
      ], [
        t.quiet('CursorLagHigh', '9m'),
        t.fires('CursorLagHigh', '10m', { severity: 'warning', labels: alertLabels, value: '8h 20m 0s' }, { severity: 'critical', labels: alertLabels, value: '8h 20m 0s' }),
      ]),
      t.group('cursor lag: quiet when ingestion keeps up', '1m', [
        { series: s(metric('ingesterCursorLag'), target), values: '2x30' },
      ], [t.quiet('CursorLagHigh', '30m')]),
      t.group('dead letters: fires when over 1% of frames are refused', '1m', [
        { series: s(metric('ingesterEventsReceived'), { ...target, kind: 'commit', collection: 'app.bsky.feed.post', operation: 'create' }), values: '0+1000x40' },
        { series: s(metric('ingesterDeadLettered'), { ...target, reason: 'malformed_json' }), values: '0+20x40' },
      ], [t.boundary('DeadLettersIncreasing', '1m', '1m', { service: 'ingester', labels: alertLabels, value: '1.961%' })]),
      t.group('dead letters: quiet under 1%', '1m', [
        { series: s(metric('ingesterEventsReceived'), { ...target, kind: 'commit', collection: 'app.bsky.feed.post', operation: 'create' }), values: '0+1000x40' },
        { series: s(metric('ingesterDeadLettered'), { ...target, reason: 'malformed_json' }), values: '0+5x40' },
      ], [t.quiet('DeadLettersIncreasing', '40m')]),
    ],
  };
}
