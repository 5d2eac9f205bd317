// The links the mixin writes into alerts and dashboards: the deployment's public and
// Grafana origins, each alert's runbook (file, rendered page, URL) and a dashboard's path.

import type { DashboardRef, MixinConfig } from './config.ts';

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
