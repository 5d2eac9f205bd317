// The Alertmanager configuration, generated: critical alerts page (the pager
// receiver), warnings open a ticket in chat; notifications are grouped by alert
// and service; causes inhibit their symptoms; every notification shows the
// summary, the runbook link and the dashboard link.
//
// The templates are inline in each receiver rather than in a template file:
// deploy/compose.yaml mounts alertmanager.yml alone. (Webhooks need no template:
// their JSON payload carries every annotation.)

import type { MixinConfig, ReceiverSpec } from '../mixin/config.ts';
import { ALERT, alertName, type AlertName } from './names.ts';

const TITLE =
  '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] ' +
  '{{ .CommonLabels.alertname }} ({{ .CommonLabels.service }}, {{ .CommonLabels.severity }})';

const BODY = [
  '{{ range .Alerts }}',
  '{{ if eq .Status "firing" }}FIRING{{ else }}RESOLVED{{ end }}: {{ .Annotations.summary }}',
  '{{ .Annotations.description }}',
  'Runbook: {{ .Annotations.runbook_url }}',
  'Dashboard: {{ .Annotations.dashboard_url }}',
  'Labels:{{ range .Labels.SortedPairs }} {{ .Name }}={{ .Value }}{{ end }}',
  '',
  '{{ end }}',
].join('\n');

const FIRST = '(index .Alerts 0).Annotations';

function receiverConfig(name: string, spec: ReceiverSpec): Record<string, unknown> {
  switch (spec.kind) {
    case 'webhook':
      return { name, webhook_configs: [{ url: spec.url, send_resolved: true }] };
    case 'email':
      return {
        name,
        email_configs: [
          {
            to: spec.to,
            from: spec.from,
            smarthost: spec.smarthost,
            ...(spec.authUsername ? { auth_username: spec.authUsername } : {}),
            ...(spec.authPasswordFile ? { auth_password_file: spec.authPasswordFile } : {}),
            send_resolved: true,
            headers: { Subject: TITLE },
            text: BODY,
            html: `<pre>${BODY}</pre>`,
          },
        ],
      };
    case 'slack':
      return {
        name,
        slack_configs: [
          {
            api_url_file: spec.apiUrlFile,
            channel: spec.channel,
            send_resolved: true,
            title: TITLE,
            title_link: `{{ ${FIRST}.runbook_url }}`,
            text: BODY,
            actions: [
              { type: 'button', text: 'Runbook', url: `{{ ${FIRST}.runbook_url }}` },
              { type: 'button', text: 'Dashboard', url: `{{ ${FIRST}.dashboard_url }}` },
            ],
          },
        ],
      };
  }
}

/** Which alerts each cause silences while it fires (same environment). */
export function inhibitions(config: MixinConfig): { source: string; targets: string[]; equal: string[] }[] {
  const n = (name: AlertName) => alertName(config, name);
  const env = config.environment.label;
  return [
    { source: n(ALERT.IngesterDown), targets: [n(ALERT.JetstreamDisconnected), n(ALERT.IngestionStalled), n(ALERT.CursorLagHigh)], equal: [env] },
    { source: n(ALERT.JetstreamDisconnected), targets: [n(ALERT.IngestionStalled), n(ALERT.CursorLagHigh)], equal: [env] },
    {
      source: n(ALERT.RedisDown),
      targets: [n(ALERT.IngestionStalled), n(ALERT.DataStale), n(ALERT.BufferBacklogGrowing), n(ALERT.WriterBatchesFailing), n(ALERT.RedisMemoryNearLimit)],
      equal: [env],
    },
    { source: n(ALERT.WriterDown), targets: [n(ALERT.DataStale), n(ALERT.BufferBacklogGrowing)], equal: [env] },
    // The public probe of the API fails while the API is down: one page, for the cause.
    { source: n(ALERT.ApiDown), targets: [n(ALERT.ApiErrorBudgetBurn), n(ALERT.ApiLatencyBudgetBurn), n(ALERT.PublicEndpointDown)], equal: [env] },
    // A service's own "down" alert says more than the generic one.
    { source: `${config.alertPrefix}(${[ALERT.IngesterDown, ALERT.WriterDown, ALERT.ApiDown].join('|')})`, targets: [n(ALERT.TargetDown)], equal: [env, 'job'] },
  ];
}

export function alertmanagerConfig(config: MixinConfig): Record<string, unknown> {
  const a = config.alerting;
  return {
    route: {
      receiver: 'chat',
      group_by: [...a.groupBy],
      group_wait: a.groupWait,
      group_interval: a.groupInterval,
      repeat_interval: a.repeatInterval,
      routes: [
        { receiver: 'pager', matchers: ['severity="critical"'], group_wait: a.pagerGroupWait },
        { receiver: 'chat', matchers: ['severity="warning"'] },
      ],
    },
    inhibit_rules: [
      // A critical alert silences the warning of the same alert (two severities, one problem).
      { source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: ['alertname', 'service', config.environment.label] },
      ...inhibitions(config).map((rule) => ({
        source_matchers: [`alertname=~"${rule.source}"`],
        target_matchers: [`alertname=~"${rule.targets.join('|')}"`],
        equal: rule.equal,
      })),
    ],
    receivers: [receiverConfig('pager', a.receivers.pager), receiverConfig('chat', a.receivers.chat)],
  };
}
