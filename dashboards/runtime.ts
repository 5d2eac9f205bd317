// The Node.js runtime row shared by the service dashboards.

import type { Row } from './lib.ts';
import { steps, timeseriesPanel, type MixinConfig } from './lib.ts';

export function runtimeRow(config: MixinConfig, q: { eventLoopDelay: string; eventLoopUtilization: string; heap: string; gc: string }): Row {
  return {
    title: 'Node.js runtime',
    height: 7,
    panels: [
      [timeseriesPanel(config, { title: 'Event-loop delay p99', description: 'The 99th percentile of event-loop delay: how long ready work waits.', unit: 's', thresholds: steps('green', [0.1, 'orange'], [0.5, 'red']), showThresholds: true, targets: [{ expr: q.eventLoopDelay, legend: '{{instance}}' }] }), 6],
      [timeseriesPanel(config, { title: 'Event-loop utilization', description: 'Share of time the event loop was busy.', unit: 'percentunit', max: 1, min: 0, thresholds: steps('green', [0.7, 'orange'], [0.9, 'red']), showThresholds: true, targets: [{ expr: q.eventLoopUtilization, legend: '{{instance}}' }] }), 6],
      [timeseriesPanel(config, { title: 'V8 heap used', description: 'V8 heap in use, all spaces.', unit: 'bytes', thresholds: steps('green'), targets: [{ expr: q.heap, legend: '{{instance}}' }] }), 6],
      [timeseriesPanel(config, { title: 'GC time', description: 'Seconds spent in garbage collection per second.', unit: 'percentunit', thresholds: steps('green', [0.05, 'orange'], [0.2, 'red']), targets: [{ expr: q.gc, legend: '{{instance}}' }] }), 6],
    ],
  };
}
