// API keys and scopes: keys made by the real CLI (`npm run keys`), checked by the
// auth plugin of in-process APIs sharing one Redis, as two API processes would.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { runKeysCli } from '../services/api/auth/cli.ts';
import { API_KEY_PATTERN, keyId, keySecret, redactKeys } from '../services/api/auth/keys.ts';
import { REPO_ROOT } from '../base/paths.ts';
import { SHARED_REDIS_URL, redisClient, removeDir, tempDir, waitUntil } from './helpers/pipeline.ts';
import { startTestApi, type TestApi } from './helpers/api-fixture.ts';

const run = promisify(execFile);

describe('API keys, scopes and the auth plugin', { timeout: 120_000 }, () => {
  let dir: string;
  let api: TestApi;
  let second: TestApi;
  let redis: Redis;
  let prefix: string;
  const env = () => ({ REDIS_URL: SHARED_REDIS_URL, REDIS_PREFIX: prefix, AUDIT_ACTOR: 'auth-test' });

  async function cli(...args: string[]): Promise<string[]> {
    const out: string[] = [];
    const code = await runKeysCli(args, env(), (line) => out.push(line));
    expect(code).toBe(0);
    return out;
  }
  async function create(scopes: string, name = 'test key'): Promise<{ key: string; id: string }> {
    const [line] = await cli('create', '--name', name, '--scopes', scopes, '--json');
    return JSON.parse(line!) as { key: string; id: string };
  }
  const get = (target: TestApi, url: string, key?: string) =>
    target.app.inject({ method: 'GET', url, headers: { authorization: key === undefined ? '' : `Bearer ${key}` } });

  beforeAll(async () => {
    dir = await tempDir('auth');
    api = await startTestApi(dir, { API_KEY_CACHE_MS: '2000' });
    prefix = api.prefix;
    // A second API process on the same Redis (same prefix): what one revokes, both refuse.
    second = await startTestApi(dir, { API_KEY_CACHE_MS: '2000', REDIS_PREFIX: prefix });
    redis = redisClient(SHARED_REDIS_URL);
  });
  afterAll(async () => {
    await second?.close();
    await api?.close();
    redis?.disconnect();
    await removeDir(dir);
  });

  it('npm run keys -- create prints the key once; Redis keeps only its sha256, with name, scopes and times', async () => {
    const { stdout } = await run('npm', ['run', '--silent', 'keys', '--', 'create', '--name', 'researcher one', '--scopes', 'search,export'], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env() },
    });
    const key = API_KEY_PATTERN.exec(stdout)?.[0];
    expect(key).toBeDefined();
    expect(stdout).toMatch(/shown only now/);
    const id = keyId(key!)!;
    const stored = await redis.hgetall(`${prefix}:apikeys:${id}`);
    expect(stored).toMatchObject({ id, name: 'researcher one', scopes: 'search,export', hash: createHash('sha256').update(key!).digest('hex') });
    expect(Date.parse(stored.created_at!)).toBeGreaterThan(0);
    // Nowhere in Redis is the key itself.
    for (const name of await redis.keys(`${prefix}:*`)) {
      const type = await redis.type(name);
      const dump = type === 'hash' ? JSON.stringify(await redis.hgetall(name)) : type === 'stream' ? JSON.stringify(await redis.xrange(name, '-', '+')) : type === 'set' ? JSON.stringify(await redis.smembers(name)) : String(await redis.get(name).catch(() => ''));
      expect(dump, name).not.toContain(keySecret(key!)!);
    }
    // list shows it without any secret; last use appears once it is used.
    expect((await get(api, '/v1/stats/hashtags', key)).statusCode).toBe(200);
    const listed = JSON.parse((await cli('list', '--json'))[0]!) as { id: string; last_used_at: string | null; name: string }[];
    const entry = listed.find((k) => k.id === id)!;
    expect(entry.name).toBe('researcher one');
    expect(entry.last_used_at).not.toBeNull();
    expect(JSON.stringify(listed)).not.toContain(keySecret(key!)!);
  });

  it('401 for a missing, malformed or unknown key, with a Bearer challenge and the JSON error shape', async () => {
    const before = { ...api.stats.authFailures };
    const missing = await get(api, '/v1/search');
    expect(missing.statusCode).toBe(401);
    expect(missing.headers['www-authenticate']).toMatch(/^Bearer realm=/);
    expect(missing.json()).toEqual({ error: 'unauthorized', message: expect.stringContaining('Authorization: Bearer') });
    for (const bad of ['nonsense', `bpe_0123456789abcdef_${'A'.repeat(43)}`, `${(await create('search')).key}x`]) {
      const response = await get(api, '/v1/search', bad);
      expect(response.statusCode, bad).toBe(401);
      expect(response.json()).toMatchObject({ error: 'unauthorized', message: 'the API key is not valid' });
    }
    // A right id with a wrong secret is as unknown as anything else.
    const real = await create('search');
    const forged = `bpe_${real.id}_${'B'.repeat(43)}`;
    expect((await get(api, '/v1/search', forged)).statusCode).toBe(401);
    const basic = await api.app.inject({ method: 'GET', url: '/v1/search', headers: { authorization: `Basic ${Buffer.from(`x:${real.key}`).toString('base64')}` } });
    expect(basic.statusCode).toBe(401);
    expect(api.stats.authFailures.missing - before.missing).toBe(2);
    expect(api.stats.authFailures.unknown - before.unknown).toBe(4);
  });

  it('403 for a valid key without the route\'s scope; each scope opens its routes', async () => {
    const search = await create('search');
    const exporter = await create('export');
    const before = api.stats.authFailures.scope;
    expect((await get(api, '/v1/search?limit=1', search.key)).statusCode).toBe(200);
    expect((await get(api, '/v1/stats/timeseries', search.key)).statusCode).toBe(200);
    expect((await get(api, '/v1/posts/did:plc:abc/3mptbyplj5d2a', search.key)).statusCode).toBe(404);
    const denied = await get(api, '/v1/export?limit=1', search.key);
    expect(denied.statusCode).toBe(403);
    expect(denied.json()).toEqual({ error: 'forbidden', message: 'this key does not have the export scope' });
    expect((await get(api, '/v1/export?limit=1', exporter.key)).statusCode).toBe(200);
    expect((await get(api, '/v1/search', exporter.key)).statusCode).toBe(403);
    expect((await get(api, '/v1/admin/keys', search.key)).statusCode).toBe(403);
    expect(api.stats.authFailures.scope - before).toBe(3);
  });

  it('health, readiness and the documentation stay open; the OpenAPI document declares the bearer scheme', async () => {
    for (const url of ['/healthz', '/readyz', '/docs/', '/openapi.json']) expect((await get(api, url)).statusCode, url).toBe(200);
    const doc = (await get(api, '/openapi.json')).json<{ components: { securitySchemes: Record<string, { scheme: string }> }; security: unknown[]; paths: Record<string, { get: { security?: unknown[] } }> }>();
    expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ apiKey: [] }]);
    expect(doc.paths['/healthz']!.get.security).toEqual([]);
  });

  it('a revoked key stops working in every API process within API_KEY_CACHE_MS', async () => {
    const { key, id } = await create('search');
    // Both processes have checked, and cached, the key.
    expect((await get(api, '/v1/search?limit=1', key)).statusCode).toBe(200);
    expect((await get(second, '/v1/search?limit=1', key)).statusCode).toBe(200);
    const before = api.stats.authFailures.revoked + second.stats.authFailures.revoked;
    await cli('revoke', id);
    await waitUntil(async () => (await get(api, '/v1/search', key)).statusCode === 401 && (await get(second, '/v1/search', key)).statusCode === 401, 'both to refuse', 10_000, 100);
    expect((await get(api, '/v1/search', key)).json()).toMatchObject({ message: 'the API key was revoked or has expired' });
    expect(api.stats.authFailures.revoked + second.stats.authFailures.revoked).toBeGreaterThan(before);
    // Revoking again changes nothing.
    expect((await cli('revoke', id))[0]).toMatch(/already revoked/);
  });

  it('rotate: a new key with the same name and scopes; the old one revoked now, or after a grace period', async () => {
    const original = await create('search,export', 'rotating');
    const graceful = JSON.parse((await cli('rotate', original.id, '--grace-minutes', '30', '--json'))[0]!) as { key: string; id: string; rotated_from: string; scopes: string[]; old: { expires_at: string } };
    expect(graceful.rotated_from).toBe(original.id);
    expect(graceful.scopes).toEqual(['search', 'export']);
    expect(Date.parse(graceful.old.expires_at) - Date.now()).toBeGreaterThan(29 * 60_000);
    expect((await get(api, '/v1/search', original.key)).statusCode).toBe(200); // still within its grace period
    expect((await get(api, '/v1/export?limit=1', graceful.key)).statusCode).toBe(200);
    const immediate = JSON.parse((await cli('rotate', graceful.id, '--json'))[0]!) as { key: string };
    await waitUntil(async () => (await get(api, '/v1/search', graceful.key)).statusCode === 401, 'the rotated key refused', 10_000, 100);
    expect((await get(api, '/v1/search', immediate.key)).statusCode).toBe(200);
  });

  it('admin routes: keys with the admin scope list keys and revoke one, and each call is audited', async () => {
    const admin = await create('admin', 'an admin');
    const victim = await create('search', 'a victim');
    const listed = await get(api, '/v1/admin/keys', admin.key);
    expect(listed.statusCode).toBe(200);
    const keys = listed.json<{ keys: { id: string; name: string }[] }>().keys;
    expect(keys.map((k) => k.id)).toContain(victim.id);
    expect(listed.body).not.toMatch(/"hash"|bpe_[0-9a-f]{16}_/);
    const revoked = await api.app.inject({ method: 'POST', url: `/v1/admin/keys/${victim.id}/revoke`, headers: { authorization: `Bearer ${admin.key}` } });
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json()).toMatchObject({ id: victim.id, revoked_at: expect.any(String) });
    await waitUntil(async () => (await get(api, '/v1/search', victim.key)).statusCode === 401, 'the victim refused', 10_000, 100);
    expect((await api.app.inject({ method: 'POST', url: '/v1/admin/keys/0000000000000000/revoke', headers: { authorization: `Bearer ${admin.key}` } })).statusCode).toBe(404);
    const entries = (await redis.xrange(`${prefix}:audit`, '-', '+')).map(([, fields]) => JSON.parse(fields[1]!) as { action: string; actor: { id?: string }; details: Record<string, unknown> });
    expect(entries.some((e) => e.action === 'admin' && e.details.operation === 'list_keys' && e.actor.id === admin.id)).toBe(true);
    expect(entries.some((e) => e.action === 'key_revoked' && e.details.key_id === victim.id && e.actor.id === admin.id)).toBe(true);
  });

  it('the audit trail records key creation, rotation, revocation and failures, never a key', async () => {
    await waitUntil(async () => (await redis.xlen(`${prefix}:audit`)) > 0, 'audit entries');
    const raw = (await redis.xrange(`${prefix}:audit`, '-', '+')).map(([, fields]) => fields[1]!);
    const actions = new Set(raw.map((r) => (JSON.parse(r) as { action: string }).action));
    for (const action of ['key_created', 'key_rotated', 'key_revoked', 'auth_failure', 'admin']) expect(actions, action).toContain(action);
    for (const line of raw) expect(line).not.toMatch(API_KEY_PATTERN);
    const failure = raw.map((r) => JSON.parse(r) as { action: string; ip?: string; details: { reason?: string } }).find((e) => e.action === 'auth_failure')!;
    expect(failure.ip).toBe('127.0.0.1');
    expect(['missing', 'unknown', 'revoked', 'scope']).toContain(failure.details.reason);
  });

  it('API_AUTH=off opens every route (for local experiments only)', async () => {
    const open = await startTestApi(dir, { API_AUTH: 'off' });
    try {
      expect(open.authorization).toBeUndefined();
      expect((await open.app.inject({ method: 'GET', url: '/v1/search?limit=1' })).statusCode).toBe(200);
    } finally {
      await open.close();
    }
  });
});

describe('the shape of an API key', () => {
  // The secret is base64url, so about half of all keys hold `_` in it: code that
  // splits a key on `_` works on most keys and fails on some (a flaky test did).
  it('keyId and keySecret take the secret whole, `_` and `-` included; redactKeys keeps only the id', () => {
    const id = '0123456789abcdef';
    for (const secret of [`_${'a'.repeat(42)}`, `${'b'.repeat(20)}__-${'c'.repeat(20)}`, `${'d'.repeat(42)}_`]) {
      const key = `bpe_${id}_${secret}`;
      expect(key).toMatch(API_KEY_PATTERN);
      expect(keyId(key)).toBe(id);
      expect(keySecret(key)).toBe(secret);
      expect(redactKeys(`key ${key} end`)).toBe(`key bpe_${id}_[redacted] end`);
    }
    for (const bad of [`bpe_${id}_${'a'.repeat(42)}`, `bpe_${id.slice(1)}_${'a'.repeat(43)}`, `xbpe_${id}_${'a'.repeat(43)}`]) {
      expect(keyId(bad), bad).toBeUndefined();
      expect(keySecret(bad), bad).toBeUndefined();
    }
  });
});
