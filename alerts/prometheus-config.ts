// The Prometheus configuration, generated for production (deploy/config/prometheus,
// the Compose services by name) and for the local stack and tests (loopback
// ports): one function, so both scrape the same jobs with the same labels.

import type { MixinConfig } from '../mixin/config.ts';

/** The blackbox exporter's module the public probes use (deploy/config/blackbox/blackbox.yml). */
export const PUBLIC_PROBE_MODULE = 'https_2xx';

export interface PrometheusTargets {
  ingester: string[];
  writer: string[];
  api: string[];
  prometheus: string[];
  alertmanager: string[];
  redis?: string[];
  node?: string[];
  /** Other jobs scraped as they are (grafana, loki). */
  extra?: Record<string, string[]>;
  /** Blackbox: the exporter's address and where the probe targets come from. */
  blackbox?: { exporter: string; module: string; targetFiles: string[] };
}

export interface PrometheusConfigOptions {
  environment: string;
  scrapeInterval: string;
  evaluationInterval: string;
  ruleFiles: string[];
  targets: PrometheusTargets;
}

export function prometheusConfig(config: MixinConfig, options: PrometheusConfigOptions): Record<string, unknown> {
  const env = config.environment.label;
  const labels = { [env]: options.environment };
  const job = (name: string, targets: string[] | undefined) => (targets?.length ? [{ job_name: name, static_configs: [{ targets, labels }] }] : []);
  const t = options.targets;
  const j = config.jobs;
  return {
    global: {
      scrape_interval: options.scrapeInterval,
      evaluation_interval: options.evaluationInterval,
      // Alerts carry the environment (inhibitions compare it; dashboard links select it).
      external_labels: labels,
    },
    rule_files: options.ruleFiles,
    alerting: { alertmanagers: [{ static_configs: [{ targets: t.alertmanager }] }] },
    scrape_configs: [
      ...job(j.prometheus, t.prometheus),
      ...job(j.alertmanager, t.alertmanager),
      ...job(j.ingester, t.ingester),
      ...job(j.writer, t.writer),
      ...job(j.api, t.api),
      ...job(j.redis, t.redis),
      ...job(j.node, t.node),
      ...Object.entries(t.extra ?? {}).flatMap(([name, targets]) => job(name, targets)),
      ...(t.blackbox
        ? [
            {
              job_name: j.blackbox,
              metrics_path: '/probe',
              params: { module: [t.blackbox.module] },
              // The public URL depends on the domain, known at deploy time: the deploy writes it here.
              file_sd_configs: [{ files: t.blackbox.targetFiles }],
              relabel_configs: [
                { source_labels: ['__address__'], target_label: '__param_target' },
                { source_labels: ['__param_target'], target_label: 'instance' },
                { target_label: '__address__', replacement: t.blackbox.exporter },
                { target_label: env, replacement: options.environment },
              ],
            },
          ]
        : []),
    ],
  };
}
