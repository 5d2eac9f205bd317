// Ingester alerts: Jetstream -> Redis stream. The causes (down, disconnected) and
// the symptoms they produce (stalled, lagging) are separate alerts; Alertmanager
// inhibits the symptoms while a cause fires (alerts/alertmanager.ts).

import type { MixinConfig } from '../mixin/config.ts';
import { duration, metric, promql, series } from '../mixin/promql.ts';
import { serviceDownAlert } from './lib.ts';
import type { Component } from '../mixin/rules/types.ts';
import { ALERT, alertName } from './names.ts';

export function ingesterAlerts(config: MixinConfig): Component {
  const sel = config.selectors.ingester;
  const t = config.thresholds;
  const service = 'ingester';
  return {
    name: 'ingester',
    dashboard: 'ingester',
    groups: [
      {
        name: 'bpe-ingester',
        rules: [
          serviceDownAlert(config, 'ingester', { name: ALERT.IngesterDown, label: 'ingester', summary: 'The ingester is down: nothing is read from Jetstream.', consequence: 'No event reaches the Redis stream until it is back; Jetstream replays the last 24 hours, so nothing is lost if it returns within that time.' }),
          {
            alert: alertName(config, ALERT.JetstreamDisconnected),
            expr: promql`
              max by (job, instance) (${series(metric('ingesterConnected'), sel)}) == 0
              unless on (job, instance)
              max by (job, instance) (${series(metric('ingesterPaused'), sel)}) == 1`,
            for: t.jetstreamDisconnectedFor,
            labels: { severity: 'warning', service },
            annotations: {
              summary: 'The ingester has no Jetstream connection.',
              description:
                `The ingester {{ $labels.instance }} has had no open Jetstream WebSocket for ${t.jetstreamDisconnectedFor} ` +
                'while not deliberately paused by backpressure: it is failing to connect to every JETSTREAM_URL.',
            },
          },
          {
            alert: alertName(config, ALERT.IngestionStalled),
            expr: promql`
              sum by (job, instance) (rate(${series(metric('ingesterEventsStored'), sel)}[5m])) == 0`,
            for: t.ingestionStalledFor,
            labels: { severity: 'critical', service },
            annotations: {
              summary: 'No event has been stored in the Redis stream for a while.',
              description:
                `The ingester {{ $labels.instance }} has stored no event in ${t.ingestionStalledFor} ` +
                '(rate {{ $value }}/s): the data is going stale.',
            },
          },
          {
            alert: alertName(config, ALERT.CursorLagHigh),
            expr: promql`
              max by (job, instance) (${series(metric('ingesterCursorLag'), sel)}) > ${t.cursorLagWarningSeconds}`,
            for: t.cursorLagFor,
            labels: { severity: 'warning', service },
            annotations: {
              summary: 'Ingestion is behind the network.',
              description:
                'The newest event stored by {{ $labels.instance }} is {{ $value | humanizeDuration }} old ' +
                `(threshold ${duration(t.cursorLagWarningSeconds)}).`,
            },
          },
          {
            alert: alertName(config, ALERT.CursorLagHigh),
            expr: promql`
              max by (job, instance) (${series(metric('ingesterCursorLag'), sel)}) > ${t.cursorLagCriticalSeconds}`,
            for: t.cursorLagFor,
            labels: { severity: 'critical', service },
            annotations: {
              summary: 'Ingestion is far behind the network: events will be lost past 24 hours.',
              description:
                'The newest event stored by {{ $labels.instance }} is {{ $value | humanizeDuration }} old ' +
                `(threshold ${duration(t.cursorLagCriticalSeconds)}). Jetstream replays 24 hours at most: ` +
                'events older than that when the ingester catches up are lost.',
            },
          },
          {
            alert: alertName(config, ALERT.DeadLettersIncreasing),
            expr: promql`
              sum by (job, instance) (rate(${series(metric('ingesterDeadLettered'), sel)}[15m]))
              /
              (
                sum by (job, instance) (rate(${series(metric('ingesterEventsReceived'), sel)}[15m]))
                +
                sum by (job, instance) (rate(${series(metric('ingesterDeadLettered'), sel)}[15m]))
              )
              > ${t.ingesterDeadLetterRatio}`,
            for: t.deadLettersFor,
            labels: { severity: 'warning', service },
            annotations: {
              summary: 'The ingester dead-letters an unusual share of Jetstream frames.',
              description:
                '{{ $value | humanizePercentage }} of the frames received by {{ $labels.instance }} over 15 minutes ' +
                `were refused by validation and sent to the dead-letter stream (threshold ${t.ingesterDeadLetterRatio * 100}%).`,
            },
          },
        ],
      },
    ],
  };
}
