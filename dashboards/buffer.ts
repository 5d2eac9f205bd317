// The buffer: the Redis stream between ingester and writer (sampled by the
// writer) and Redis itself (redis_exporter).

import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { buildDashboard, envVariable, instanceVariable, statPanel, steps, timeseriesPanel, upDownMappings, type MixinConfig } from './lib.ts';
import { queries } from './queries.ts';
import { ALERT } from '../alerts/names.ts';

export function bufferDashboard(config: MixinConfig): Dashboard {
  const q = queries(config).buffer;
  const t = config.thresholds;
  return buildDashboard(config, {
    ref: config.dashboards.buffer,
    description: 'The Redis stream between ingester and writer, and Redis itself.',
    tags: ['buffer', 'redis'],
    variables: [envVariable(config), instanceVariable(config, [config.jobs.writer, config.jobs.redis, config.jobs.ingester])],
    runbooks: [ALERT.BufferBacklogGrowing, ALERT.RedisMemoryNearLimit, ALERT.RedisDown],
    rows: [
      {
        title: 'Stream',
        height: 8,
        panels: [
          [statPanel(config, { title: 'Backlog', description: `Entries no writer has read yet. Alert when over ${t.backlogEntries} and growing.`, unit: 'short', thresholds: steps('green', [t.backlogEntries / 10, 'orange'], [t.backlogEntries, 'red']), targets: [{ expr: q.undelivered, legend: 'undelivered' }], runbooks: [ALERT.BufferBacklogGrowing] }), 6],
          [timeseriesPanel(config, {
            title: 'Stream entries',
            description: 'XLEN of the stream, entries not yet delivered to a writer, and entries delivered but not acknowledged.',
            unit: 'short',
            thresholds: steps('green', [t.backlogEntries, 'red']),
            showThresholds: true,
            targets: [
              { expr: q.lengths.length, legend: 'length' },
              { expr: q.lengths.undelivered, legend: 'undelivered' },
              { expr: q.lengths.pending, legend: 'pending' },
            ],
          }), 12],
          [timeseriesPanel(config, { title: 'Oldest unacknowledged entry', description: 'Age of the oldest entry delivered and not acknowledged (0 when none): a stuck batch grows it.', unit: 's', thresholds: steps('green', [60, 'orange'], [300, 'red']), targets: [{ expr: q.oldestPendingAge, legend: 'age' }] }), 6],
        ],
      },
      {
        title: 'Flow',
        height: 7,
        panels: [
          [timeseriesPanel(config, {
            title: 'In and out',
            description: 'Events appended by the ingester and events written by the writer, per second: out below in means a growing backlog.',
            unit: 'ops',
            thresholds: steps('green'),
            targets: [
              { expr: q.inOut.in, legend: 'in (ingester)' },
              { expr: q.inOut.out, legend: 'out (writer)' },
            ],
          }), 16],
          [statPanel(config, { title: 'Ingester paused', description: '1 while the ingester stops reading Jetstream because the backlog reached BACKLOG_HIGH_WATER.', unit: 'none', thresholds: steps('green', [1, 'orange']), mappings: upDownMappings('paused', 'reading'), targets: [{ expr: q.paused }] }), 8],
        ],
      },
      {
        title: 'Redis',
        height: 7,
        panels: [
          [statPanel(config, { title: 'Redis up', description: 'Whether redis_exporter reaches Redis.', unit: 'none', thresholds: steps('red', [1, 'green']), mappings: upDownMappings(), targets: [{ expr: q.redisUp }], runbooks: [ALERT.RedisDown] }), 4],
          [statPanel(config, { title: 'Memory used / maxmemory', description: `Share of maxmemory in use. The policy is noeviction: at 100% every append fails. Warning at ${t.redisMemoryWarningRatio * 100}%, critical at ${t.redisMemoryCriticalRatio * 100}%.`, unit: 'percentunit', thresholds: steps('green', [t.redisMemoryWarningRatio, 'orange'], [t.redisMemoryCriticalRatio, 'red']), targets: [{ expr: q.memoryRatio }], runbooks: [ALERT.RedisMemoryNearLimit] }), 5],
          [timeseriesPanel(config, {
            title: 'Memory',
            description: 'Memory Redis uses, against its maxmemory.',
            unit: 'bytes',
            thresholds: steps('green'),
            targets: [
              { expr: q.memory.used, legend: 'used' },
              { expr: q.memory.max, legend: 'maxmemory' },
            ],
          }), 7],
          [timeseriesPanel(config, { title: 'Commands', description: 'Commands Redis processes per second.', unit: 'ops', thresholds: steps('green'), targets: [{ expr: q.commands, legend: 'commands' }] }), 4],
          [timeseriesPanel(config, { title: 'Clients', description: 'Connected clients (ingester, writers, API, exporter).', unit: 'short', thresholds: steps('green'), targets: [{ expr: q.clients, legend: 'clients' }] }), 4],
        ],
      },
    ],
  });
}
