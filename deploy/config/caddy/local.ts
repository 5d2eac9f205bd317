// Runs deploy/config/caddy/Caddyfile, unchanged, on loopback: Caddy's internal CA
// instead of ACME (BPE_CADDY_LOCAL_CERTS), ports of our choosing, upstreams given.
// For test/tls.test.ts and `npm run bench:tls`; production runs it in compose.

import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitForPort } from '../../../base/ports.ts';

export const CADDYFILE = fileURLToPath(new URL('./Caddyfile', import.meta.url));
/** runbooks/dist (`npm run runbooks:build`), which compose mounts at /srv/runbooks. */
export const RUNBOOKS_SITE = fileURLToPath(new URL('../../../runbooks/dist', import.meta.url));

export interface LocalCaddy {
  domain: string;
  httpPort: number;
  httpsPort: number;
  /** PEM of the internal CA's root certificate: what a client trusts to verify the served certificates. */
  rootCa: string;
  process: ChildProcess;
  /** Caddy's own output (JSON log lines). */
  output: string[];
  stop(): Promise<void>;
}

async function waitForFile(path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await access(path);
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${path} did not appear within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export async function startLocalCaddy(options: {
  dir: string;
  domain: string;
  apiUpstream: string;
  grafanaUpstream?: string;
  prometheusUpstream?: string;
  alertmanagerUpstream?: string;
  /** The rendered runbooks to serve; default the repository's runbooks/dist. */
  runbooksDir?: string;
}): Promise<LocalCaddy> {
  await mkdir(options.dir, { recursive: true });
  const httpPort = await freePort();
  const httpsPort = await freePort();
  const output: string[] = [];
  const child = spawn('caddy', ['run', '--config', CADDYFILE, '--adapter', 'caddyfile'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      HOME: options.dir,
      XDG_DATA_HOME: join(options.dir, 'data'),
      XDG_CONFIG_HOME: join(options.dir, 'config'),
      BPE_DOMAIN: options.domain,
      BPE_CADDY_LOCAL_CERTS: 'local_certs',
      BPE_CADDY_ADMIN: 'off',
      BPE_HTTP_PORT: String(httpPort),
      BPE_HTTPS_PORT: String(httpsPort),
      BPE_API_UPSTREAM: options.apiUpstream,
      BPE_GRAFANA_UPSTREAM: options.grafanaUpstream ?? '127.0.0.1:9',
      BPE_PROMETHEUS_UPSTREAM: options.prometheusUpstream ?? '127.0.0.1:9',
      BPE_ALERTMANAGER_UPSTREAM: options.alertmanagerUpstream ?? '127.0.0.1:9',
      BPE_RUNBOOKS_DIR: options.runbooksDir ?? RUNBOOKS_SITE,
    },
  });
  for (const stream of [child.stdout, child.stderr]) stream.on('data', (chunk: Buffer) => output.push(...chunk.toString().split('\n').filter(Boolean)));
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`caddy exited (${code}):\n${output.slice(-10).join('\n')}`))));
  exited.catch(() => undefined);
  const rootPath = join(options.dir, 'data', 'caddy', 'pki', 'authorities', 'local', 'root.crt');
  await Promise.race([Promise.all([waitForFile(rootPath, 30_000), waitForPort(httpsPort, '127.0.0.1', 30_000), waitForPort(httpPort, '127.0.0.1', 30_000)]), exited]);
  return {
    domain: options.domain,
    httpPort,
    httpsPort,
    rootCa: await readFile(rootPath, 'utf8'),
    process: child,
    output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
