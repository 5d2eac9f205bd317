// Nothing secret in the repository, the image or the logs: the tracked files hold no
// key material; the image is built from an allow-list of directories; and an
// end-to-end run with real secrets (Redis ACL passwords in 0600 files, API keys,
// wrong keys presented by clients) leaves none of them in any service's output, in
// Loki, in the audit trail or in the dead letters.

import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReplayServer, type ReplayServer } from '../loadtest/jetstream-replay/server.ts';
import { REPO_ROOT } from '../base/paths.ts';
import { type ServiceProcess } from '../base/service-process.ts';
import { API_KEY_PATTERN, keyId, keySecret } from '../services/api/auth/keys.ts';
import { runKeysCli } from '../services/api/auth/cli.ts';
import { loggedPort, redisKeys, removeDir, startApi, startIngester, startWriter, tempDir, waitForStored, waitUntil } from './helpers/pipeline.ts';
import { startSecureRedis, type SecureRedis } from './helpers/secure-redis.ts';

const run = promisify(execFile);

/** Key material by its shape. */
const KEY_MATERIAL: [string, RegExp][] = [
  ['an API key', new RegExp(API_KEY_PATTERN.source)],
  ['a private key', /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/],
  ['an AWS access key', /\bAKIA[0-9A-Z]{16}\b/],
  ['a GitHub token', /\bgh[pousr]_[A-Za-z0-9]{36}\b/],
  ['a Slack token', /\bxox[abprs]-[A-Za-z0-9-]{10,}/],
  ['a Redis ACL password in clear', /^user \S+ .*(?:^|\s)>\S/m],
  ['a Redis ACL password hash', /^user \S+ .*#[0-9a-f]{64}/m],
];
/** Credentials in URLs: allowed only when the password is a visible placeholder of a test or a doc. */
const URL_CREDENTIALS = /\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@'"`]+:([^\s/@'"`]+)@/g;
const PLACEHOLDER_PASSWORDS = new Set(['secret', 'rotated', 'password', 'PASSWORD', '***', '...']);

describe('nothing secret in the repository or the image', () => {
  it('no tracked file holds key material or a real credential', async () => {
    const { stdout } = await run('git', ['ls-files', '-z'], { cwd: REPO_ROOT, maxBuffer: 64 * 2 ** 20 });
    const files = stdout.split('\0').filter(Boolean);
    expect(files.length).toBeGreaterThan(50);
    const findings: string[] = [];
    for (const file of files) {
      const text = await readFile(join(REPO_ROOT, file), 'utf8').catch(() => '');
      for (const [what, pattern] of KEY_MATERIAL) if (pattern.test(text)) findings.push(`${file}: ${what}`);
      for (const match of text.matchAll(URL_CREDENTIALS)) {
        const password = match[1]!;
        if (!PLACEHOLDER_PASSWORDS.has(password) && !password.startsWith('${') && !password.startsWith('<')) findings.push(`${file}: credentials in a URL (${match[0].slice(0, 40)}…)`);
      }
    }
    expect(findings).toEqual([]);
  });

  it('.gitignore keeps local state out: the data directory (demo key, audit files), secrets', async () => {
    const ignored = async (path: string) => (await run('git', ['check-ignore', '-q', path], { cwd: REPO_ROOT }).then(() => true, () => false));
    expect(await ignored('.data/demo-api-key')).toBe(true);
    expect(await ignored('.data/audit/audit-2026-11-20.jsonl')).toBe(true);
  });

  it('the image copies an allow-list of source directories, never secrets or local data', async () => {
    const dockerfile = await readFile(join(REPO_ROOT, 'deploy', 'Dockerfile'), 'utf8');
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
    expect([...new Set(sources)].sort()).toEqual(['base', 'deploy/backup/manifest.ts', 'deploy/tsconfig.build.json', 'package-lock.json', 'package.json', 'services', 'telemetry', 'tsconfig.json']);
    const ignore = await readFile(join(REPO_ROOT, 'deploy', 'Dockerfile.dockerignore'), 'utf8');
    expect(ignore).toMatch(/^\.data$/m);
  });
});

describe('nothing secret in the logs of an end-to-end run', { timeout: 240_000 }, () => {
  let root: string;
  let redis: SecureRedis;
  let replay: ReplayServer;
  let loki: Server;
  const pushes: string[] = [];
  const services: ServiceProcess[] = [];

  beforeAll(async () => {
    root = await tempDir('secrets-e2e');
    redis = await startSecureRedis(root);
    replay = await startReplayServer({ seed: 41, rate: 0, total: 2000, invalidRatio: 0.05, outboxLimit: 0 });
    loki = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        pushes.push(body);
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => loki.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    for (const service of services) await service.stop('SIGKILL');
    await replay?.close();
    await new Promise((resolve) => loki?.close(resolve));
    await redis?.close();
    await removeDir(root);
  });

  it('runs the pipeline, the API and the keys CLI with real secrets, and finds none of them in any output', async () => {
    const dataDir = join(root, 'parquet');
    const auditDir = join(root, 'audit');
    const lokiEnv = { LOKI_URL: `http://127.0.0.1:${(loki.address() as AddressInfo).port}`, LOKI_BATCH_SECONDS: '1', LOG_LEVEL: 'debug' };
    services.push(await startWriter({ redisUrl: redis.server.url, prefix: 'bpe', ...redis.env('writer'), ...lokiEnv, DATA_DIR: dataDir, BATCH_MAX_AGE_MS: '300' }));
    services.push(await startIngester({ redisUrl: redis.server.url, prefix: 'bpe', ...redis.env('ingester'), ...lokiEnv, JETSTREAM_URL: replay.url }));
    await replay.whenReleased(2000);
    const admin = await redis.client('admin');
    await waitForStored(admin, redisKeys('bpe'), dataDir, () => Array.from({ length: replay.releasedCount() }, (_, i) => replay.releasedEvent(i)));

    // Keys from the CLI: its output shows the key once, on purpose (nothing else does).
    const cliOut: string[] = [];
    const keysEnv = { ...redis.env('keys'), REDIS_PREFIX: 'bpe' };
    await runKeysCli(['create', '--name', 'e2e', '--scopes', 'search,export,admin'], keysEnv, (l) => cliOut.push(l));
    const key = cliOut.at(-1)!;
    expect(key).toMatch(API_KEY_PATTERN);
    await runKeysCli(['list'], keysEnv, (l) => cliOut.push(l));
    await runKeysCli(['rotate', keyId(key)!, '--grace-minutes', '5'], keysEnv, (l) => cliOut.push(l));
    const rotated = cliOut.at(-1)!;

    const api = await startApi({ redisUrl: redis.server.url, prefix: 'bpe', ...redis.env('api'), ...lokiEnv, DATA_DIR: dataDir, AUDIT_DIR: auditDir, AUDIT_SYNC_MS: '200' });
    services.push(api);
    const base = `http://127.0.0.1:${await loggedPort(api, 'api started', 'port')}`;
    // Traffic: good keys, a wrong key of the right shape, junk, an export, a failing query.
    const wrong = `bpe_${keyId(key)}_${'W'.repeat(43)}`;
    for (const authorization of [`Bearer ${key}`, `Bearer ${rotated}`, `Bearer ${wrong}`, 'Bearer not-a-key', `Basic ${Buffer.from(`u:${await redis.password('api')}`).toString('base64')}`]) {
      await (await fetch(`${base}/v1/search?limit=3`, { headers: { authorization } })).text();
    }
    await (await fetch(`${base}/v1/export?limit=5&format=ndjson`, { headers: { authorization: `Bearer ${key}` } })).text();
    await (await fetch(`${base}/v1/search?limit=0&text=${encodeURIComponent(wrong)}`, { headers: { authorization: `Bearer ${key}` } })).text();
    await fetch(`${base}/v1/admin/keys`, { headers: { authorization: `Bearer ${rotated}` } });
    await waitUntil(async () => (await readdir(auditDir).catch(() => [])).length > 0, 'the audit files');
    await waitUntil(async () => pushes.some((p) => p.includes('"audit":"true"')) && pushes.some((p) => p.includes('"service":"ingester"')), 'logs and audit entries in Loki');

    const secrets = [
      ...(await Promise.all(['ingester', 'writer', 'api', 'keys', 'backup', 'exporter', 'admin'].map((u) => redis.password(u)))),
      ...[key, rotated, wrong].map((k) => keySecret(k)!),
    ];
    for (const secret of secrets.slice(-3)) expect(secret).toHaveLength(43);
    const outputs: [string, string][] = [
      ...services.map((s): [string, string] => [`${s.options.name} output`, s.lines.join('\n')]),
      ['Loki pushes', pushes.join('\n')],
      ['the keys CLI (but the two lines that hand out a key)', cliOut.filter((l) => l !== key && l !== rotated).join('\n')],
      ['the audit files', (await Promise.all((await readdir(auditDir)).map((f) => readFile(join(auditDir, f), 'utf8')))).join('\n')],
      ['the audit stream and dead letters', JSON.stringify([await admin.xrange('bpe:audit', '-', '+'), await admin.xrange('bpe:deadletter', '-', '+')])],
    ];
    expect(outputs.every(([, text]) => text.length > 0)).toBe(true);
    for (const [where, text] of outputs) {
      for (const secret of secrets) expect(text.includes(secret), `a secret in ${where}`).toBe(false);
      for (const [what, pattern] of KEY_MATERIAL) expect(pattern.test(text), `${what} in ${where}`).toBe(false);
    }
  });
});
