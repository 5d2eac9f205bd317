// The runbooks served by the system: runbooks/*.md rendered to runbooks/dist
// (`npm run runbooks:build`, committed: stale output fails here), and served by the
// production Caddyfile, run by Debian's caddy on loopback with its internal CA, on
// Grafana's host behind Grafana's login. A stand-in for Grafana's /api/user answers
// 200 for one known session cookie and 401 otherwise, as Grafana does.
// Without a session a page is refused and the browser sent to Grafana's login (which
// brings it back through Grafana's redirect_to cookie); with one, the index and every
// runbook are served as HTML; every runbook_url of alerts/dist opens a served page;
// every link inside the pages resolves, anchors included; nothing but the rendered
// site is served; when Grafana cannot answer, nothing is served.

import { readdir, readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalCaddy, type LocalCaddy } from '../deploy/config/caddy/local.ts';
import { alertNames } from '../alerts/index.ts';
import { runbookFile, runbookPage } from '../mixin/links.ts';
import { RULES_DIR } from '../alerts/render.ts';
import { expandTemplate } from '../alerts/tests/dsl.ts';
import { headingId, renderRunbook, renderRunbookSite, rewriteLink, runbookSources, SITE_DIR } from '../runbooks/site.ts';
import { REPO_ROOT } from '../base/paths.ts';
import { mixinConfig } from '../mixin/config.ts';
import { removeDir, tempDir } from './helpers/pipeline.ts';

const DOMAIN = 'bpe.test';
const GRAFANA = `grafana.${DOMAIN}`;
const SESSION = 'grafana_session=3f1c0ffee0ddba11';
const BASIC = `Basic ${Buffer.from('oncall:correct horse').toString('base64')}`;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

describe('runbooks rendered (runbooks/site.ts)', () => {
  it('runbooks/dist is what `npm run runbooks:build` renders, and nothing else', async () => {
    const files = renderRunbookSite();
    for (const [path, content] of files) {
      expect(await readFile(join(REPO_ROOT, path), 'utf8').catch(() => '(missing)'), `${path} is stale: run npm run runbooks:build`).toBe(content);
    }
    const present = (await readdir(join(REPO_ROOT, SITE_DIR))).map((name) => `${SITE_DIR}/${name}`);
    expect(present.sort(), 'files in runbooks/dist no runbook produces: run npm run runbooks:build').toEqual([...files.keys()].sort());
    expect(files.get(`${SITE_DIR}/index.html`)).toContain('<title>Runbooks</title>');
  });

  it('rewrites links: runbooks to their pages, the index to ./, other repository files to their path, URLs kept', () => {
    const known = new Set(['README.md', 'deploy.md', 'security.md']);
    expect(rewriteLink('deploy.md', known)).toEqual({ href: 'deploy.html' });
    expect(rewriteLink('./security.md#a-leaked-api-key', known)).toEqual({ href: 'security.html#a-leaked-api-key' });
    expect(rewriteLink('README.md', known)).toEqual({ href: './' });
    expect(rewriteLink('README.md#procedures', known)).toEqual({ href: './#procedures' });
    expect(rewriteLink('../deploy/README.md', known)).toEqual({ repoPath: 'deploy/README.md' });
    expect(rewriteLink('../services/api/README.md#security', known)).toEqual({ repoPath: 'services/api/README.md#security' });
    expect(rewriteLink('missing.md', known)).toEqual({ repoPath: 'runbooks/missing.md' });
    expect(rewriteLink('https://grafana.example.org/d/bpe-api', known)).toEqual({ href: 'https://grafana.example.org/d/bpe-api' });
    expect(rewriteLink('#diagnosis', known)).toEqual({ href: '#diagnosis' });

    const page = renderRunbook('x.md', '# Title & `code`\n\n## Diagnosis\n\n## Diagnosis\n\nSee [deploy](deploy.md), [the guide](../deploy/README.md), [x](#diagnosis-1).\n', known);
    expect(page.title).toBe('Title & code');
    expect(page.page).toBe('x.html');
    expect(page.html).toContain('<h2 id="diagnosis">Diagnosis</h2>');
    expect(page.html).toContain('<h2 id="diagnosis-1">Diagnosis</h2>');
    expect(page.html).toContain('<a href="deploy.html">deploy</a>');
    expect(page.html).toContain('the guide (<code class="repo-path">deploy/README.md</code>)');
    expect(page.html).not.toContain('README.md"');
    expect(headingId('Alerts not arriving: what to check, in order')).toBe('alerts-not-arriving-what-to-check-in-order');
    expect(headingId('Backup & restore (restic)')).toBe('backup--restore-restic');
  });

  it('the alerts link to the served pages: one per alert, each rendered from its runbook', () => {
    const pages = new Set([...renderRunbookSite().keys()].map((path) => path.slice(SITE_DIR.length + 1)));
    for (const alert of alertNames()) expect(pages, alert).toContain(runbookPage(runbookFile(mixinConfig, alert)));
    expect(runbookSources().map(runbookPage).sort()).toEqual([...pages].filter((p) => p.endsWith('.html')).sort());
  });
});

describe('runbooks served by Caddy behind Grafana\'s login (production Caddyfile; a stand-in for Grafana\'s /api/user)', { timeout: 120_000 }, () => {
  let dir: string;
  let grafana: Server;
  /** Stands in for Prometheus and Alertmanager: says which path reached it. */
  let monitoring: Server;
  let caddy: LocalCaddy;
  const asked: { path: string; method: string; cookie?: string; authorization?: string }[] = [];

  beforeAll(async () => {
    dir = await tempDir('runbooks-site');
    // Grafana's /api/user: 200 with the signed-in user for a valid session (cookie, or basic
    // auth, which Grafana also accepts), 401 otherwise. Any other path: Grafana's pages.
    grafana = createServer((request: IncomingMessage, response) => {
      const url = new URL(request.url ?? '/', 'http://grafana');
      if (url.pathname === '/api/user') {
        asked.push({ path: url.pathname, method: request.method ?? '', cookie: request.headers.cookie, authorization: request.headers.authorization });
        const cookies = (request.headers.cookie ?? '').split(/;\s*/);
        const signedIn = cookies.includes(SESSION) || request.headers.authorization === BASIC;
        response.writeHead(signedIn ? 200 : 401, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify(signedIn ? { id: 2, login: 'oncall', isGrafanaAdmin: false } : { message: 'Unauthorized' }));
        return;
      }
      response.writeHead(200, { 'Content-Type': 'text/plain' }).end(`grafana stand-in: ${url.pathname}`);
    });
    await new Promise<void>((resolve) => grafana.listen(0, '127.0.0.1', resolve));
    monitoring = createServer((request, response) => response.writeHead(200, { 'Content-Type': 'text/plain' }).end(`monitoring stand-in: ${request.url ?? ''}`));
    await new Promise<void>((resolve) => monitoring.listen(0, '127.0.0.1', resolve));
    const monitoringPort = (monitoring.address() as AddressInfo).port;
    caddy = await startLocalCaddy({
      prometheusUpstream: `127.0.0.1:${monitoringPort}`,
      alertmanagerUpstream: `localhost:${monitoringPort}`,
      dir: join(dir, 'caddy'),
      domain: DOMAIN,
      apiUpstream: '127.0.0.1:9',
      grafanaUpstream: `127.0.0.1:${(grafana.address() as AddressInfo).port}`,
    });
  });
  afterAll(async () => {
    await caddy?.stop();
    if (grafana?.listening) grafana.close();
    if (monitoring?.listening) monitoring.close();
    await removeDir(dir);
  });

  /** An HTTPS request to Caddy on loopback for `name`, trusting Caddy's internal CA only. */
  function https(name: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const request = httpsRequest({ host: '127.0.0.1', port: caddy.httpsPort, path, servername: name, ca: caddy.rootCa, headers: { host: name, ...headers } }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      });
      request.on('error', reject);
      request.end();
    });
  }
  const signedIn = (path: string) => https(GRAFANA, path, { cookie: `theme=dark; ${SESSION}` });

  it('refuses a page without a Grafana session: to Grafana\'s login, with the page to come back to', async () => {
    for (const [path, headers] of [
      ['/runbooks/', {}],
      ['/runbooks/ingester-down.html', {}],
      ['/runbooks/ingester-down.html', { cookie: 'grafana_session=forged' }],
      ['/runbooks/style.css', { authorization: `Basic ${Buffer.from('oncall:wrong').toString('base64')}` }],
    ] as const) {
      const answer = await https(GRAFANA, path, headers);
      expect(answer.status, path).toBe(302);
      expect(answer.headers.location).toBe('/login');
      expect(answer.headers['set-cookie']).toEqual([`redirect_to=${path}; Path=/; Max-Age=600; HttpOnly; Secure; SameSite=Lax`]);
      expect(answer.body).not.toContain('<html');
    }
    // Caddy asked Grafana, with the browser's cookies, by GET.
    expect(asked.at(-2)).toMatchObject({ path: '/api/user', method: 'GET', cookie: 'grafana_session=forged' });
    // Grafana's own pages (the login among them) are Grafana's.
    expect(await https(GRAFANA, '/login')).toMatchObject({ status: 200, body: 'grafana stand-in: /login' });
  });

  it('serves the index and an alert\'s runbook as HTML to a signed-in user, with a strict content policy', async () => {
    const index = await signedIn('/runbooks/');
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toMatch(/^text\/html/);
    expect(index.body).toContain('<title>Runbooks</title>');
    expect(index.body).toContain('<a href="ingester-down.html">');
    expect(index.headers['content-security-policy']).toContain("default-src 'none'");
    expect(index.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');

    const runbook = await signedIn('/runbooks/ingester-down.html');
    expect(runbook.status).toBe(200);
    expect(runbook.body).toContain('<h1 id="bpeingesterdown-the-ingester-is-down">BpeIngesterDown: the ingester is down</h1>');
    for (const section of ['Meaning', 'Impact', 'Diagnosis', 'Mitigation', 'Escalation']) expect(runbook.body).toContain(`<h2 id="${section.toLowerCase()}">${section}</h2>`);

    const css = await signedIn('/runbooks/style.css');
    expect(css.status).toBe(200);
    expect(css.headers['content-type']).toMatch(/^text\/css/);

    // Basic auth is a Grafana login too.
    expect((await https(GRAFANA, '/runbooks/', { authorization: BASIC })).status).toBe(200);
    // /runbooks without the slash, and the path on the API's host, lead there.
    expect(await https(GRAFANA, '/runbooks')).toMatchObject({ status: 308, headers: { location: '/runbooks/' } });
    const fromApiHost = await https(DOMAIN, '/runbooks/ingester-down.html');
    expect(fromApiHost.status).toBe(308);
    expect(fromApiHost.headers.location).toBe(`https://${GRAFANA}/runbooks/ingester-down.html`);
  });

  it('serves only the rendered site: no Markdown, no sources, no listing, nothing outside it', async () => {
    for (const path of ['/runbooks/README.md', '/runbooks/ingester-down.md', '/runbooks/site.ts', '/runbooks/dist/index.html', '/runbooks/missing.html']) {
      expect((await signedIn(path)).status, path).toBe(404);
    }
    // Dot segments (encoded or not) are resolved before routing: out of /runbooks/, the request is Grafana's.
    for (const path of ['/runbooks/../../package.json', '/runbooks/%2e%2e/%2e%2e/package.json', '/runbooks/..%2f..%2fpackage.json']) {
      const answer = await signedIn(path);
      expect(answer.body, path).not.toContain('bluesky-post-explorer');
      expect([404, 200], path).toContain(answer.status);
      if (answer.status === 200) expect(answer.body, path).toMatch(/^grafana stand-in: /);
    }
  });

  it('every runbook_url of alerts/dist opens a served page, the alert\'s own runbook', async () => {
    // Prometheus' --web.external-url in production (deploy/compose.yaml): https://<domain>/prometheus/.
    const vars = { labels: {}, value: '', externalLabels: { env: 'production' }, externalURL: `https://${DOMAIN}/prometheus/` };
    let checked = 0;
    for (const file of (await readdir(join(REPO_ROOT, RULES_DIR))).filter((name) => name.endsWith('.yml'))) {
      const { groups } = parse(await readFile(join(REPO_ROOT, RULES_DIR, file), 'utf8')) as { groups: { rules: { alert?: string; annotations?: { runbook_url?: string } }[] }[] };
      for (const rule of groups.flatMap((g) => g.rules).filter((r) => r.alert)) {
        const url = new URL(expandTemplate(rule.annotations!.runbook_url!, vars));
        expect(url.origin, rule.alert).toBe(`https://${GRAFANA}`);
        const answer = await https(url.hostname, url.pathname, { cookie: SESSION });
        expect(answer.status, `${rule.alert}: ${url.href}`).toBe(200);
        expect(answer.body, `${rule.alert}: ${url.href}`).toMatch(new RegExp(`<h1 id="[^"]+">${rule.alert!}\\b`));
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(alertNames().length);
  });

  it('every link inside the served pages resolves, anchors included, and the index reaches every page', async () => {
    const base = `https://${GRAFANA}/runbooks/`;
    const pages = new Map<string, string>();
    const queue = [base];
    const links: { from: string; to: URL }[] = [];
    while (queue.length > 0) {
      const url = queue.shift()!;
      if (pages.has(url)) continue;
      const answer = await signedIn(new URL(url).pathname);
      expect(answer.status, url).toBe(200);
      pages.set(url, answer.body);
      const hrefs = [...answer.body.matchAll(/<(?:a|link)\b[^>]*\bhref="([^"]*)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));
      for (const href of hrefs) {
        const to = new URL(href, url);
        if (to.origin !== `https://${GRAFANA}`) continue;
        expect(to.pathname, `${url}: ${href} leaves the runbooks`).toMatch(/^\/runbooks\//);
        links.push({ from: url, to });
        const target = `${to.origin}${to.pathname}`;
        if (target.endsWith('.html') || target.endsWith('/')) queue.push(target);
        else expect((await signedIn(to.pathname)).status, `${url}: ${href}`).toBe(200);
      }
    }
    expect(links.length).toBeGreaterThan(50);
    for (const { from, to } of links.filter((l) => l.to.hash)) {
      const target = pages.get(`${to.origin}${to.pathname}`)!;
      expect(target, `${from}: ${to.href}`).toContain(`id="${decodeURIComponent(to.hash.slice(1))}"`);
    }
    // Every page of the site is linked from the index or a page it links to.
    const served = [...renderRunbookSite().keys()].map((path) => path.slice(SITE_DIR.length + 1)).filter((name) => name.endsWith('.html') && name !== 'index.html');
    for (const page of served) expect(pages.has(`${base}${page}`), `${page} is reachable from the index`).toBe(true);
  });

  it('Prometheus and Alertmanager: behind the same login on Grafana\'s host, their prefix stripped; the API\'s host sends there', async () => {
    for (const path of ['/prometheus/graph', '/alertmanager/api/v2/status']) {
      const answer = await https(GRAFANA, path);
      expect(answer.status, path).toBe(302);
      expect(answer.headers.location).toBe('/login');
    }
    expect(await signedIn('/prometheus/api/v1/query?query=up')).toMatchObject({ status: 200, body: 'monitoring stand-in: /api/v1/query?query=up' });
    expect(await signedIn('/alertmanager/api/v2/alerts')).toMatchObject({ status: 200, body: 'monitoring stand-in: /api/v2/alerts' });
    expect(await signedIn('/prometheus')).toMatchObject({ status: 308, headers: { location: '/prometheus/' } });
    // Links in alert notifications name the API's host (Prometheus's --web.external-url): redirected, query kept.
    const fromApiHost = await https(DOMAIN, '/prometheus/graph?g0.expr=up');
    expect(fromApiHost.status).toBe(308);
    expect(fromApiHost.headers.location).toBe(`https://${GRAFANA}/prometheus/graph?g0.expr=up`);
  });

  it('fails closed: when Grafana cannot answer, no page is served', async () => {
    const closed = new Promise<void>((resolve) => grafana.close(() => resolve()));
    grafana.closeAllConnections();
    await closed;
    const answer = await signedIn('/runbooks/ingester-down.html');
    expect(answer.status).toBeGreaterThanOrEqual(500);
    expect(answer.body).not.toContain('<html');
  });
});
