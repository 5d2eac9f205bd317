// The alert rules and the Alertmanager configuration: the committed files are
// what the TypeScript renders; promtool accepts the rules and runs their unit
// tests (every alert fires when it should, at its `for:` boundary, and stays
// quiet when it should); every alert carries severity, summary, description,
// dashboard_url and runbook_url; amtool accepts the Alertmanager configuration
// (with each kind of receiver) and routes critical to the pager, warning to chat.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertmanagerConfig, inhibitions } from '../alerts/alertmanager.ts';
import { allAlerts, alertNames, components } from '../alerts/index.ts';
import { alertsOf, isAlert } from '../mixin/rules/types.ts';
import { grafanaOriginTemplate, runbookFile, runbookPage } from '../mixin/links.ts';
import { checkAlertmanagerConfig, checkPrometheusConfig, checkRules, testRules } from '../alerts/promtool.ts';
import { knownMetric, promqlError, selectedMetrics } from '../mixin/query-check.ts';
import { ALERTMANAGER_CONFIG, PROMETHEUS_CONFIG, RULES_DIR, renderAlertFiles, yaml } from '../alerts/render.ts';
import { unitTests } from '../alerts/tests/index.ts';
import { REPO_ROOT } from '../base/paths.ts';
import { mixinConfig, withConfig } from '../mixin/config.ts';

const run = promisify(execFile);

describe('alert rules (alerts/)', () => {
  it('alerts/dist and the Prometheus and Alertmanager configurations are what `npm run alerts:build` renders', async () => {
    for (const [path, content] of renderAlertFiles()) {
      expect(await readFile(join(REPO_ROOT, path), 'utf8').catch(() => '(missing)'), `${path} is stale: run npm run alerts:build`).toBe(content);
    }
  });

  it('promtool check rules accepts every rule file', async () => {
    const files = [...renderAlertFiles().keys()].filter((p) => p.startsWith(RULES_DIR)).map((p) => join(REPO_ROOT, p));
    const result = await checkRules(files);
    expect(result.ok, result.output).toBe(true);
  });

  it('promtool test rules: every unit test passes, whichever rule group Prometheus evaluates first', async () => {
    for (const result of await testRules(join(REPO_ROOT, RULES_DIR))) expect(result.ok, `${result.command}\n${result.output}`).toBe(true);
  });

  it('every alert rule is unit-tested firing, and every alert name quiet, with full labels and annotations', () => {
    const cases = unitTests().flatMap((u) => u.groups.flatMap((g) => g.alert_rule_test));
    for (const rule of allAlerts()) {
      const fired = cases.some((c) =>
        c.alertname === rule.alert &&
        c.exp_alerts.some((a) => Object.entries(rule.labels).every(([k, v]) => v.includes('{{') || a.exp_labels[k] === v) && a.exp_annotations.runbook_url !== undefined),
      );
      expect(fired, `${rule.alert} ${JSON.stringify(rule.labels)} has a test where it fires`).toBe(true);
    }
    for (const name of alertNames()) {
      expect(cases.some((c) => c.alertname === name && c.exp_alerts.length === 0), `${name} has a test where it stays quiet`).toBe(true);
    }
  });

  it('every alert has a severity (critical pages, warning tickets), a service, summary, description with labels or value, dashboard and runbook links', () => {
    const alerts = allAlerts();
    expect(alerts.length).toBeGreaterThanOrEqual(20);
    for (const alert of alerts) {
      expect(alert.alert, 'CamelCase with the shared prefix').toMatch(new RegExp(`^${mixinConfig.alertPrefix}[A-Z][A-Za-z]+$`));
      expect(['critical', 'warning']).toContain(alert.labels.severity);
      expect(alert.labels.service).toBeTruthy();
      expect(alert.annotations.summary.length).toBeGreaterThan(10);
      expect(alert.annotations.description).toMatch(/\{\{ \$(labels\.\w+|value)/);
      // Served on Grafana's host (behind its login), rendered: runbooks/<name>.md -> /runbooks/<name>.html.
      expect(alert.annotations.runbook_url).toBe(`${grafanaOriginTemplate(mixinConfig)}/runbooks/${runbookPage(runbookFile(mixinConfig, alert.alert))}`);
      expect(alert.annotations.dashboard_url).toMatch(/\/d\/bpe-[a-z]+\?var-env=\{\{ \$externalLabels\.env \}\}$/);
    }
  });

  it('covers every alert the issue asks for', () => {
    const names = alertNames();
    for (const bare of [
      'IngesterDown', 'JetstreamDisconnected', 'IngestionStalled', 'CursorLagHigh', 'BufferBacklogGrowing', 'RedisMemoryNearLimit', 'WriterDown',
      'WriterBatchesFailing', 'DataStale', 'DeadLettersIncreasing', 'ApiDown', 'ApiErrorBudgetBurn', 'ApiLatencyBudgetBurn', 'DiskFillingUp',
      'BackupMissing', 'TlsCertificateExpiring', 'TargetDown', 'AuthFailureSpike', 'UnusualExportVolume',
    ]) expect(names).toContain(`Bpe${bare}`);
    // The error budget: the SRE workbook's four window pairs, the two fast ones paging.
    const burn = allAlerts().filter((a) => a.alert === 'BpeApiErrorBudgetBurn').map((a) => `${a.labels.long}/${a.labels.short}:${a.labels.severity}`);
    expect(burn).toEqual(['1h/5m:critical', '6h/30m:critical', '1d/2h:warning', '3d/6h:warning']);
  });

  it('runbook links come from one function over every group: a configured origin changes all of them', () => {
    const config = withConfig({ urls: { grafanaOrigin: 'https://grafana.bpe.example.org' } });
    const alerts = components(config).flatMap((c) => alertsOf(c.groups));
    for (const alert of alerts) expect(alert.annotations.runbook_url).toBe(`https://grafana.bpe.example.org/runbooks/${runbookPage(runbookFile(config, alert.alert))}`);
  });

  it('every expression parses, and selects only metrics that exist (the catalog, our recording rules, the exporters)', () => {
    for (const component of components()) {
      for (const rule of component.groups.flatMap((g) => g.rules)) {
        const name = isAlert(rule) ? rule.alert : rule.record;
        expect(promqlError(rule.expr), `${name}: ${rule.expr}`).toBeUndefined();
        for (const metric of selectedMetrics(rule.expr)) expect(knownMetric(metric), `${name} selects ${metric}`).toBe(true);
      }
    }
  });

  it('the backup metric is the one deploy/backup/backup.sh writes', async () => {
    expect(await readFile(join(REPO_ROOT, 'deploy', 'backup', 'backup.sh'), 'utf8')).toContain(`${mixinConfig.externalMetrics.backupLastSuccess} $finished`);
  });

  it('the production Prometheus configuration passes promtool, scrapes every compose service, and loads alerts/dist', async () => {
    const result = await checkPrometheusConfig(join(REPO_ROOT, PROMETHEUS_CONFIG));
    expect(result.ok, result.output).toBe(true);
    const text = await readFile(join(REPO_ROOT, PROMETHEUS_CONFIG), 'utf8');
    for (const target of ['ingester:9464', 'writer:9465', 'api:9466', 'redis-exporter:9121', 'node-exporter:9100', 'alertmanager:9093', 'blackbox-exporter:9115']) expect(text).toContain(target);
    expect(text).toContain('/etc/prometheus/rules/*.yml');
    expect(text).toMatch(/external_labels:\n\s+env: production/);
  });
});

describe('Alertmanager configuration (alerts/alertmanager.ts)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bpe-amtool-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('amtool check-config accepts the committed configuration', async () => {
    const result = await checkAlertmanagerConfig(join(REPO_ROOT, ALERTMANAGER_CONFIG));
    expect(result.ok, result.output).toBe(true);
  });

  it('amtool accepts every kind of receiver: webhook, email, Slack', async () => {
    const receivers = [
      { kind: 'webhook', url: 'http://127.0.0.1:9/hook' },
      { kind: 'email', to: 'oncall@example.org', from: 'am@example.org', smarthost: 'smtp.example.org:587', authUsername: 'am', authPasswordFile: '/etc/alertmanager/secrets/smtp' },
      { kind: 'slack', channel: '#alerts', apiUrlFile: '/etc/alertmanager/secrets/slack' },
    ] as const;
    for (const pager of receivers) {
      for (const chat of receivers) {
        const file = join(dir, `${pager.kind}-${chat.kind}.yml`);
        await writeFile(file, yaml(alertmanagerConfig(withConfig({ alerting: { receivers: { pager, chat } } }))));
        const result = await checkAlertmanagerConfig(file);
        expect(result.ok, `${pager.kind}/${chat.kind}: ${result.output}`).toBe(true);
      }
    }
  });

  it('routes critical alerts to the pager and warnings to chat, grouped by alert and service', async () => {
    const route = async (...labels: string[]) =>
      (await run('amtool', ['config', 'routes', 'test', `--config.file=${join(REPO_ROOT, ALERTMANAGER_CONFIG)}`, ...labels])).stdout.trim();
    expect(await route('alertname=BpeIngesterDown', 'severity=critical', 'service=ingester')).toBe('pager');
    expect(await route('alertname=BpeCursorLagHigh', 'severity=warning', 'service=ingester')).toBe('chat');
    const config = alertmanagerConfig(mixinConfig) as { route: { group_by: string[] } };
    expect(config.route.group_by).toEqual(['alertname', 'service']);
  });

  it('inhibits symptoms by their causes (ingester down silences ingestion stalled), within one environment', () => {
    const rules = inhibitions(mixinConfig);
    const silenced = (cause: string) => rules.filter((r) => new RegExp(`^${r.source}$`).test(cause)).flatMap((r) => r.targets);
    expect(silenced('BpeIngesterDown')).toContain('BpeIngestionStalled');
    expect(silenced('BpeWriterDown')).toEqual(expect.arrayContaining(['BpeDataStale', 'BpeBufferBacklogGrowing']));
    expect(silenced('BpeApiDown')).toContain('BpeApiErrorBudgetBurn');
    expect(silenced('BpeWriterDown')).toContain('BpeTargetDown');
    for (const rule of rules) {
      expect(rule.equal).toContain('env');
      // Every name in an inhibition is an alert that exists.
      for (const name of rule.targets) expect(alertNames()).toContain(name);
    }
  });

  it('notification templates show the summary, the runbook link and the dashboard link', async () => {
    const text = await readFile(join(REPO_ROOT, ALERTMANAGER_CONFIG), 'utf8');
    for (const field of ['.Annotations.summary', '.Annotations.runbook_url', '.Annotations.dashboard_url']) expect(text).toContain(field);
  });
});
