// Headers, CORS, rate limits (shared by API processes through Redis) and request
// limits, and the one JSON shape of every error.

import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../services/api/auth/keys.ts';
import { SHARED_REDIS_URL, redisClient, removeDir, tempDir } from './helpers/pipeline.ts';
import { startTestApi, type TestApi } from './helpers/api-fixture.ts';

function expectErrorShape(body: string, code: string): void {
  const parsed = JSON.parse(body) as Record<string, unknown>;
  expect(Object.keys(parsed).sort()).toEqual(['error', 'message']);
  expect(parsed.error).toBe(code);
  expect(parsed.message).toEqual(expect.any(String));
  expect(body).not.toMatch(/at .*\.(ts|js):\d+|node_modules|SELECT|read_parquet/);
}

describe('security headers and CORS', { timeout: 120_000 }, () => {
  let dir: string;
  let api: TestApi;
  beforeAll(async () => {
    dir = await tempDir('headers');
    api = await startTestApi(dir, { CORS_ORIGINS: 'https://explorer.example.org' });
  });
  afterAll(async () => {
    await api?.close();
    await removeDir(dir);
  });

  it('sets helmet\'s defaults on answers and errors alike, and no X-Powered-By', async () => {
    for (const url of ['/v1/search?limit=1', '/healthz', '/v2/nothing', '/v1/search?limit=0']) {
      const response = await api.app.inject({ method: 'GET', url });
      expect(response.headers['content-security-policy'], url).toContain("default-src 'self'");
      expect(response.headers['strict-transport-security'], url).toMatch(/max-age=\d+/);
      expect(response.headers['x-content-type-options'], url).toBe('nosniff');
      expect(response.headers['x-frame-options'], url).toBe('SAMEORIGIN');
      expect(response.headers['cross-origin-opener-policy'], url).toBe('same-origin');
      expect(response.headers['x-powered-by'], url).toBeUndefined();
    }
  });

  it('answers CORS for the configured origins only', async () => {
    const preflight = (origin: string) =>
      api.app.inject({ method: 'OPTIONS', url: '/v1/search', headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
    const allowed = await preflight('https://explorer.example.org');
    expect(allowed.statusCode).toBe(204);
    expect(allowed.headers['access-control-allow-origin']).toBe('https://explorer.example.org');
    expect(String(allowed.headers['access-control-allow-headers'])).toContain('authorization');
    const refused = await preflight('https://evil.example.com');
    expect(refused.headers['access-control-allow-origin']).toBeUndefined();
    const get = await api.app.inject({ method: 'GET', url: '/v1/search?limit=1', headers: { origin: 'https://explorer.example.org' } });
    expect(get.headers['access-control-allow-origin']).toBe('https://explorer.example.org');
    expect(String(get.headers['access-control-expose-headers'])).toContain('retry-after');
    const other = await api.app.inject({ method: 'GET', url: '/v1/search?limit=1', headers: { origin: 'https://evil.example.com' } });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('without CORS_ORIGINS no origin is allowed', async () => {
    const closed = await startTestApi(dir);
    try {
      const response = await closed.app.inject({ method: 'GET', url: '/v1/search?limit=1', headers: { origin: 'https://explorer.example.org' } });
      expect(response.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await closed.close();
    }
  });
});

describe('rate limits', { timeout: 120_000 }, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir('rate-limits');
  });
  afterAll(async () => removeDir(dir));

  it('per key, shared by every API process through Redis: 429 with Retry-After past the limit', async () => {
    const a = await startTestApi(dir, { RATE_LIMIT_KEY_MAX: '5', RATE_LIMIT_KEY_WINDOW_SECONDS: '60' });
    const b = await startTestApi(dir, { RATE_LIMIT_KEY_MAX: '5', RATE_LIMIT_KEY_WINDOW_SECONDS: '60', REDIS_PREFIX: a.prefix });
    try {
      // One key, its requests spread over both processes.
      const headers = { authorization: a.authorization! };
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await (i % 2 ? b : a).app.inject({ method: 'GET', url: '/v1/stats/hashtags', headers })).statusCode);
      expect(statuses).toEqual([200, 200, 200, 200, 200]);
      const limited = await b.app.inject({ method: 'GET', url: '/v1/stats/hashtags', headers });
      expect(limited.statusCode).toBe(429);
      expectErrorShape(limited.body, 'rate_limited');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
      expect(limited.headers['x-ratelimit-limit']).toBe('5');
      expect(b.stats.rateLimited.key).toBe(1);
      // Another key is not affected; nor are health checks.
      const redis = redisClient(SHARED_REDIS_URL);
      const { key } = await new ApiKeyStore(redis, a.prefix).create('other', ['search']);
      redis.disconnect();
      expect((await a.app.inject({ method: 'GET', url: '/v1/stats/hashtags', headers: { authorization: `Bearer ${key}` } })).statusCode).toBe(200);
      expect((await a.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await b.close();
      await a.close();
    }
  });

  it('exports are limited tighter than searches', async () => {
    const api = await startTestApi(dir, { RATE_LIMIT_KEY_MAX: '100', RATE_LIMIT_EXPORT_MAX: '2' });
    try {
      expect((await api.app.inject({ method: 'GET', url: '/v1/export?limit=1' })).statusCode).toBe(200);
      expect((await api.app.inject({ method: 'GET', url: '/v1/export?limit=1' })).statusCode).toBe(200);
      const third = await api.app.inject({ method: 'GET', url: '/v1/export?limit=1' });
      expect(third.statusCode).toBe(429);
      expect(third.json<{ message: string }>().message).toMatch(/exports with this key/);
      expect((await api.app.inject({ method: 'GET', url: '/v1/search?limit=1' })).statusCode).toBe(200);
      expect(api.stats.rateLimited.export).toBe(1);
    } finally {
      await api.close();
    }
  });

  it('per client address, before the key is looked at (so guessing keys is limited too), behind a trusted proxy by X-Forwarded-For', async () => {
    const api = await startTestApi(dir, { RATE_LIMIT_IP_MAX: '3', TRUST_PROXY_HOPS: '1' });
    try {
      const guess = (ip: string) =>
        api.app.inject({ method: 'GET', url: '/v1/search', headers: { authorization: `Bearer bpe_0123456789abcdef_${'x'.repeat(43)}`, 'x-forwarded-for': ip } });
      expect((await guess('203.0.113.7')).statusCode).toBe(401);
      expect((await guess('203.0.113.7')).statusCode).toBe(401);
      expect((await guess('203.0.113.7')).statusCode).toBe(401);
      const limited = await guess('203.0.113.7');
      expect(limited.statusCode).toBe(429);
      expectErrorShape(limited.body, 'rate_limited');
      expect(api.stats.rateLimited.ip).toBe(1);
      expect(api.stats.authFailures.unknown).toBe(3); // the fourth never reached the key store
      expect((await guess('198.51.100.4')).statusCode).toBe(401); // another client
      expect((await api.app.inject({ method: 'GET', url: '/readyz', headers: { 'x-forwarded-for': '203.0.113.7' } })).statusCode).toBe(200);
    } finally {
      await api.close();
    }
  });
});

describe('request limits and the one error shape', { timeout: 120_000 }, () => {
  let dir: string;
  let api: TestApi;
  let port: number;
  beforeAll(async () => {
    dir = await tempDir('limits');
    api = await startTestApi(dir, { BODY_LIMIT_BYTES: '1024', MAX_HEADER_BYTES: '4096' });
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    port = (api.app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await api?.close();
    await removeDir(dir);
  });

  /** A raw HTTP exchange, for what fetch and inject would not send. */
  function raw(request: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.end(request));
      let data = '';
      socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
      socket.on('error', reject);
      socket.on('close', () => {
        const [head = '', body = ''] = data.split('\r\n\r\n');
        resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0), body });
      });
    });
  }

  it('a request head over MAX_HEADER_BYTES: 431, in JSON', async () => {
    const answer = await raw(`GET /v1/search HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(8000)}\r\nConnection: close\r\n\r\n`);
    expect(answer.status).toBe(431);
    expectErrorShape(answer.body, 'headers_too_large');
  });

  it('a malformed request: 400, in JSON', async () => {
    const answer = await raw('GET /v1/search HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n');
    expect(answer.status).toBe(400);
    expectErrorShape(answer.body, 'bad_request');
  });

  it('a body over BODY_LIMIT_BYTES: 413; an unknown content type: 415; both in JSON', async () => {
    const big = await api.app.inject({ method: 'POST', url: '/v1/admin/keys/0123456789abcdef/revoke', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ x: 'y'.repeat(5000) }) });
    expect(big.statusCode).toBe(413);
    expectErrorShape(big.body, 'payload_too_large');
    const odd = await api.app.inject({ method: 'POST', url: '/v1/admin/keys/0123456789abcdef/revoke', headers: { 'content-type': 'application/x-weird' }, payload: 'x' });
    expect(odd.statusCode).toBe(415);
    expectErrorShape(odd.body, 'unsupported_media_type');
  });

  it.each([
    ['/v2/nothing', 404, 'not_found'],
    ['/v1/search?limit=0', 400, 'bad_request'],
    ['/v1/search?start=2026-01-01T00:00:00Z&end=2026-11-20T00:00:00Z', 400, 'bad_request'],
  ])('%s: %i %s in the one JSON shape', async (url, status, code) => {
    const response = await api.app.inject({ method: 'GET', url });
    expect(response.statusCode).toBe(status);
    expectErrorShape(response.body, code);
  });

  it('401 and 403 in the same shape', async () => {
    const missing = await api.app.inject({ method: 'GET', url: '/v1/search', headers: { authorization: '' } });
    expectErrorShape(missing.body, 'unauthorized');
    const redis = redisClient(SHARED_REDIS_URL);
    const { key } = await new ApiKeyStore(redis, api.prefix).create('search only', ['search']);
    redis.disconnect();
    const forbidden = await api.app.inject({ method: 'GET', url: '/v1/export', headers: { authorization: `Bearer ${key}` } });
    expect(forbidden.statusCode).toBe(403);
    expectErrorShape(forbidden.body, 'forbidden');
  });
});
