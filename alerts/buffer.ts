// Buffer alerts: the Redis stream between ingester and writer (sampled by the
// writer) and Redis itself (redis_exporter).

import type { MixinConfig } from '../mixin/config.ts';
import { metric, promql, series } from '../mixin/promql.ts';
import type { Component } from '../mixin/rules/types.ts';
import { ALERT, alertName } from './names.ts';

export function bufferAlerts(config: MixinConfig): Component {
  const writer = config.selectors.writer;
  const redis = config.selectors.redis;
  const t = config.thresholds;
  const service = 'redis';
  const memoryRatio = promql`
    max by (job, instance) (${series('redis_memory_used_bytes', redis)})
    /
    max by (job, instance) (${series('redis_memory_max_bytes', redis)} > 0)`;
  const memoryAlert = (severity: 'warning' | 'critical', ratio: number) => ({
    alert: alertName(config, ALERT.RedisMemoryNearLimit),
    expr: `${memoryRatio}\n> ${ratio}`,
    for: '5m',
    labels: { severity, service },
    annotations: {
      summary: 'Redis is close to its maxmemory: at the limit every append of the ingester fails.',
      description:
        'Redis {{ $labels.instance }} uses {{ $value | humanizePercentage }} of its maxmemory ' +
        `(threshold ${ratio * 100}%). The policy is noeviction: at the limit writes are refused, ingestion stops.`,
    },
  });
  return {
    name: 'buffer',
    dashboard: 'buffer',
    groups: [
      {
        name: 'bpe-buffer',
        rules: [
          {
            alert: alertName(config, ALERT.BufferBacklogGrowing),
            expr: promql`
              max by (job, instance) (${series(metric('bufferUndelivered'), writer)}) > ${t.backlogEntries}
              and
              max by (job, instance) (deriv(${series(metric('bufferUndelivered'), writer)}[10m])) > 0`,
            for: t.backlogGrowingFor,
            labels: { severity: 'warning', service },
            annotations: {
              summary: 'The Redis stream backlog keeps growing: the writer is not keeping up.',
              description:
                '{{ $value | humanize }} entries of the stream have not been read by any writer and the number has ' +
                `grown for ${t.backlogGrowingFor} (threshold ${t.backlogEntries}). At BACKLOG_HIGH_WATER the ingester pauses.`,
            },
          },
          memoryAlert('warning', t.redisMemoryWarningRatio),
          memoryAlert('critical', t.redisMemoryCriticalRatio),
          {
            alert: alertName(config, ALERT.RedisDown),
            expr: promql`
              max by (job, instance) (${series('redis_up', redis)}) == 0`,
            for: t.redisDownFor,
            labels: { severity: 'critical', service },
            annotations: {
              summary: 'Redis does not answer: the buffer is unavailable.',
              description:
                `redis_exporter {{ $labels.instance }} has reached no Redis for ${t.redisDownFor}: ` +
                'the ingester cannot append and the writer cannot read.',
            },
          },
        ],
      },
    ],
  };
}
