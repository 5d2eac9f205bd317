// Logs (Loki): errors by service, volume by level, and the log stream of the
// chosen services. pino-loki labels every stream with service, env and level
// (and hostname, the instance, when the logger sets one).

import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { buildDashboard, lokiDatasource, logsPanel, steps, timeseriesPanel, type MixinConfig } from './lib.ts';
import { queries } from './queries.ts';

export function logsDashboard(config: MixinConfig): Dashboard {
  const q = queries(config).logs;
  const ds = lokiDatasource(config);
  const label = (name: string, label: string, description: string, filter = '') =>
    new dashboard.QueryVariableBuilder(name)
      .label(label)
      .description(description)
      .datasource(ds)
      .query({ type: 1, label: name === 'instance' ? 'hostname' : name, stream: filter, refId: 'LokiVariableQueryEditor-VariableQuery' })
      .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
      .sort(dashboard.VariableSort.AlphabeticalAsc);
  const env = label('env', 'environment', 'The env label of every log stream (DEPLOYMENT_ENV)').current({ text: config.environment.production, value: config.environment.production });
  const service = label('service', 'service', 'Services whose logs to show', '{env=~"$env"}').multi(true).includeAll(true).allValue('.+').current({ text: 'All', value: '$__all' });
  // pino-loki labels a stream with the record's hostname, which our loggers leave out today: "All" is `.*`,
  // which also matches streams without the label.
  const instance = label('instance', 'instance', 'Hosts (the hostname label pino-loki adds when the logger has one)', '{env=~"$env"}').multi(true).includeAll(true).allValue('.*').current({ text: 'All', value: '$__all' });
  return buildDashboard(config, {
    ref: config.dashboards.logs,
    description: 'Service logs from Loki: errors by service and the log stream of $service.',
    tags: ['logs'],
    variables: [env, service, instance],
    rows: [
      {
        title: 'Volume',
        height: 7,
        panels: [
          [timeseriesPanel(config, { title: 'Errors by service', description: 'Log lines at level error or critical (pino fatal) per interval, by service (all services, whatever $service says).', unit: 'short', thresholds: steps('green', [1, 'red']), targets: [{ logql: q.errorsByService, legend: '{{service}}' }] }), 12],
          [timeseriesPanel(config, { title: 'Lines by level', description: 'Log lines of $service per interval, by level.', unit: 'short', thresholds: steps('green'), stack: true, targets: [{ logql: q.linesByLevel, legend: '{{level}}' }] }), 12],
        ],
      },
      {
        title: 'Problems',
        height: 8,
        panels: [[logsPanel(config, { title: 'Warnings and errors', description: 'Lines of $service at level warning, error or critical (pino-loki names for warn, error, fatal), newest first.', unit: 'none', thresholds: steps('green'), targets: [{ logql: q.problems }] }), 24]],
      },
      {
        title: 'Stream',
        height: 14,
        panels: [[logsPanel(config, { title: 'Log stream', description: 'Every line of $service, newest first, with its JSON fields parsed.', unit: 'none', thresholds: steps('green'), targets: [{ logql: q.stream }] }), 24]],
      },
    ],
  });
}
