// The building blocks of the alert rules: the service-down alert every pipeline
// service has, and the two functions that add the cross-cutting annotations to
// *every* alert (kubernetes-mixin's add-runbook-links): `runbook_url` and
// `dashboard_url`. A component file cannot forget them, because it does not write them.

import type { DashboardRef, MixinConfig } from '../mixin/config.ts';
import { dashboardPath, grafanaOriginTemplate, runbookUrl } from '../mixin/links.ts';
import { promql, series } from '../mixin/promql.ts';
import { mapAlerts, type AlertRule, type RuleGroup } from '../mixin/rules/types.ts';
import { alertName, type AlertName } from './names.ts';

/**
 * The alert for a pipeline service Prometheus cannot scrape (or has never seen):
 * critical, after `serviceDownFor`. `consequence` completes the description: what
 * stops while it is down, and what that costs.
 */
export function serviceDownAlert(config: MixinConfig, service: 'ingester' | 'writer' | 'api', what: { name: AlertName; label: string; summary: string; consequence?: string }): AlertRule {
  const sel = config.selectors[service];
  return {
    alert: alertName(config, what.name),
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
