// API alerts, and the group of SLO recording rules they read (mixin/rules/api-slo.ts),
// rendered into the same file. Availability: the share of
// requests answered without a 5xx (SLO 99.9%); latency: the share answered within
// the threshold (SLO 99%). Error-budget burn is alerted on with the Google SRE
// workbook's multi-window, multi-burn-rate pairs (kubernetes-mixin's
// KubeAPIErrorBudgetBurn): a fast burn pages, a slow one opens a ticket.

import type { MixinConfig } from '../mixin/config.ts';
import { promql } from '../mixin/promql.ts';
import { apiRecordingRules, BURN_RATES, LATENCY_BURN_RATES, SLO_RECORDS } from '../mixin/rules/api-slo.ts';
import type { AlertRule, Component } from '../mixin/rules/types.ts';
import { serviceDownAlert } from './lib.ts';
import { ALERT, alertName } from './names.ts';

export function apiAlerts(config: MixinConfig): Component {
  const sel = config.selectors.api;
  const service = 'api';
  const { availabilityTarget, latencyTarget, latencyThresholdSeconds, windowDays } = config.slo;
  const errorBudget = Number((1 - availabilityTarget).toPrecision(6));
  const latencyBudget = Number((1 - latencyTarget).toPrecision(6));
  const percent = (x: number) => `${Number((x * 100).toPrecision(6))}%`;

  const burn = (b: (typeof BURN_RATES)[number]): AlertRule => ({
    alert: alertName(config, ALERT.ApiErrorBudgetBurn),
    expr: promql`
      ${SLO_RECORDS.errorRatio(b.long)}{${sel}} > (${b.factor} * ${errorBudget})
      and
      ${SLO_RECORDS.errorRatio(b.short)}{${sel}} > (${b.factor} * ${errorBudget})`,
    for: b.for,
    labels: { severity: b.severity, service, long: b.long, short: b.short },
    annotations: {
      summary: `The API burns its ${percent(availabilityTarget)} availability error budget too fast.`,
      description:
        `{{ $value | humanizePercentage }} of API requests failed (5xx) over the last ${b.long} and over the last ${b.short}: ` +
        `${b.factor}× the rate that would spend the whole ${windowDays}-day error budget (${percent(errorBudget)}).`,
    },
  });
  const latencyBurn = (b: (typeof BURN_RATES)[number]): AlertRule => ({
    alert: alertName(config, ALERT.ApiLatencyBudgetBurn),
    expr: promql`
      ${SLO_RECORDS.slowRatio(b.long)}{${sel}} > (${b.factor} * ${latencyBudget})
      and
      ${SLO_RECORDS.slowRatio(b.short)}{${sel}} > (${b.factor} * ${latencyBudget})`,
    for: b.for,
    labels: { severity: b.severity, service, long: b.long, short: b.short },
    annotations: {
      summary: `The API is too slow for its latency SLO (${percent(latencyTarget)} within ${latencyThresholdSeconds}s).`,
      description:
        `{{ $value | humanizePercentage }} of API requests took longer than ${latencyThresholdSeconds}s over the last ${b.long} and ${b.short}: ` +
        `${b.factor}× the rate that would spend the ${windowDays}-day latency budget (${percent(latencyBudget)}).`,
    },
  });

  return {
    name: 'api',
    dashboard: 'api',
    groups: [
      { name: 'bpe-api-slo.rules', rules: apiRecordingRules(config) },
      {
        name: 'bpe-api',
        rules: [
          serviceDownAlert(config, 'api', { name: ALERT.ApiDown, label: 'API', summary: 'The API is down: researchers cannot search or export.' }),
          ...BURN_RATES.map(burn),
          ...LATENCY_BURN_RATES.map(latencyBurn),
        ],
      },
    ],
  };
}
