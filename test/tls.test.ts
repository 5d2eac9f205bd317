// TLS at the edge: deploy/config/caddy/Caddyfile, unchanged, run by Debian's caddy on
// loopback with its internal CA in place of Let's Encrypt, in front of a real API
// and a Grafana stand-in. A client that trusts only that CA reaches the API over
// HTTPS under the configured name; plain HTTP is redirected; HSTS is set; other
// names get nothing; the deploy gate's /_ready routes answer locally.

import { createServer, request as httpRequest, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalCaddy, type LocalCaddy } from '../deploy/config/caddy/local.ts';
import { startTestApi, type TestApi } from './helpers/api-fixture.ts';
import { removeDir, tempDir } from './helpers/pipeline.ts';

const DOMAIN = 'bpe.test';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  certificate?: PeerCertificate;
  authorized?: boolean;
}

describe('TLS through Caddy (the production Caddyfile, internal CA on loopback)', { timeout: 120_000 }, () => {
  let dir: string;
  let api: TestApi;
  let grafana: Server;
  let caddy: LocalCaddy;

  beforeAll(async () => {
    dir = await tempDir('tls');
    api = await startTestApi(dir, { TRUST_PROXY_HOPS: '1' });
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    grafana = createServer((_request, response) => response.end('grafana stand-in'));
    await new Promise<void>((resolve) => grafana.listen(0, '127.0.0.1', resolve));
    caddy = await startLocalCaddy({
      dir: `${dir}/caddy`,
      domain: DOMAIN,
      apiUpstream: `127.0.0.1:${(api.app.server.address() as AddressInfo).port}`,
      grafanaUpstream: `127.0.0.1:${(grafana.address() as AddressInfo).port}`,
    });
  });
  afterAll(async () => {
    await caddy?.stop();
    grafana?.close();
    await api?.close();
    await removeDir(dir);
  });

  /** An HTTPS request to 127.0.0.1 for `name`, trusting Caddy's CA only (certificate and name checked by Node). */
  function https(name: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const request = httpsRequest(
        { host: '127.0.0.1', port: caddy.httpsPort, path, servername: name, ca: caddy.rootCa, headers: { host: name, ...headers } },
        (response) => {
          const socket = response.socket as TLSSocket;
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, headers: response.headers, body, certificate: socket.getPeerCertificate(), authorized: socket.authorized }),
          );
        },
      );
      request.on('error', reject);
      request.end();
    });
  }

  function http(name: string, path: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const request = httpRequest({ host: '127.0.0.1', port: caddy.httpPort, path, headers: { host: name } }, (response) => {
        response.resume();
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: '' }));
      });
      request.on('error', reject);
      request.end();
    });
  }

  it('serves the API over HTTPS with a certificate valid for the configured name, issued by the configured CA', async () => {
    const answer = await https(DOMAIN, '/v1/stats/hashtags', { authorization: api.authorization! });
    expect(answer.status, answer.body).toBe(200);
    expect(answer.authorized).toBe(true);
    expect(answer.certificate?.subjectaltname).toContain(`DNS:${DOMAIN}`);
    expect(answer.certificate?.issuer.CN).toMatch(/Caddy Local Authority/);
    expect(JSON.parse(answer.body)).toHaveProperty('hashtags');
  });

  it('sets HSTS and hides the server software; the API\'s own headers and errors pass through', async () => {
    const answer = await https(DOMAIN, '/v1/search?limit=1');
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'unauthorized' });
    expect(answer.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    expect(answer.headers.server).toBeUndefined();
    expect(answer.headers['x-powered-by']).toBeUndefined();
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
  });

  it('redirects plain HTTP to HTTPS', async () => {
    const answer = await http(DOMAIN, '/v1/search?text=x');
    expect([301, 308]).toContain(answer.status);
    // Caddy 2.6 leaves the port out of the redirect (443 in production).
    expect(answer.headers.location).toMatch(new RegExp(`^https://${DOMAIN.replace('.', '\\.')}(:${caddy.httpsPort})?/v1/search\\?text=x$`));
  });

  it('serves Grafana on its own name, and nothing for any other name', async () => {
    const grafanaAnswer = await https(`grafana.${DOMAIN}`, '/');
    expect(grafanaAnswer.status).toBe(200);
    expect(grafanaAnswer.body).toBe('grafana stand-in');
    expect(grafanaAnswer.certificate?.subjectaltname).toContain(`DNS:grafana.${DOMAIN}`);
    // A name Caddy has no site for: no certificate, the handshake fails.
    await expect(https('prometheus.bpe.test', '/')).rejects.toThrow();
    await expect(https('localhost', '/')).rejects.toThrow();
  });

  it('answers the deploy gate on /_ready/api from a local address, and sends /runbooks/ to Grafana\'s host', async () => {
    const ready = await https(DOMAIN, '/_ready/api');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toMatchObject({ status: 'ready' });
    // Served there behind Grafana's login: test/runbooks-site.test.ts.
    const runbook = await https(DOMAIN, '/runbooks/security.html');
    expect(runbook.status).toBe(308);
    expect(runbook.headers.location).toBe(`https://grafana.${DOMAIN}/runbooks/security.html`);
  });
});
