// Shared building blocks of the dashboards, on @grafana/grafana-foundation-sdk
// 0.0.21 (pinned: 0.0.x releases break APIs).
//
// Classic `dashboard.DashboardBuilder`, not `dashboardv2`, on purpose: the
// builder marks it deprecated in favour of Grafana 12's v2 schema, but the stack
// runs Grafana 11.3 (deploy/compose.yaml), whose file provisioning and
// `POST /api/dashboards/db` take the classic JSON model only. Move to dashboardv2
// with the move to Grafana 12.
//
// Every panel goes through `panel()` here, which insists on a description, a
// unit and thresholds; layout goes through `rows()`, which places whole rows of
// equal-height panels (the SDK's automatic grid misplaces mixed heights).

import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as logs from '@grafana/grafana-foundation-sdk/logs';
import * as loki from '@grafana/grafana-foundation-sdk/loki';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import type { Builder, Dataquery } from '@grafana/grafana-foundation-sdk/cog';
import { runbookFile, runbookPage } from '../mixin/links.ts';
import type { DashboardRef, MixinConfig } from '../mixin/config.ts';
import { alertName, type AlertName } from '../alerts/names.ts';

export type { MixinConfig };

export const TAG = 'bluesky-post-explorer';

// ---- data sources and queries -------------------------------------------------------------

export const promDatasource = (config: MixinConfig): common.DataSourceRef => ({ type: 'prometheus', uid: config.grafana.prometheusDatasourceUid });
export const lokiDatasource = (config: MixinConfig): common.DataSourceRef => ({ type: 'loki', uid: config.grafana.lokiDatasourceUid });

/** A PromQL target: expression and legend. */
export interface PromTarget {
  expr: string;
  legend?: string;
  instant?: boolean;
}

/** A LogQL target. */
export interface LokiTarget {
  logql: string;
  legend?: string;
}

export type Target = PromTarget | LokiTarget;

const isLoki = (t: Target): t is LokiTarget => 'logql' in t;

function buildTarget(config: MixinConfig, target: Target, refId: string): Builder<Dataquery> {
  if (isLoki(target)) {
    const q = new loki.DataqueryBuilder().expr(target.logql).refId(refId).datasource(lokiDatasource(config));
    if (target.legend) q.legendFormat(target.legend);
    return q;
  }
  const q = new prometheus.DataqueryBuilder().expr(target.expr).refId(refId).datasource(promDatasource(config));
  if (target.legend) q.legendFormat(target.legend);
  if (target.instant) q.instant();
  return q;
}

/** Label matchers of a service's series, filtered by the dashboard's variables. */
export function scoped(config: MixinConfig, selector: string, withInstance = true): string {
  const env = `${config.environment.label}=~"$env"`;
  return [selector, env, ...(withInstance ? ['instance=~"$instance"'] : [])].join(', ');
}

/** `name{matchers}`. */
export function sel(name: string, matchers: string): string {
  return `${name}{${matchers}}`;
}

// ---- panels -----------------------------------------------------------------------------

export interface Step {
  value: number | null;
  color: string;
}

/** Threshold steps: a base colour, then [value, colour] pairs. */
export function steps(base: string, ...rest: [number, string][]): Step[] {
  return [{ value: null, color: base }, ...rest.map(([value, color]) => ({ value, color }))];
}

export interface PanelSpec {
  title: string;
  description: string;
  unit: string;
  thresholds: Step[];
  targets: Target[];
  /** Runbooks of the alerts this panel explains (alert names). */
  runbooks?: AlertName[];
  min?: number;
  max?: number;
  decimals?: number;
  /** timeseries: draw the thresholds as lines. */
  showThresholds?: boolean;
  stack?: boolean;
  mappings?: dashboard.ValueMapping[];
}

type AnyPanel = timeseries.PanelBuilder | stat.PanelBuilder | logs.PanelBuilder;

function common_<P extends AnyPanel>(config: MixinConfig, p: P, spec: PanelSpec): P {
  p.title(spec.title)
    .description(spec.description)
    .unit(spec.unit)
    .thresholds(new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps(spec.thresholds))
    .targets(spec.targets.map((t, i) => buildTarget(config, t, String.fromCharCode(65 + i))))
    .datasource(spec.targets.some(isLoki) ? lokiDatasource(config) : promDatasource(config));
  if (spec.min !== undefined) p.min(spec.min);
  if (spec.max !== undefined) p.max(spec.max);
  if (spec.decimals !== undefined) p.decimals(spec.decimals);
  if (spec.mappings) p.mappings(spec.mappings);
  if (spec.runbooks?.length) {
    p.links(spec.runbooks.map((name) => alertName(config, name)).map((alert) => new dashboard.DashboardLinkBuilder(`Runbook: ${alert}`).type(dashboard.DashboardLinkType.Link).url(runbookUrl(config, alert)).targetBlank(true)));
  }
  return p;
}

export function timeseriesPanel(config: MixinConfig, spec: PanelSpec): timeseries.PanelBuilder {
  const p = common_(config, new timeseries.PanelBuilder(), spec)
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending))
    .fillOpacity(10)
    .lineWidth(1);
  if (spec.showThresholds) p.thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed));
  if (spec.stack) p.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal)).fillOpacity(40);
  return p;
}

export function statPanel(config: MixinConfig, spec: PanelSpec): stat.PanelBuilder {
  return common_(config, new stat.PanelBuilder(), spec)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .colorMode(common.BigValueColorMode.Background)
    .graphMode(common.BigValueGraphMode.Area);
}

export function logsPanel(config: MixinConfig, spec: PanelSpec): logs.PanelBuilder {
  return common_(config, new logs.PanelBuilder(), spec)
    .showTime(true)
    .wrapLogMessage(true)
    .enableLogDetails(true)
    .prettifyLogMessage(false)
    .sortOrder(common.LogsSortOrder.Descending);
}

/** 1 = up / 0 = down value mappings. */
export function upDownMappings(up = 'up', down = 'down'): dashboard.ValueMapping[] {
  return [
    {
      type: dashboard.MappingType.ValueToText,
      options: { '1': { text: up, color: 'green', index: 0 }, '0': { text: down, color: 'red', index: 1 } },
    },
  ];
}

// ---- links and URLs ------------------------------------------------------------------------

/** Runbook link of an alert, host-relative by default (Caddy serves /runbooks/ on Grafana's host). */
export function runbookUrl(config: MixinConfig, alertname: string): string {
  return `${config.urls.grafanaOrigin}${config.urls.runbookPath}${runbookPage(runbookFile(config, alertname))}`;
}

// ---- variables -----------------------------------------------------------------------------

export function envVariable(config: MixinConfig): Builder<dashboard.VariableModel> {
  return new dashboard.QueryVariableBuilder('env')
    .label('environment')
    .description(`Value of the ${config.environment.label} label Prometheus adds to every target`)
    .datasource(promDatasource(config))
    .query(`label_values(up, ${config.environment.label})`)
    .refresh(dashboard.VariableRefresh.OnDashboardLoad)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .current({ text: config.environment.production, value: config.environment.production });
}

/** Instances of some jobs (a multi-value variable whose "All" is `.*`). */
export function instanceVariable(config: MixinConfig, jobs: string[]): Builder<dashboard.VariableModel> {
  return new dashboard.QueryVariableBuilder('instance')
    .label('instance')
    .description(`Scrape targets of ${jobs.join(', ')}`)
    .datasource(promDatasource(config))
    .query(`label_values(up{job=~"${jobs.join('|')}", ${config.environment.label}=~"$env"}, instance)`)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current({ text: 'All', value: '$__all' });
}

// ---- dashboards and layout -----------------------------------------------------------------

export interface Row {
  title: string;
  height: number;
  /** Panels and their widths; the widths of a row add up to 24. */
  panels: [AnyPanel, number][];
}

export interface DashboardSpec {
  ref: DashboardRef;
  description: string;
  tags: string[];
  variables: Builder<dashboard.VariableModel>[];
  rows: Row[];
  /** Alerts whose runbooks the dashboard links to in its header. */
  runbooks?: AlertName[];
}

/** Builds a dashboard: header links (every other dashboard, the runbooks), variables, rows. */
export function buildDashboard(config: MixinConfig, spec: DashboardSpec): dashboard.Dashboard {
  const builder = new dashboard.DashboardBuilder(spec.ref.title)
    .uid(spec.ref.uid)
    .description(spec.description)
    .tags([TAG, ...spec.tags])
    .editable()
    .timezone('utc')
    .refresh(config.grafana.refresh)
    .time({ from: config.grafana.timeFrom, to: 'now' })
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .variables(spec.variables)
    .link(
      new dashboard.DashboardLinkBuilder('Dashboards')
        .type(dashboard.DashboardLinkType.Dashboards)
        .tags([TAG])
        .asDropdown(true)
        .includeVars(true)
        .keepTime(true),
    )
    .link(
      new dashboard.DashboardLinkBuilder('Runbooks')
        .type(dashboard.DashboardLinkType.Link)
        .url(`${config.urls.grafanaOrigin}${config.urls.runbookPath}`)
        .icon('doc')
        .tooltip('What on-call does when an alert fires')
        .targetBlank(true),
    );
  for (const alert of (spec.runbooks ?? []).map((name) => alertName(config, name))) {
    builder.link(new dashboard.DashboardLinkBuilder(`Runbook: ${alert}`).type(dashboard.DashboardLinkType.Link).url(runbookUrl(config, alert)).icon('doc').targetBlank(true));
  }
  for (const row of spec.rows) {
    const width = row.panels.reduce((sum, [, w]) => sum + w, 0);
    if (width !== 24) throw new Error(`${spec.ref.uid}: row "${row.title}" is ${width} wide, not 24`);
    builder.withRow(new dashboard.RowBuilder(row.title));
    for (const [panel, w] of row.panels) builder.withPanel(panel.height(row.height).span(w));
  }
  const built = builder.build();
  // Stable panel ids (Grafana keys panel links and state by them).
  (built.panels ?? []).forEach((panel, i) => (panel.id = i + 1));
  return built;
}
