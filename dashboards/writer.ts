// The writer and the Parquet store: batches, throughput, freshness, store size,
// compaction, runtime.

import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { buildDashboard, envVariable, instanceVariable, statPanel, steps, timeseriesPanel, upDownMappings, type MixinConfig } from './lib.ts';
import { queries } from './queries.ts';
import { runtimeRow } from './runtime.ts';
import { ALERT } from '../alerts/names.ts';

export function writerDashboard(config: MixinConfig): Dashboard {
  const q = queries(config).writer;
  const t = config.thresholds;
  return buildDashboard(config, {
    ref: config.dashboards.writer,
    description: 'Redis stream -> Parquet: batches, freshness, the store.',
    tags: ['writer', 'storage'],
    variables: [envVariable(config), instanceVariable(config, [config.jobs.writer])],
    runbooks: [ALERT.WriterDown, ALERT.WriterBatchesFailing, ALERT.DataStale, ALERT.DeadLettersIncreasing],
    rows: [
      {
        title: 'Status',
        height: 5,
        panels: [
          [statPanel(config, { title: 'Writer up', description: 'Whether Prometheus can scrape each writer.', unit: 'none', thresholds: steps('red', [1, 'green']), mappings: upDownMappings(), targets: [{ expr: q.up, legend: '{{instance}}' }], runbooks: [ALERT.WriterDown] }), 6],
          [statPanel(config, { title: 'Lease holders', description: 'Writers holding the lease: exactly one should (the others are hot standbys).', unit: 'none', thresholds: steps('red', [1, 'green'], [2, 'red']), targets: [{ expr: q.leaders }] }), 6],
          [statPanel(config, { title: 'Since the last batch', description: 'Time since the last batch was committed.', unit: 's', thresholds: steps('green', [120, 'orange'], [t.dataStaleSeconds, 'red']), targets: [{ expr: q.sinceLastBatch }] }), 6],
          [statPanel(config, { title: 'Data freshness', description: `Age of the newest event in Parquet. Red past ${t.dataStaleSeconds}s.`, unit: 's', thresholds: steps('green', [t.dataStaleSeconds / 3, 'orange'], [t.dataStaleSeconds, 'red']), targets: [{ expr: q.freshness }], runbooks: [ALERT.DataStale] }), 6],
        ],
      },
      {
        title: 'Batches',
        height: 8,
        panels: [
          [timeseriesPanel(config, { title: 'Events written by table', description: 'Events written to Parquet per second, by table.', unit: 'ops', thresholds: steps('green'), stack: true, targets: [{ expr: q.writtenByTable, legend: '{{table}}' }] }), 8],
          [timeseriesPanel(config, { title: 'Batches by outcome', description: 'Batches per second: ok (written and acknowledged) or failed (retried).', unit: 'ops', thresholds: steps('green'), targets: [{ expr: q.batchesByOutcome, legend: '{{outcome}}' }], runbooks: [ALERT.WriterBatchesFailing] }), 8],
          [timeseriesPanel(config, {
            title: 'Batch duration',
            description: 'Time to turn one batch into Parquet and acknowledge it: median, 95th and 99th percentiles.',
            unit: 's',
            thresholds: steps('green', [10, 'orange'], [30, 'red']),
            targets: [
              { expr: q.batchDuration.p50, legend: 'p50' },
              { expr: q.batchDuration.p95, legend: 'p95' },
              { expr: q.batchDuration.p99, legend: 'p99' },
            ],
          }), 8],
        ],
      },
      {
        title: 'Throughput',
        height: 6,
        panels: [
          [timeseriesPanel(config, { title: 'Rows written', description: 'Rows written to Parquet batch files per second.', unit: 'ops', thresholds: steps('green'), targets: [{ expr: q.rows, legend: 'rows' }] }), 12],
          [timeseriesPanel(config, { title: 'Bytes written', description: 'Bytes of Parquet batch files written per second.', unit: 'Bps', thresholds: steps('green'), targets: [{ expr: q.bytes, legend: 'bytes' }] }), 12],
        ],
      },
      {
        title: 'Store',
        height: 7,
        panels: [
          [timeseriesPanel(config, { title: 'Store size by table', description: 'Bytes of Parquet on disk, by table.', unit: 'bytes', thresholds: steps('green'), stack: true, targets: [{ expr: q.storeBytes, legend: '{{table}}' }] }), 8],
          [timeseriesPanel(config, { title: 'Files by table', description: 'Parquet files on disk, by table (batch files until their hour is compacted into one).', unit: 'short', thresholds: steps('green'), targets: [{ expr: q.storeFiles, legend: '{{table}}' }] }), 8],
          [timeseriesPanel(config, {
            title: 'Compactions and dead letters (1 h)',
            description: 'Hour partitions compacted in the last hour, by outcome, and stream entries the writer refused (dead-lettered).',
            unit: 'short',
            thresholds: steps('green', [1, 'red']),
            targets: [
              { expr: q.compactions, legend: 'compactions {{outcome}}' },
              { expr: q.deadLettered, legend: 'dead-lettered' },
            ],
            runbooks: [ALERT.DeadLettersIncreasing],
          }), 8],
        ],
      },
      runtimeRow(config, q.runtime),
    ],
  });
}
