// Monitoring end to end with the real Prometheus and Alertmanager from Debian:
// the services run on replayed traffic, Prometheus scrapes them every second
// with the generated rules (shortened `for:` durations, the only overrides),
// Alertmanager routes to a local webhook receiver.
//
// - every PromQL query of every dashboard panel runs without error and returns
//   data, except the panels of exporters this machine does not run (listed with
//   their reason); every LogQL query parses with Grafana's LogQL grammar;
// - stopping the ingester pages (IngesterDown reaches the webhook with its runbook
//   URL) within 60 s, and restarting it resolves the alert;
// - stopping the writer fires WriterDown and DataStale (the latter inhibited in
//   Alertmanager by its cause), and restarting it resolves them.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parser as logqlParser } from '@grafana/lezer-logql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { components } from '../alerts/index.ts';
import { dashboards } from '../dashboards/index.ts';
import { startReplayServer, type ReplayServer } from '../loadtest/jetstream-replay/server.ts';
import { startMonitoring, type Monitoring, type WebhookNotification } from '../services/stack/monitoring.ts';
import { freePort, startRedisServer, type RedisServer } from '../services/stack/redis-server.ts';
import type { ServiceProcess } from '../services/stack/service-process.ts';
import { loggedPort, removeDir, startApi, startIngester, startWriter, uniquePrefix, waitUntil, type ServiceEnv } from './helpers/pipeline.ts';

/** Panels whose exporter does not run on this machine, by dashboard UID and panel title, with the reason. */
const EXPECTED_EMPTY: Record<string, Record<string, string>> = {
  'bpe-host': {
    'CPU busy': 'node-exporter is not run here',
    'Load (1 min)': 'node-exporter is not run here',
    'Memory used': 'node-exporter is not run here',
    'Disk used': 'node-exporter is not run here',
    'Free space forecast (24 h ahead)': 'node-exporter is not run here',
    'Disk I/O': 'node-exporter is not run here',
    Network: 'node-exporter is not run here',
    'Last backup': "the backup's textfile metric comes through node-exporter, not run here",
    'Certificate expires in': 'the blackbox exporter is not run here (no public HTTPS endpoint)',
    'Public probe': 'the blackbox exporter is not run here (no public HTTPS endpoint)',
  },
  'bpe-buffer': {
    'Redis up': 'redis_exporter is not run here',
    'Memory used / maxmemory': 'redis_exporter is not run here',
    Memory: 'redis_exporter is not run here',
    Commands: 'redis_exporter is not run here',
    Clients: 'redis_exporter is not run here',
  },
};

const ENVIRONMENT = 'test';

/** Grafana's variables as a dashboard would send them. */
function substitute(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '15s')
    .replaceAll('$__interval', '5s')
    .replaceAll('$__range', '5m')
    .replaceAll('$env', ENVIRONMENT)
    .replaceAll('$instance', '.*')
    .replaceAll('$service', '.+');
}

interface PanelJson {
  type: string;
  title: string;
  targets?: { expr: string; refId: string; datasource?: { type?: string } }[];
}

describe('monitoring end to end: real Prometheus and Alertmanager', { timeout: 200_000 }, () => {
  let redis: RedisServer;
  let replay: ReplayServer;
  let monitoring: Monitoring;
  let dir: string;
  let traffic: NodeJS.Timeout | undefined;
  const prefix = uniquePrefix('monitoring');
  const services: Partial<Record<'ingester' | 'writer' | 'api', ServiceProcess>> = {};
  const metricsPorts = { ingester: 0, writer: 0, api: 0 };
  let apiUrl = '';
  let env: ServiceEnv;

  const startIngesterProcess = async () => (services.ingester = await startIngester({ ...env, JETSTREAM_URL: replay.url, METRICS_PORT: String(metricsPorts.ingester) }));
  const startWriterProcess = async () =>
    (services.writer = await startWriter({ ...env, DATA_DIR: join(dir, 'parquet'), BATCH_MAX_EVENTS: '2000', BATCH_MAX_AGE_MS: '500', STORE_SAMPLE_SECONDS: '1', METRICS_PORT: String(metricsPorts.writer) }));

  const query = async (expr: string) => {
    const response = await fetch(`${monitoring.prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await response.json()) as { status: string; error?: string; data?: { result: unknown[] } };
    return { ok: response.ok && body.status === 'success', error: body.error, result: body.data?.result ?? [] };
  };
  const firingInPrometheus = async (alertname: string) => {
    const body = (await (await fetch(`${monitoring.prometheusUrl}/api/v1/alerts`)).json()) as { data: { alerts: { labels: Record<string, string>; state: string }[] } };
    return body.data.alerts.some((a) => a.labels.alertname === alertname && a.state === 'firing');
  };
  const notified = (alertname: string, status: 'firing' | 'resolved', since = 0) =>
    monitoring.notifications.slice(since).flatMap((n: WebhookNotification) => n.alerts.filter((a) => a.labels.alertname === alertname && a.status === status).map((a) => ({ ...a, receiver: n.receiver })));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bpe-monitoring-'));
    redis = await startRedisServer({ dir: join(dir, 'redis') });
    // A few invalid frames, so the dead-letter series exist.
    replay = await startReplayServer({ seed: 41, rate: 200, invalidRatio: 0.01, outboxLimit: 0 });
    env = { redisUrl: redis.url, prefix, DEPLOYMENT_ENV: ENVIRONMENT };
    metricsPorts.ingester = await freePort();
    metricsPorts.writer = await freePort();
    metricsPorts.api = await freePort();
    await startWriterProcess();
    await startIngesterProcess();
    // Authentication and rate limits are the security tests' subject; here the API answers the traffic.
    services.api = await startApi({
      ...env,
      DATA_DIR: join(dir, 'parquet'),
      SIDE_TABLE_REFRESH_MS: '500',
      METRICS_PORT: String(metricsPorts.api),
      API_AUTH: 'off',
      RATE_LIMIT_IP_MAX: '1000000',
      RATE_LIMIT_KEY_MAX: '1000000',
    });
    apiUrl = `http://127.0.0.1:${await loggedPort(services.api, 'api started', 'port')}`;

    monitoring = await startMonitoring({
      dir: join(dir, 'monitoring'),
      environment: ENVIRONMENT,
      scrapeInterval: '1s',
      evaluationInterval: '1s',
      targets: {
        ingester: [`127.0.0.1:${metricsPorts.ingester}`],
        writer: [`127.0.0.1:${metricsPorts.writer}`],
        api: [`127.0.0.1:${metricsPorts.api}`],
      },
      // Short durations so that faults show within seconds; everything else as in production.
      overrides: {
        serviceDownFor: '5s',
        targetDownFor: '1m',
        thresholds: { dataStaleSeconds: 10, dataStaleFor: '10s' },
        alerting: { groupWait: '1s', groupInterval: '2s', repeatInterval: '1h' },
      },
    });

    // Steady API traffic: searches (cache hits after the first), an export, a 404, a 400.
    const requests = ['/v1/search?limit=5', '/v1/search?text=the&limit=5', '/v1/export?limit=10&format=ndjson', '/v1/posts/did:plc:nobody/3mptbyplj5d2a', '/v1/search?limit=0', '/v1/stats/timeseries', '/v1/stats/hashtags'];
    let i = 0;
    traffic = setInterval(() => {
      void fetch(`${apiUrl}${requests[i++ % requests.length]!}`).then((r) => r.arrayBuffer(), () => undefined);
    }, 100);
  });

  afterAll(async () => {
    clearInterval(traffic);
    await monitoring?.stop();
    for (const service of Object.values(services)) await service?.stop('SIGKILL');
    await replay?.close();
    await redis?.stop();
    if (dir) await removeDir(dir).catch(() => rm(dir, { recursive: true, force: true }));
  });

  it('scrapes every service and loads every generated rule group', async () => {
    await waitUntil(async () => (await query(`sum(up{env="${ENVIRONMENT}", job=~"ingester|writer|api"})`)).result.length === 1 && Number(((await query(`sum(up{env="${ENVIRONMENT}", job=~"ingester|writer|api"})`)).result[0] as { value: [number, string] }).value[1]) === 3, 'the three services up', 30_000);
    const body = (await (await fetch(`${monitoring.prometheusUrl}/api/v1/rules`)).json()) as { data: { groups: { name: string; rules: { name: string; health: string }[] }[] } };
    const expected = components(monitoring.config).flatMap((c) => c.groups.map((g) => g.name)).sort();
    expect(body.data.groups.map((g) => g.name).sort()).toEqual(expected);
    const total = components(monitoring.config).flatMap((c) => c.groups.flatMap((g) => g.rules)).length;
    expect(body.data.groups.flatMap((g) => g.rules)).toHaveLength(total);
  });

  it('every PromQL query of every dashboard panel runs and returns data (but the listed exporters\' panels); every LogQL query parses', async () => {
    // The SLO recording rules and 24-hour windows need a few evaluations of real traffic.
    await waitUntil(async () => (await query('job:bpe_api_request_slow:rate5m')).result.length > 0 && (await query('bpe_store_bytes')).result.length > 0, 'recording rules and store samples', 60_000);
    const failures: string[] = [];
    const empty: string[] = [];
    const expectedEmptySeen = new Set<string>();
    let promQueries = 0;
    let logQueries = 0;
    for (const d of dashboards(monitoring.config)) {
      for (const panel of (d.panels ?? []) as unknown as PanelJson[]) {
        for (const target of panel.targets ?? []) {
          const where = `${d.uid} / ${panel.title} / ${target.refId}`;
          if (target.datasource?.type === 'loki') {
            logQueries++;
            const tree = logqlParser.parse(substitute(target.expr));
            let error = -1;
            tree.iterate({ enter: (n) => void (n.type.isError && error < 0 ? (error = n.from) : undefined) });
            if (error >= 0) failures.push(`${where}: LogQL does not parse at ${error}: ${target.expr}`);
            continue;
          }
          promQueries++;
          const reason = EXPECTED_EMPTY[d.uid!]?.[panel.title];
          // A query may need a moment more of data: retry briefly before calling it empty.
          let answer = await query(substitute(target.expr));
          for (let attempt = 0; answer.ok && answer.result.length === 0 && !reason && attempt < 10; attempt++) {
            await new Promise((r) => setTimeout(r, 1000));
            answer = await query(substitute(target.expr));
          }
          if (!answer.ok) failures.push(`${where}: ${answer.error ?? 'error'}: ${target.expr}`);
          else if (reason) expectedEmptySeen.add(`${d.uid!}/${panel.title}`);
          else if (answer.result.length === 0) empty.push(`${where}: ${target.expr}`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(empty).toEqual([]);
    expect(promQueries).toBeGreaterThan(80);
    expect(logQueries).toBeGreaterThanOrEqual(4);
    // The expected-empty list names real panels only.
    const listed = Object.entries(EXPECTED_EMPTY).flatMap(([uid, panels]) => Object.keys(panels).map((title) => `${uid}/${title}`));
    expect([...expectedEmptySeen].sort()).toEqual(listed.sort());
  });

  it('stopping the ingester pages within 60 s with the runbook link; restarting it resolves the alert', async () => {
    const since = monitoring.notifications.length;
    const stoppedAt = Date.now();
    await services.ingester!.stop('SIGTERM');
    const [firing] = await waitUntil(async () => notified('BpeIngesterDown', 'firing', since).length > 0 && notified('BpeIngesterDown', 'firing', since), 'BpeIngesterDown at the webhook', 60_000, 200);
    expect(Date.now() - stoppedAt).toBeLessThan(60_000);
    expect(firing!.receiver).toBe('pager');
    expect(firing!.labels).toMatchObject({ severity: 'critical', service: 'ingester', env: ENVIRONMENT });
    expect(firing!.annotations.runbook_url).toBe(`${monitoring.webhookUrl}/grafana/runbooks/ingester-down.html`);
    expect(firing!.annotations.dashboard_url).toContain(`/d/bpe-ingester?var-env=${ENVIRONMENT}`);

    await startIngesterProcess();
    await waitUntil(async () => notified('BpeIngesterDown', 'resolved', since).length > 0, 'BpeIngesterDown resolved at the webhook', 60_000, 200);
    // The link opens the runbook (rendered and served by the local receiver, as Caddy serves runbooks/dist in production).
    const runbook = await fetch(firing!.annotations.runbook_url!);
    expect(runbook.status).toBe(200);
    expect(runbook.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await runbook.text()).toContain('<h2 id="mitigation">Mitigation</h2>');
  });

  it('stopping the writer fires WriterDown and DataStale (inhibited by its cause); restarting resolves them', async () => {
    // Prometheus has seen batches written (DataStale ignores a writer that never wrote).
    await waitUntil(async () => (await query('bpe_writer_newest_event_timestamp > 0')).result.length > 0, 'a batch written and scraped', 30_000);
    const since = monitoring.notifications.length;
    await services.writer!.stop('SIGTERM');
    await waitUntil(async () => notified('BpeWriterDown', 'firing', since).length > 0, 'BpeWriterDown at the webhook', 60_000, 200);
    await waitUntil(() => firingInPrometheus('BpeDataStale'), 'BpeDataStale firing in Prometheus', 60_000, 200);
    // In Alertmanager the symptom is inhibited by its cause: no page for it.
    const inhibited = await waitUntil(
      async () => {
        const alerts = (await (await fetch(`${monitoring.alertmanagerUrl}/api/v2/alerts?filter=${encodeURIComponent('alertname="BpeDataStale"')}`)).json()) as { status: { inhibitedBy: string[] } }[];
        return alerts.length > 0 && alerts.every((a) => a.status.inhibitedBy.length > 0) ? alerts : undefined;
      },
      'BpeDataStale inhibited by BpeWriterDown',
      30_000,
      200,
    );
    expect(inhibited.length).toBeGreaterThan(0);
    expect(notified('BpeDataStale', 'firing', since)).toEqual([]);

    await startWriterProcess();
    await waitUntil(async () => notified('BpeWriterDown', 'resolved', since).length > 0, 'BpeWriterDown resolved at the webhook', 60_000, 200);
    await waitUntil(async () => !(await firingInPrometheus('BpeDataStale')), 'BpeDataStale resolved in Prometheus', 60_000, 200);
  });
});
