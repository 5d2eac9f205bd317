// The ingester: Jetstream connection, what arrives and what is stored, lag,
// dead letters, backpressure, runtime.

import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { buildDashboard, envVariable, instanceVariable, statPanel, steps, timeseriesPanel, upDownMappings, type MixinConfig } from './lib.ts';
import { queries } from './queries.ts';
import { runtimeRow } from './runtime.ts';
import { ALERT } from '../alerts/names.ts';

export function ingesterDashboard(config: MixinConfig): Dashboard {
  const q = queries(config).ingester;
  const t = config.thresholds;
  return buildDashboard(config, {
    ref: config.dashboards.ingester,
    description: 'Jetstream -> Redis stream: connection, throughput, lag, dead letters.',
    tags: ['ingester'],
    variables: [envVariable(config), instanceVariable(config, [config.jobs.ingester])],
    runbooks: [ALERT.IngesterDown, ALERT.JetstreamDisconnected, ALERT.IngestionStalled, ALERT.CursorLagHigh, ALERT.DeadLettersIncreasing],
    rows: [
      {
        title: 'Status',
        height: 5,
        panels: [
          [statPanel(config, { title: 'Ingester up', description: 'Whether Prometheus can scrape the ingester.', unit: 'none', thresholds: steps('red', [1, 'green']), mappings: upDownMappings(), targets: [{ expr: q.up, legend: '{{instance}}' }], runbooks: [ALERT.IngesterDown] }), 6],
          [statPanel(config, { title: 'Jetstream connected', description: '1 while the Jetstream WebSocket is open.', unit: 'none', thresholds: steps('red', [1, 'green']), mappings: upDownMappings('connected', 'disconnected'), targets: [{ expr: q.connected }], runbooks: [ALERT.JetstreamDisconnected] }), 6],
          [statPanel(config, { title: 'Backpressure pause', description: '1 while the ingester stops reading because the stream backlog is over its high-water mark.', unit: 'none', thresholds: steps('green', [1, 'orange']), mappings: upDownMappings('paused', 'reading'), targets: [{ expr: q.paused }], runbooks: [ALERT.BufferBacklogGrowing] }), 6],
          [statPanel(config, { title: 'Since the last frame', description: 'Time since the last WebSocket frame from Jetstream (silence means a stale or closed socket).', unit: 's', thresholds: steps('green', [30, 'orange'], [120, 'red']), targets: [{ expr: q.sinceLastFrame }] }), 6],
        ],
      },
      {
        title: 'Throughput',
        height: 8,
        panels: [
          [timeseriesPanel(config, { title: 'Events received by kind', description: 'Events accepted by validation per second, by kind and operation.', unit: 'ops', thresholds: steps('green'), stack: true, targets: [{ expr: q.receivedByKind, legend: '{{kind}} {{operation}}' }] }), 12],
          [timeseriesPanel(config, {
            title: 'Stored, duplicates, dead letters',
            description: 'Per second: events appended to the stream, replayed events dropped as duplicates, frames refused and dead-lettered.',
            unit: 'ops',
            thresholds: steps('green'),
            targets: [
              { expr: q.stored, legend: 'stored' },
              { expr: q.duplicates, legend: 'duplicates' },
              { expr: q.deadLettered, legend: 'dead-lettered' },
            ],
            runbooks: [ALERT.IngestionStalled],
          }), 12],
        ],
      },
      {
        title: 'Lag and errors',
        height: 8,
        panels: [
          [timeseriesPanel(config, { title: 'Cursor lag', description: `Wall-clock time minus the newest stored event's time. Warning at ${t.cursorLagWarningSeconds}s, critical at ${t.cursorLagCriticalSeconds}s (Jetstream replays 24 h).`, unit: 's', thresholds: steps('green', [t.cursorLagWarningSeconds, 'orange'], [t.cursorLagCriticalSeconds, 'red']), showThresholds: true, targets: [{ expr: q.cursorLag, legend: '{{instance}}' }], runbooks: [ALERT.CursorLagHigh] }), 8],
          [timeseriesPanel(config, { title: 'Dead letters by reason', description: 'Frames refused by validation per second, by reason (sent to the dead-letter stream).', unit: 'ops', thresholds: steps('green'), targets: [{ expr: q.deadLetteredByReason, legend: '{{reason}}' }], runbooks: [ALERT.DeadLettersIncreasing] }), 8],
          [timeseriesPanel(config, {
            title: 'Reconnects and Redis errors',
            description: 'Reconnections to Jetstream and failed writes to Redis, per interval.',
            unit: 'short',
            thresholds: steps('green', [1, 'orange']),
            targets: [
              { expr: q.reconnects, legend: 'reconnects {{instance}}' },
              { expr: q.redisErrors, legend: 'redis errors {{instance}}' },
            ],
          }), 8],
        ],
      },
      {
        title: 'Network',
        height: 6,
        panels: [[timeseriesPanel(config, { title: 'Bytes received from Jetstream', description: 'WebSocket bytes received per second.', unit: 'Bps', thresholds: steps('green'), targets: [{ expr: q.bytesReceived, legend: '{{instance}}' }] }), 24]],
      },
      runtimeRow(config, q.runtime),
    ],
  });
}
