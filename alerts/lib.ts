// The building blocks of the alert rules: rule and group types, the selector and
// metric-name helpers every component file uses, and the two functions that add
// the cross-cutting annotations to *every* alert (kubernetes-mixin's
// add-runbook-links): `runbook_url` and `dashboard_url`. A component file cannot
// forget them, because it does not write them.

import { METRICS, promName } from '../telemetry/metrics.ts';
import type { MixinConfig, Severity, DashboardRef } from '../telemetry/mixin-config.ts';

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

/** The Prometheus series name of a catalog metric (never retype one). */
export const metric = (key: keyof typeof METRICS): string => promName(METRICS[key]);

/** `name{matchers}` with the given matchers joined (empty ones dropped). */
export function series(name: string, ...matchers: string[]): string {
  const inner = matchers.filter((m) => m.trim() !== '').join(', ');
  return inner ? `${name}{${inner}}` : name;
}

/**
 * The alert for a pipeline service Prometheus cannot scrape (or has never seen):
 * critical, after `serviceDownFor`. `consequence` completes the description: what
 * stops while it is down, and what that costs.
 */
export function serviceDownAlert(config: MixinConfig, service: 'ingester' | 'writer' | 'api', what: { name: string; label: string; summary: string; consequence?: string }): AlertRule {
  const sel = config.selectors[service];
  return {
    alert: `${config.alertPrefix}${what.name}`,
    expr: promql`
      ${series('up', sel)} == 0
      or
      absent(${series('up', sel)})`,
    for: config.serviceDownFor,
    labels: { severity: 'critical', service },
    annotations: {
      summary: what.summary,
      description:
        `Prometheus cannot scrape the ${what.label} {{ $labels.instance }} (job {{ $labels.job }}) for ${config.serviceDownFor}.` +
        (what.consequence ? ` ${what.consequence}` : ''),
    },
  };
}

/** Seconds as a PromQL duration literal ("3600" -> "1h"). */
export function duration(seconds: number): string {
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (seconds % size === 0 && seconds >= size) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

/** Removes the indentation of a template literal spanning lines, so rule files stay readable. */
export function promql(strings: TemplateStringsArray, ...values: unknown[]): string {
  const text = strings.reduce((out, piece, i) => out + piece + (i < values.length ? String(values[i] as string) : ''), '');
  const lines = text.replace(/^\n/, '').replace(/\s+$/, '').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => /^ */.exec(l)![0].length));
  return lines.map((l) => l.slice(indent)).join('\n');
}

// ---- URLs ------------------------------------------------------------------------------

/**
 * Scheme and host of the deployment as a Prometheus template: from the configuration, or
 * derived at alert time from Prometheus' --web.external-url (https://<domain>/prometheus/).
 */
export function publicOriginTemplate(config: MixinConfig): string {
  return config.urls.publicOrigin || '{{ reReplaceAll "^(https?://[^/]+).*$" "$1" $externalURL }}';
}

export function grafanaOriginTemplate(config: MixinConfig): string {
  return config.urls.grafanaOrigin || '{{ reReplaceAll "^(https?://)([^/]+).*$" "${1}grafana.${2}" $externalURL }}';
}

/** The runbook of an alert: runbooks/<kebab-case name without the prefix>.md. */
export function runbookFile(config: MixinConfig, alertname: string): string {
  const bare = alertname.startsWith(config.alertPrefix) ? alertname.slice(config.alertPrefix.length) : alertname;
  return `${bare.replace(/([a-z0-9])([A-Z])/g, '$1-$2').replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2').toLowerCase()}.md`;
}

/** The page a runbook is served as (`npm run runbooks:build`): x.md -> x.html; the index, README.md -> index.html. */
export function runbookPage(file: string): string {
  return file === 'README.md' ? 'index.html' : file.replace(/\.md$/, '.html');
}

/**
 * Where an alert's runbook is served: Caddy serves the rendered runbooks on Grafana's host,
 * behind Grafana's login (its session cookie is that host's only), at `urls.runbookPath`.
 */
export function runbookUrl(config: MixinConfig, alertname: string): string {
  return `${grafanaOriginTemplate(config)}${config.urls.runbookPath}${runbookPage(runbookFile(config, alertname))}`;
}

export function dashboardPath(ref: DashboardRef): string {
  return `/d/${ref.uid}`;
}

/** Adds runbook_url to every alert of every group: one function, so no alert can lack it. */
export function addRunbookLinks(groups: RuleGroup[], config: MixinConfig): RuleGroup[] {
  return mapAlerts(groups, (rule) => ({
    ...rule,
    annotations: { ...rule.annotations, runbook_url: runbookUrl(config, rule.alert) },
  }));
}

/** Adds dashboard_url (the component's dashboard, in the alert's environment) to every alert. */
export function addDashboardLinks(groups: RuleGroup[], dashboard: DashboardRef, config: MixinConfig): RuleGroup[] {
  const env = config.environment.label;
  return mapAlerts(groups, (rule) => ({
    ...rule,
    annotations: { ...rule.annotations, dashboard_url: `${grafanaOriginTemplate(config)}${dashboardPath(dashboard)}?var-env={{ $externalLabels.${env} }}` },
  }));
}

export function mapAlerts(groups: RuleGroup[], f: (rule: AlertRule) => AlertRule): RuleGroup[] {
  return groups.map((group) => ({ ...group, rules: group.rules.map((rule) => (isAlert(rule) ? f(rule) : rule)) }));
}

/** Every alert rule of some groups. */
export function alertsOf(groups: RuleGroup[]): AlertRule[] {
  return groups.flatMap((g) => g.rules.filter(isAlert));
}
