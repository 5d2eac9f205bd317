// promtool unit tests of alerts/dist/buffer.yml.

import { metric } from '../../mixin/promql.ts';
import { AlertTests, s, type UnitTests } from './dsl.ts';

export function bufferTests(t = new AlertTests()): UnitTests {
  const env = t.externalLabels;
  const writer = { job: t.config.jobs.writer, instance: 'writer:9465', ...env };
  const redis = { job: t.config.jobs.redis, instance: 'redis-exporter:9121', ...env };
  const at = (labels: Record<string, string>) => ({ job: labels.job!, instance: labels.instance! });
  return {
    name: 'buffer',
    components: ['buffer'],
    groups: [
      t.group('backlog growing: fires when over the threshold and still growing', '1m', [
        { series: s(metric('bufferUndelivered'), writer), values: '0+10000x40' },
      ], [
        t.quiet('BufferBacklogGrowing', '11m'),
        t.boundary('BufferBacklogGrowing', '11m', '1m', { labels: at(writer), value: '260k' }),
      ]),
      t.group('backlog growing: quiet when large but draining or flat', '1m', [
        { series: s(metric('bufferUndelivered'), writer), values: '200000x20 200000-5000x20' },
      ], [t.quiet('BufferBacklogGrowing', '40m')]),
      t.group('redis memory: warning over 80%', '1m', [
        { series: s('redis_memory_used_bytes', redis), values: '850x10' },
        { series: s('redis_memory_max_bytes', redis), values: '1000x10' },
      ], [t.boundary('RedisMemoryNearLimit', '0m', '1m', { severity: 'warning', labels: at(redis), value: '85%' })]),
      t.group('redis memory: warning and critical over 90%', '1m', [
        { series: s('redis_memory_used_bytes', redis), values: '950x10' },
        { series: s('redis_memory_max_bytes', redis), values: '1000x10' },
      ], [
        t.quiet('RedisMemoryNearLimit', '4m'),
        t.fires('RedisMemoryNearLimit', '5m', { severity: 'warning', labels: at(redis), value: '95%' }, { severity: 'critical', labels: at(redis), value: '95%' }),
      ]),
      t.group('redis memory: quiet under 80%, and with no maxmemory set', '1m', [
        { series: s('redis_memory_used_bytes', redis), values: '500x10' },
        { series: s('redis_memory_max_bytes', redis), values: '1000x10' },
        { series: s('redis_memory_used_bytes', { ...redis, instance: 'other:9121' }), values: '500x10' },
        { series: s('redis_memory_max_bytes', { ...redis, instance: 'other:9121' }), values: '0x10' },
      ], [t.quiet('RedisMemoryNearLimit', '10m')]),
      t.group('redis down: fires after a minute', '1m', [{ series: s('redis_up', redis), values: '1 0x10' }], [
        t.boundary('RedisDown', '1m', '1m', { labels: at(redis), value: '0' }),
      ]),
      t.group('redis down: quiet while Redis answers', '1m', [{ series: s('redis_up', redis), values: '1x10' }], [t.quiet('RedisDown', '10m')]),
    ],
  };
}
