// Static checks of the queries the mixin writes (alerts, recording rules,
// dashboards, runbooks), for the tests: PromQL and LogQL parse with the grammars
// Prometheus' and Grafana's editors use, and every metric a PromQL query selects
// is one that exists: a catalog metric (telemetry/metrics.ts), a recording rule
// of ours, a series Prometheus makes itself, or one of the exporters' we scrape.

import { parser as logqlParser } from '@grafana/lezer-logql';
import { parser as promqlParser } from '@prometheus-io/lezer-promql';
import { METRICS, promName, type MetricSpec } from '../telemetry/metrics.ts';
import { mixinConfig, type MixinConfig } from './config.ts';
import { apiRecordingRules } from './rules/api-slo.ts';

/** Grafana's variables replaced as a dashboard would send them (the grammars know none of them). */
export function substituteVariables(expr: string, env = 'production'): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', '1m')
    .replaceAll('$__range', '1h')
    .replaceAll('$env', env)
    .replaceAll('$instance', '.*')
    .replaceAll('$service', '.+');
}

function firstError(tree: { iterate(spec: { enter(node: { type: { isError: boolean }; from: number }): void }): void }): number | undefined {
  let at: number | undefined;
  tree.iterate({
    enter: (node) => {
      if (node.type.isError && at === undefined) at = node.from;
    },
  });
  return at;
}

/** The offset of the first syntax error, or undefined. */
export function promqlError(expr: string): number | undefined {
  return firstError(promqlParser.parse(substituteVariables(expr)));
}

export function logqlError(expr: string): number | undefined {
  return firstError(logqlParser.parse(substituteVariables(expr)));
}

/** Metric names selected by a PromQL query. */
export function selectedMetrics(expr: string): string[] {
  const text = substituteVariables(expr);
  const names: string[] = [];
  const cursor = promqlParser.parse(text).cursor();
  do {
    if (cursor.type.name === 'Identifier' && cursor.node.parent?.type.name === 'VectorSelector') names.push(text.slice(cursor.from, cursor.to));
  } while (cursor.next());
  return names;
}

/** Prefixes of the series of the exporters Prometheus scrapes besides our services. */
const EXPORTER_PREFIXES = ['node_', 'redis_', 'probe_'];
const PROMETHEUS_SERIES = ['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'ALERTS', 'target_info'];

/** Whether a selected metric name exists: never a retyped or misspelt catalog name. */
export function knownMetric(name: string, config: MixinConfig = mixinConfig): boolean {
  const catalog = Object.values(METRICS).flatMap((m: MetricSpec) => {
    const base = promName(m);
    return m.type === 'histogram' ? [`${base}_bucket`, `${base}_sum`, `${base}_count`] : [base];
  });
  const records = apiRecordingRules(config).map((r) => r.record);
  return (
    catalog.includes(name) ||
    records.includes(name) ||
    PROMETHEUS_SERIES.includes(name) ||
    Object.values(config.externalMetrics).includes(name) ||
    name === 'bpe_backup_last_duration_seconds' ||
    (!name.startsWith('bpe_') && EXPORTER_PREFIXES.some((p) => name.startsWith(p)))
  );
}
