// The shape of Prometheus rule files as the mixin writes them: alerting and recording
// rules, their groups, and a component (one file of alerts/dist). Shared by the
// recording rules (mixin/rules/), the alerts (alerts/) and the promtool tests.

import type { MixinConfig, Severity } from '../config.ts';

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: Severity; service: string } & Record<string, string>;
  annotations: { summary: string; description: string } & Record<string, string>;
}

export interface RecordingRule {
  record: string;
  expr: string;
  labels?: Record<string, string>;
}

export type Rule = AlertRule | RecordingRule;

export interface RuleGroup {
  name: string;
  interval?: string;
  rules: Rule[];
}

/** One file of alerts/dist: a component's groups, and the dashboard its alerts link to. */
export interface Component {
  /** File name (without .yml) in alerts/dist. */
  name: string;
  /** The dashboard every alert of the component links to (dashboard_url). */
  dashboard: keyof MixinConfig['dashboards'];
  groups: RuleGroup[];
}

export const isAlert = (rule: Rule): rule is AlertRule => 'alert' in rule;

export function mapAlerts(groups: RuleGroup[], f: (rule: AlertRule) => AlertRule): RuleGroup[] {
  return groups.map((group) => ({ ...group, rules: group.rules.map((rule) => (isAlert(rule) ? f(rule) : rule)) }));
}

/** Every alert rule of some groups. */
export function alertsOf(groups: RuleGroup[]): AlertRule[] {
  return groups.flatMap((g) => g.rules.filter(isAlert));
}
