// Writer alerts: Redis stream -> Parquet. Data freshness is the symptom users
// see; the writer being down or failing batches are its causes.

import type { MixinConfig } from '../mixin/config.ts';
import { duration, metric, promql, series } from '../mixin/promql.ts';
import { serviceDownAlert } from './lib.ts';
import type { Component } from '../mixin/rules/types.ts';
import { ALERT, alertName } from './names.ts';

export function writerAlerts(config: MixinConfig): Component {
  const sel = config.selectors.writer;
  const t = config.thresholds;
  const service = 'writer';
  return {
    name: 'writer',
    dashboard: 'writer',
    groups: [
      {
        name: 'bpe-writer',
        rules: [
          serviceDownAlert(config, 'writer', { name: ALERT.WriterDown, label: 'writer', summary: 'The writer is down: nothing is written to Parquet.', consequence: 'Events wait in the Redis stream; the ingester pauses at BACKLOG_HIGH_WATER.' }),
          {
            alert: alertName(config, ALERT.WriterBatchesFailing),
            expr: promql`
              sum by (job, instance) (rate(${series(metric('writerBatches'), sel, 'outcome="failed"')}[10m])) > 0`,
            for: t.writerBatchesFailingFor,
            labels: { severity: 'warning', service },
            annotations: {
              summary: 'Writer batches keep failing.',
              description:
                `The writer {{ $labels.instance }} has failed batches for ${t.writerBatchesFailingFor} ` +
                '({{ $value | humanize }} failures/s); each is retried, but nothing new is committed while they fail.',
            },
          },
          {
            alert: alertName(config, ALERT.DataStale),
            // max_over_time keeps the last value once the writer stops exporting it (down, or hung).
            expr: promql`
              time() - max by (job) (max_over_time(${series(metric('writerNewestEvent'), sel)}[${t.dataStaleLookback}]) > 0)
              > ${t.dataStaleSeconds}`,
            for: t.dataStaleFor,
            labels: { severity: 'critical', service },
            annotations: {
              summary: 'The newest data in Parquet is stale.',
              description:
                'The newest event written to Parquet is {{ $value | humanizeDuration }} old ' +
                `(threshold ${duration(t.dataStaleSeconds)}): searches and exports miss recent posts.`,
            },
          },
          {
            alert: alertName(config, ALERT.DeadLettersIncreasing),
            expr: promql`
              sum by (job, instance) (increase(${series(metric('writerDeadLettered'), sel)}[1h])) > 0`,
            for: t.deadLettersFor,
            labels: { severity: 'warning', service },
            annotations: {
              summary: 'The writer dead-letters stream entries.',
              description:
                'The writer {{ $labels.instance }} refused {{ $value | humanize }} stream entries in the last hour and ' +
                'sent them to the dead-letter stream: the ingester stored something that is not a valid event.',
            },
          },
        ],
      },
    ],
  };
}
