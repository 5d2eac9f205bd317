// /healthz (the process is alive and its event loop answers) and /readyz (every
// dependency answers) for the services that have no HTTP server of their own.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A readiness check resolves when the dependency answers and rejects with the reason otherwise. */
export type ReadinessCheck = () => Promise<void>;

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

const CHECK_TIMEOUT_MS = 2000;

/** Runs every check with a timeout; returns each one's outcome. */
export async function runReadinessChecks(checks: Record<string, ReadinessCheck>): Promise<{ ready: boolean; checks: Record<string, string> }> {
  const outcomes = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      });
      try {
        await Promise.race([check(), timeout]);
        return [name, 'ok'] as const;
      } catch (error) {
        return [name, (error as Error).message || 'failed'] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return { ready: outcomes.every(([, outcome]) => outcome === 'ok'), checks: Object.fromEntries(outcomes) };
}

export async function startHealthServer(options: { host: string; port: number; checks: Record<string, ReadinessCheck> }): Promise<HealthServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const reply = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      response.end(JSON.stringify(body));
    };
    if (request.method !== 'GET' && request.method !== 'HEAD') return reply(405, { error: 'method_not_allowed', message: 'use GET' });
    if (path === '/healthz') return reply(200, { status: 'ok' });
    if (path === '/readyz') {
      runReadinessChecks(options.checks).then(
        (result) => reply(result.ready ? 200 : 503, { status: result.ready ? 'ready' : 'not_ready', checks: result.checks }),
        (error: Error) => reply(503, { status: 'not_ready', error: error.message }),
      );
      return;
    }
    reply(404, { error: 'not_found', message: `no route ${path}` });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
