// Monitoring for the local stack and the end-to-end test: Prometheus (Debian's
// `prometheus`) scraping the services with the generated rules, Alertmanager
// (`prometheus-alertmanager`) with the generated configuration, and a local
// webhook receiver standing in for the pager and the chat: it records and logs
// every notification. The same HTTP server serves the runbooks rendered as in
// production, under /grafana/runbooks/ (so the runbook link of a local notification
// opens), and answers dashboard links with where the dashboard's JSON is (there is
// no Grafana here).
//
// The rules and configurations come from the same functions as the committed
// production files (alerts/), with local URLs and receivers, and whatever
// overrides the caller passes (the local stack shortens Alertmanager's group waits;
// the end-to-end test changes nothing but addresses).

import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { alertmanagerConfig } from '../../alerts/alertmanager.ts';
import { renderRuleFiles } from '../../alerts/index.ts';
import { PUBLIC_PROBE_MODULE, prometheusConfig } from '../../alerts/prometheus-config.ts';
import { yaml } from '../../alerts/render.ts';
import { renderRunbookSite, SITE_DIR } from '../../runbooks/site.ts';
import { withConfig, type MixinConfig } from '../../mixin/config.ts';
import { freePort, waitForPort } from '../../base/ports.ts';

/** The production configuration of the blackbox exporter. */
const BLACKBOX_CONFIG = fileURLToPath(new URL('../../deploy/config/blackbox/blackbox.yml', import.meta.url));

/** What Alertmanager's webhook receiver posts (version 4). */
export interface WebhookNotification {
  receiver: string;
  status: 'firing' | 'resolved';
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  alerts: { status: 'firing' | 'resolved'; labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt: string }[];
}

export interface MonitoringOptions {
  /** Where the generated files, Prometheus' TSDB and Alertmanager's state go. */
  dir: string;
  /** host:port of each service's /metrics. */
  targets: { ingester: string[]; writer: string[]; api: string[] };
  /**
   * Public URLs to probe as production does: Debian's blackbox exporter with the
   * production module (deploy/config/blackbox/blackbox.yml), trusting the system's CA
   * roots or, for a local Caddy, the given CA file instead (SSL_CERT_FILE).
   */
  probes?: { urls: string[]; trustedCaFile?: string };
  environment?: string;
  scrapeInterval?: string;
  evaluationInterval?: string;
  /** Ports; 0 or undefined picks a free one (a taken preferred port falls back to a free one). */
  prometheusPort?: number;
  alertmanagerPort?: number;
  webhookPort?: number;
  /** Configuration overrides on top of the mixin's (the local receivers and URLs are set here). */
  overrides?: Parameters<typeof withConfig>[0];
  onNotification?: (notification: WebhookNotification) => void;
  /** Own process groups, so a terminal's Ctrl-C reaches only the supervisor. */
  detached?: boolean;
}

/** A notification as the local webhook received it, and when (ms since the epoch). */
export type ReceivedNotification = WebhookNotification & { receivedAt: number };

export interface Monitoring {
  prometheusUrl: string;
  alertmanagerUrl: string;
  webhookUrl: string;
  config: MixinConfig;
  notifications: ReceivedNotification[];
  /** Exits of Prometheus and Alertmanager (for a supervisor to notice). */
  exited: Promise<string>;
  stop: () => Promise<void>;
}

async function portFor(preferred: number | undefined): Promise<number> {
  if (!preferred) return freePort();
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(freePort()));
    probe.listen(preferred, '127.0.0.1', () => probe.close(() => resolve(preferred)));
  });
}

async function waitReady(url: string, what: string, child: ChildProcess, output: string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}):\n${output.slice(-20).join('')}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${what} not ready at ${url} after ${timeoutMs} ms:\n${output.slice(-20).join('')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function launch(command: string, args: string[], detached: boolean, env: NodeJS.ProcessEnv = process.env): { child: ChildProcess; output: string[] } {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached, env });
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (chunk: Buffer) => {
      output.push(chunk.toString());
      if (output.length > 200) output.splice(0, 100);
    });
  }
  return { child, output };
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** The webhook receiver: records notifications, serves the rendered runbooks, explains dashboard links. */
async function startWebhook(port: number, onNotification: (n: WebhookNotification) => void): Promise<Server> {
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (request.method === 'POST') {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        try {
          onNotification(JSON.parse(body) as WebhookNotification);
          response.writeHead(200).end('ok');
        } catch {
          response.writeHead(400).end('not a webhook notification');
        }
      });
      return;
    }
    // The runbooks as Caddy serves them on Grafana's host (runbooks/site.ts), rendered from
    // the Markdown at each request, so an edited runbook shows at once.
    const runbook = /^(?:\/grafana)?\/runbooks\/(.*)$/.exec(url.pathname);
    if (runbook) {
      const page = basename(runbook[1]!) || 'index.html';
      const content = renderRunbookSite().get(`${SITE_DIR}/${page}`);
      if (content === undefined) response.writeHead(404).end(`no runbook page ${page}\n`);
      else response.writeHead(200, { 'Content-Type': page.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/html; charset=utf-8' }).end(content);
      return;
    }
    const dashboard = /^\/grafana\/d\/([\w-]+)/.exec(url.pathname);
    if (dashboard) {
      response.writeHead(200, { 'Content-Type': 'text/plain' }).end(`The local stack runs no Grafana: this dashboard is dashboards/dist/${dashboard[1]!}.json (import it, or see dashboards/).\n`);
      return;
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return server;
}

export async function startMonitoring(options: MonitoringOptions): Promise<Monitoring> {
  const dir = options.dir;
  const detached = options.detached ?? false;
  const [prometheusPort, alertmanagerPort, webhookPort] = [
    await portFor(options.prometheusPort),
    await portFor(options.alertmanagerPort),
    await portFor(options.webhookPort),
  ];
  const prometheusUrl = `http://127.0.0.1:${prometheusPort}`;
  const alertmanagerUrl = `http://127.0.0.1:${alertmanagerPort}`;
  const webhookUrl = `http://127.0.0.1:${webhookPort}`;
  const environment = options.environment ?? 'local';

  const config = withConfig({
    ...options.overrides,
    urls: { publicOrigin: webhookUrl, grafanaOrigin: `${webhookUrl}/grafana`, ...options.overrides?.urls },
    alerting: {
      ...options.overrides?.alerting,
      receivers: { pager: { kind: 'webhook', url: `${webhookUrl}/pager` }, chat: { kind: 'webhook', url: `${webhookUrl}/chat` } },
    },
  });

  const notifications: ReceivedNotification[] = [];
  const webhook = await startWebhook(webhookPort, (n) => {
    notifications.push({ ...n, receivedAt: Date.now() });
    options.onNotification?.(n);
  });

  await mkdir(dir, { recursive: true });
  const blackboxPort = options.probes ? await freePort() : 0;
  const probeTargets = join(dir, 'blackbox-targets.yml');
  if (options.probes) await writeFile(probeTargets, yaml([{ targets: options.probes.urls, labels: { probe: 'public' } }]));

  const rulesDir = join(dir, 'rules');
  await mkdir(rulesDir, { recursive: true });
  for (const [name, content] of renderRuleFiles(config)) await writeFile(join(rulesDir, name), content);
  await writeFile(join(dir, 'alertmanager.yml'), yaml(alertmanagerConfig(config)));
  await writeFile(
    join(dir, 'prometheus.yml'),
    yaml(
      prometheusConfig(config, {
        environment,
        scrapeInterval: options.scrapeInterval ?? config.prometheus.scrapeInterval,
        evaluationInterval: options.evaluationInterval ?? config.prometheus.evaluationInterval,
        ruleFiles: [join(rulesDir, '*.yml')],
        targets: {
          prometheus: [`127.0.0.1:${prometheusPort}`],
          alertmanager: [`127.0.0.1:${alertmanagerPort}`],
          ...options.targets,
          ...(options.probes ? { blackbox: { exporter: `127.0.0.1:${blackboxPort}`, module: PUBLIC_PROBE_MODULE, targetFiles: [probeTargets] } } : {}),
        },
      }),
    ),
  );

  const alertmanager = launch(
    'prometheus-alertmanager',
    [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'alertmanager')}`,
      `--web.listen-address=127.0.0.1:${alertmanagerPort}`,
      // One instance: no gossip cluster (it would listen on 9094).
      '--cluster.listen-address=',
    ],
    detached,
  );
  const prometheus = launch(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'prometheus')}`,
      '--storage.tsdb.retention.time=2d',
      `--web.listen-address=127.0.0.1:${prometheusPort}`,
      `--web.external-url=${prometheusUrl}/`,
    ],
    detached,
  );
  const blackbox = options.probes
    ? launch('prometheus-blackbox-exporter', [`--config.file=${BLACKBOX_CONFIG}`, `--web.listen-address=127.0.0.1:${blackboxPort}`], detached, {
        ...process.env,
        ...(options.probes.trustedCaFile ? { SSL_CERT_FILE: options.probes.trustedCaFile } : {}),
      })
    : undefined;
  const stop = async () => {
    await Promise.all([stopChild(prometheus.child), stopChild(alertmanager.child), ...(blackbox ? [stopChild(blackbox.child)] : [])]);
    await new Promise<void>((resolve) => {
      webhook.closeAllConnections();
      webhook.close(() => resolve());
    });
  };
  try {
    await waitForPort(alertmanagerPort, '127.0.0.1', 30_000).catch(() => undefined);
    await waitReady(`${alertmanagerUrl}/-/ready`, 'alertmanager', alertmanager.child, alertmanager.output);
    await waitReady(`${prometheusUrl}/-/ready`, 'prometheus', prometheus.child, prometheus.output);
    if (blackbox) await waitReady(`http://127.0.0.1:${blackboxPort}/-/healthy`, 'blackbox exporter', blackbox.child, blackbox.output);
  } catch (error) {
    await stop();
    throw error;
  }
  const exitOf = (name: string, child: ChildProcess) => new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(`${name} exited (code ${code}, signal ${signal})`)));
  return {
    prometheusUrl,
    alertmanagerUrl,
    webhookUrl,
    config,
    notifications,
    exited: Promise.race([exitOf('prometheus', prometheus.child), exitOf('alertmanager', alertmanager.child)]),
    stop,
  };
}

/** One line per alert of a notification, for logs. */
export function describeNotification(n: WebhookNotification): string[] {
  return n.alerts.map(
    (a) => `${a.status.toUpperCase()} ${a.labels.alertname ?? '?'} (${a.labels.severity ?? '?'} -> ${n.receiver}): ${a.annotations.summary ?? ''} runbook ${a.annotations.runbook_url ?? '-'}`,
  );
}

/**
 * `npm start`'s monitoring: Prometheus and Alertmanager on their usual ports when free
 * (PROMETHEUS_PORT, ALERTMANAGER_PORT, ALERT_WEBHOOK_PORT), state under <dataRoot>/monitoring,
 * notifications echoed with `say`. A failure to start is reported, not fatal: the pipeline
 * runs on without monitoring.
 */
export async function startStackMonitoring(
  dataRoot: string,
  metricsPorts: { ingester: number; writer: number; api: number },
  say: (line: string) => void,
  detached = true,
): Promise<Monitoring | undefined> {
  try {
    const monitoring = await startMonitoring({
      dir: join(dataRoot, 'monitoring'),
      targets: {
        ingester: [`127.0.0.1:${metricsPorts.ingester}`],
        writer: [`127.0.0.1:${metricsPorts.writer}`],
        api: [`127.0.0.1:${metricsPorts.api}`],
      },
      prometheusPort: Number(process.env.PROMETHEUS_PORT ?? 9090),
      alertmanagerPort: Number(process.env.ALERTMANAGER_PORT ?? 9093),
      webhookPort: Number(process.env.ALERT_WEBHOOK_PORT ?? 9097),
      overrides: { alerting: { groupWait: '10s', groupInterval: '1m' } },
      onNotification: (n) => describeNotification(n).forEach((line) => say(`alert ${line}`)),
      detached,
    });
    let stopping = false;
    void monitoring.exited.then((why) => {
      if (!stopping) say(`monitoring: ${why} (the pipeline runs on; see ${join(dataRoot, 'monitoring')})`);
    });
    const stop = monitoring.stop;
    monitoring.stop = () => {
      stopping = true;
      return stop();
    };
    say(`prometheus    ${monitoring.prometheusUrl}  (targets: /targets, rules: /rules, alerts: /alerts)`);
    say(`alertmanager  ${monitoring.alertmanagerUrl}  (notifications go to the local webhook ${monitoring.webhookUrl} and are echoed here as [stack] alert ...)`);
    say(`runbooks      ${monitoring.config.urls.grafanaOrigin}${monitoring.config.urls.runbookPath}  (rendered as Caddy serves them; the runbook_url of local alerts)`);
    return monitoring;
  } catch (error) {
    say(`monitoring NOT started (the pipeline runs without it): ${(error as Error).message.split('\n')[0]}`);
    say('  it needs Debian\'s prometheus and prometheus-alertmanager (npm run bootstrap installs them); --no-monitoring skips it');
    return undefined;
  }
}
