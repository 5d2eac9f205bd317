// Telemetry of the real services under replayed traffic: every catalog metric is
// exported with exactly its declared labels and moves by what the traffic
// implies; readiness follows Redis; logs reach a Loki stand-in, and a Loki
// outage costs nothing but counted log records.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReplayServer, type ReplayServer } from '../loadtest/jetstream-replay/server.ts';
import { expectedEvents } from '../loadtest/lib/integrity.ts';
import { startRedisServer, type RedisServer } from '../services/stack/redis-server.ts';
import type { ServiceProcess } from '../services/stack/service-process.ts';
import { ApiKeyStore } from '../services/api/auth/keys.ts';
import { METRICS, metricsOf, promLabel, promName, type MetricSpec } from '../telemetry/metrics.ts';
import { renderMetricsDoc } from '../telemetry/render-metrics-doc.ts';
import {
  loggedPort,
  redisClient,
  redisKeys,
  removeDir,
  startApi,
  startIngester,
  startWriter,
  tempDir,
  uniquePrefix,
  waitForStored,
  waitUntil,
} from './helpers/pipeline.ts';
import { scrape, total, type Exposition } from './helpers/prometheus-text.ts';

const SCOPE_LABELS = ['otel_scope_name', 'otel_scope_version'];

/** A Loki stand-in: the push API's contract (POST /loki/api/v1/push, JSON streams), recorded. */
async function lokiStandIn() {
  const pushes: { stream: Record<string, string>; values: [string, string][] }[] = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      if (request.method !== 'POST' || request.url !== '/loki/api/v1/push' || !request.headers['content-type']?.includes('application/json')) {
        response.writeHead(400).end('bad push');
        return;
      }
      pushes.push(...(JSON.parse(body) as { streams: typeof pushes }).streams);
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, pushes, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** Checks that a catalog metric is exported with exactly its declared labels. */
function expectExported(exposition: Exposition, spec: MetricSpec): void {
  const name = spec.type === 'histogram' ? `${promName(spec)}_bucket` : promName(spec);
  const samples = exposition.samples.filter((s) => s.name === name);
  expect(samples.length, `${name} is exported`).toBeGreaterThan(0);
  const declared = [...spec.labels.map(promLabel), ...SCOPE_LABELS, ...(spec.type === 'histogram' ? ['le'] : [])].sort();
  for (const sample of samples) expect(Object.keys(sample.labels).sort(), `labels of ${name}`).toEqual(declared);
}

describe('telemetry of the running services', { timeout: 240_000 }, () => {
  let redisServer: RedisServer;
  let replay: ReplayServer;
  let loki: Awaited<ReturnType<typeof lokiStandIn>>;
  let dataDir: string;
  let redisDir: string;
  const prefix = uniquePrefix('telemetry');
  const services: Record<'ingester' | 'writer' | 'api', ServiceProcess> = {} as never;
  const ports: Record<'ingester' | 'writer' | 'api', { metrics: number; health: number }> = {} as never;

  beforeAll(async () => {
    redisDir = await tempDir('telemetry-redis');
    dataDir = await tempDir('telemetry-data');
    redisServer = await startRedisServer({ dir: redisDir });
    loki = await lokiStandIn();
    replay = await startReplayServer({ seed: 17, rate: 0, total: 8000, invalidRatio: 0.01, outboxLimit: 0 });
    const env = { redisUrl: redisServer.url, prefix, LOKI_URL: loki.url, LOKI_BATCH_SECONDS: '1', DEPLOYMENT_ENV: 'test' };
    services.writer = await startWriter({ ...env, DATA_DIR: dataDir, BATCH_MAX_EVENTS: '2000', BATCH_MAX_AGE_MS: '300', STORE_SAMPLE_SECONDS: '1' });
    services.ingester = await startIngester({ ...env, JETSTREAM_URL: replay.url });
    services.api = await startApi({ ...env, DATA_DIR: dataDir, SIDE_TABLE_REFRESH_MS: '200' });
    ports.ingester = { metrics: await loggedPort(services.ingester, 'ingester started', 'metricsPort'), health: await loggedPort(services.ingester, 'ingester started', 'healthPort') };
    ports.writer = { metrics: await loggedPort(services.writer, 'writer started', 'metricsPort'), health: await loggedPort(services.writer, 'writer started', 'healthPort') };
    ports.api = { metrics: await loggedPort(services.api, 'api started', 'metricsPort'), health: await loggedPort(services.api, 'api started', 'port') };
    await replay.whenReleased(8000);
  });
  afterAll(async () => {
    for (const service of Object.values(services)) await service?.stop('SIGKILL');
    await replay?.close();
    await loki?.close();
    await redisServer?.stop();
    await removeDir(dataDir);
    await removeDir(redisDir);
  });

  const sent = () => Array.from({ length: replay.releasedCount() }, (_, i) => replay.releasedEvent(i));

  it('METRICS.md is rendered from the catalog (npm run docs:metrics)', () => {
    expect(readFileSync(new URL('../telemetry/METRICS.md', import.meta.url), 'utf8')).toBe(renderMetricsDoc());
  });

  it('every catalog metric is exported with exactly its declared labels, and counters match the traffic', async () => {
    const redis = redisClient(redisServer.url);
    try {
      await waitForStored(redis, redisKeys(prefix), dataDir, sent);
    } finally {
      redis.disconnect();
    }
    const expected = expectedEvents(sent());
    // Some traffic for the API's metrics: searches, an export, a 404 and a 400.
    const api = `http://127.0.0.1:${ports.api.health}`;
    // The API needs a key; one request comes without, one with a key that does not exist.
    const keyRedis = redisClient(redisServer.url);
    const { key } = await new ApiKeyStore(keyRedis, prefix).create('telemetry test', ['search', 'export']);
    keyRedis.disconnect();
    const headers = { authorization: `Bearer ${key}` };
    const fetch = (url: string, init: RequestInit = {}) => globalThis.fetch(url, { headers, ...init });
    await waitUntil(async () => ((await (await fetch(`${api}/v1/search?limit=5`)).json()) as { results: unknown[] }).results.length === 5, 'the API to see posts');
    await fetch(`${api}/v1/search?limit=5`); // a cache hit
    await (await fetch(`${api}/v1/export?limit=20&format=ndjson`)).text();
    await fetch(`${api}/v1/posts/did:plc:nobody/3mptbyplj5d2a`);
    await fetch(`${api}/v1/search?limit=0`);
    await fetch(`${api}/v1/stats/timeseries`);
    await fetch(`${api}/v1/stats/hashtags`);
    expect((await fetch(`${api}/v1/stats/hashtags`, { headers: {} })).status).toBe(401);
    expect((await fetch(`${api}/v1/stats/hashtags`, { headers: { authorization: `Bearer bpe_0123456789abcdef_${'x'.repeat(43)}` } })).status).toBe(401);

    // The store is sampled every STORE_SAMPLE_SECONDS: wait for a sample taken after the traffic.
    await waitUntil(async () => total(await scrape(ports.writer.metrics), 'bpe_store_files', { table: 'posts' }) > 0, 'the store sample');

    const ingester = await scrape(ports.ingester.metrics);
    const writer = await scrape(ports.writer.metrics);
    const apiMetrics = await scrape(ports.api.metrics);
    for (const spec of metricsOf('ingester')) expectExported(ingester, spec);
    for (const spec of metricsOf('writer')) expectExported(writer, spec);
    for (const spec of metricsOf('api')) expectExported(apiMetrics, spec);

    // Counters move by what the traffic implies.
    expect(total(ingester, promName(METRICS.ingesterEventsStored))).toBe(expected.valid);
    expect(total(ingester, promName(METRICS.ingesterEventsReceived))).toBe(expected.valid);
    expect(total(ingester, promName(METRICS.ingesterDeadLettered))).toBe(expected.invalid);
    expect(total(ingester, promName(METRICS.ingesterEventsReceived), { kind: 'commit', collection: 'app.bsky.feed.post', operation: 'create' })).toBe(
      expected.byTable.get('posts')!.size,
    );
    for (const [table, keys] of expected.byTable) {
      expect(total(writer, promName(METRICS.writerEventsWritten), { table }), table).toBe(keys.size);
    }
    expect(total(writer, promName(METRICS.writerBatches), { outcome: 'failed' })).toBe(0);
    expect(total(writer, promName(METRICS.writerLeader))).toBe(1);
    expect(total(ingester, promName(METRICS.ingesterConnected))).toBe(1);
    expect(total(apiMetrics, promName(METRICS.apiRowsReturned), { endpoint: 'export' })).toBe(20);
    expect(total(apiMetrics, promName(METRICS.apiQueriesRejected), { reason: 'validation' })).toBe(1);
    expect(total(apiMetrics, promName(METRICS.apiCacheRequests), { result: 'hit' })).toBeGreaterThanOrEqual(1);
    expect(total(apiMetrics, 'http_server_request_duration_count', { http_route: '/v1/posts/:did/:rkey', http_response_status_code: '404' })).toBe(1);
    expect(total(apiMetrics, 'http_server_request_duration_count', { http_route: '/v1/search', http_response_status_code: '400' })).toBe(1);
    // Security signals: the two refused requests, and their audit entries (an export is one too).
    expect(total(apiMetrics, promName(METRICS.apiAuthFailures), { reason: 'missing' })).toBe(1);
    expect(total(apiMetrics, promName(METRICS.apiAuthFailures), { reason: 'unknown' })).toBe(1);
    expect(total(apiMetrics, promName(METRICS.auditEvents), { action: 'auth_failure' })).toBe(2);
    expect(total(apiMetrics, promName(METRICS.auditEvents), { action: 'export' })).toBe(1);
    // Resource attributes ride on target_info.
    expect(writer.samples.find((s) => s.name === 'target_info')?.labels).toMatchObject({ service_name: 'writer', service_version: '0.1.0', deployment_environment: 'test' });
  });

  it('logs reach Loki with service, env and level labels, and a JSON body', async () => {
    await waitUntil(async () => loki.pushes.some((p) => p.stream.service === 'writer') && loki.pushes.some((p) => p.stream.service === 'ingester'), 'logs in Loki');
    const writerStream = loki.pushes.find((p) => p.stream.service === 'writer')!;
    expect(writerStream.stream).toMatchObject({ service: 'writer', env: 'test', level: 'info' });
    const [timestampNs, line] = writerStream.values[0]!;
    expect(timestampNs).toMatch(/^\d{19}$/);
    expect(JSON.parse(line)).toMatchObject({ service: 'writer', version: '0.1.0' });
  });

  it('with Redis down, /readyz says 503 and every service stays up; they recover when it returns', async () => {
    const readyz = async (port: number) => (await fetch(`http://127.0.0.1:${port}/readyz`)).status;
    for (const name of ['ingester', 'writer', 'api'] as const) expect(await readyz(ports[name].health), name).toBe(200);
    await redisServer.kill();
    try {
      for (const name of ['ingester', 'writer', 'api'] as const) {
        await waitUntil(async () => (await readyz(ports[name].health)) === 503, `${name} not ready`, 20_000);
        expect(services[name].running, name).toBe(true);
      }
    } finally {
      await redisServer.restart();
    }
    for (const name of ['ingester', 'writer', 'api'] as const) await waitUntil(async () => (await readyz(ports[name].health)) === 200, `${name} ready again`, 30_000);
  });

  it('a Loki outage loses only log records, and counts them', async () => {
    await loki.close();
    const before = total(await scrape(ports.writer.metrics), promName(METRICS.logsDropped));
    // More traffic while Loki is down: it is all stored, and the writer's logs about it are counted as dropped.
    const more = await startReplayServer({ seed: 18, rate: 0, total: 3000, outboxLimit: 0 });
    try {
      const ingester = await startIngester({ redisUrl: redisServer.url, prefix, JETSTREAM_URL: more.url, LOKI_URL: loki.url, LOKI_BATCH_SECONDS: '1' });
      try {
        await more.whenReleased(3000);
        const redis = redisClient(redisServer.url);
        try {
          const everything = () => [...sent(), ...Array.from({ length: more.releasedCount() }, (_, i) => more.releasedEvent(i))];
          const report = await waitForStored(redis, redisKeys(prefix), dataDir, everything);
          expect(report).toMatchObject({ missing: 0, duplicates: 0 });
        } finally {
          redis.disconnect();
        }
        await waitUntil(async () => total(await scrape(ports.writer.metrics), promName(METRICS.logsDropped)) > before, 'dropped log records counted', 30_000);
        expect(services.writer.running && ingester.running).toBe(true);
      } finally {
        await ingester.stop('SIGKILL');
      }
    } finally {
      await more.close();
    }
  });
});
