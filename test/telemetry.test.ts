// Telemetry of the real services under replayed traffic: every catalog metric is
// exported with exactly its declared labels and moves by what the traffic
// implies; readiness follows Redis; logs reach a Loki stand-in (Loki itself cannot
// be installed here: the stand-in speaks its documented push API), a Loki restart
// loses no log record, and what Loki never gets is counted. The Loki transport is
// also tested in-process, with small buffers and fast retries.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReplayServer, type ReplayServer } from '../loadtest/jetstream-replay/server.ts';
import { expectedEvents } from '../loadtest/lib/integrity.ts';
import { startRedisServer, type RedisServer } from '../base/redis-server.ts';
import type { ServiceProcess } from '../base/service-process.ts';
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
import { closeLogger, createLogger, droppedLogRecords, type Logger, type LokiTuning } from '../services/shared/logger.ts';

const SCOPE_LABELS = ['otel_scope_name', 'otel_scope_version'];

/** A pushed stream as Loki's JSON push API carries it. */
interface LokiStream {
  stream: Record<string, string>;
  values: [string, string][];
}

/**
 * A Loki stand-in (Loki itself cannot be installed here): its documented push API
 * (POST /loki/api/v1/push, JSON streams, 204), recorded. It can go away (`stop`: the
 * port refuses connections, as while Loki restarts) and come back on the same port
 * (`start`), answer 503 (`unavailable`: Loki starting, not ready) or 400 (`refuse`: a
 * push Loki will never take).
 */
async function lokiStandIn() {
  const pushes: LokiStream[] = [];
  const refused: LokiStream[] = [];
  let mode: 'accept' | 'unavailable' | 'refuse' = 'accept';
  let unavailableAnswers = 0;
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      if (request.method !== 'POST' || request.url !== '/loki/api/v1/push' || !request.headers['content-type']?.includes('application/json')) {
        response.writeHead(400).end('bad push');
        return;
      }
      const streams = (JSON.parse(body) as { streams: LokiStream[] }).streams;
      if (mode === 'unavailable') {
        unavailableAnswers += 1;
        response.writeHead(503).end('Ingester not ready');
      } else if (mode === 'refuse') {
        refused.push(...streams);
        response.writeHead(400).end('entry too far behind');
      } else {
        pushes.push(...streams);
        response.writeHead(204).end();
      }
    });
  });
  const listen = (port: number) => new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  await listen(0);
  const port = (server.address() as AddressInfo).port;
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) {
        resolve();
        return;
      }
      server.close(() => resolve());
      // Keep-alive connections too: the next push must meet a closed port.
      server.closeAllConnections();
    });
  return {
    url: `http://127.0.0.1:${port}`,
    pushes,
    refused,
    get unavailableAnswers() {
      return unavailableAnswers;
    },
    setMode(next: typeof mode) {
      mode = next;
    },
    stop,
    /** Listens again on the same port. */
    start: () => listen(port),
    close: stop,
  };
}

/** The level label the transport gives a pino level, as dashboards/queries.ts and the runbooks query it. */
const LEVEL_LABEL: Record<number, string> = { 10: 'debug', 20: 'debug', 30: 'info', 40: 'warning', 50: 'error', 60: 'critical' };

/** Equal line lists per level, whatever order the levels first appeared in. */
function sameLines(a: Record<string, string[]>, b: Record<string, string[]>): boolean {
  const canonical = (x: Record<string, string[]>) => JSON.stringify(Object.keys(x).sort().map((k) => [k, x[k]]));
  return canonical(a) === canonical(b);
}

/** Lines of the streams with these labels, per level label, in the order they were pushed. */
function linesByLevel(streams: LokiStream[], labels: Record<string, string>): Record<string, string[]> {
  const byLevel: Record<string, string[]> = {};
  for (const { stream, values } of streams) {
    if (!Object.entries(labels).every(([k, v]) => stream[k] === v)) continue;
    (byLevel[stream.level!] ??= []).push(...values.map(([, line]) => line));
  }
  return byLevel;
}

/** Checks that a catalog metric is exported with exactly its declared labels. */
function expectExported(exposition: Exposition, spec: MetricSpec): void {
  const name = spec.type === 'histogram' ? `${promName(spec)}_bucket` : promName(spec);
  const samples = exposition.samples.filter((s) => s.name === name);
  expect(samples.length, `${name} is exported`).toBeGreaterThan(0);
  const declared = [...spec.labels.map(promLabel), ...SCOPE_LABELS, ...(spec.type === 'histogram' ? ['le'] : [])].sort();
  for (const sample of samples) expect(Object.keys(sample.labels).sort(), `labels of ${name}`).toEqual(declared);
}

/** Records (by their `seq`) of the pushed streams of one service, per level label, in the order pushed. */
function seqsByLevel(loki: Awaited<ReturnType<typeof lokiStandIn>>, service: string): Record<string, number[]> {
  const byLevel: Record<string, number[]> = {};
  for (const [level, lines] of Object.entries(linesByLevel(loki.pushes, { service }))) byLevel[level] = lines.map((l) => (JSON.parse(l) as { seq: number }).seq);
  return byLevel;
}

describe('the Loki transport, in-process, against a stand-in of Loki\'s push API (Loki itself does not run here)', () => {
  // Small batches, fast retries and a small buffer, so that an outage, a retry or a full
  // buffer takes a few records and milliseconds; production keeps the transport's defaults.
  const fast = (tuning: LokiTuning = {}) => ({ retryMinMs: 20, retryMaxMs: 200, ...tuning });
  const open: { logger: Logger; loki: Awaited<ReturnType<typeof lokiStandIn>> }[] = [];
  const setup = async (service: string, tuning: LokiTuning, batchSeconds = 0.05) => {
    const loki = await lokiStandIn();
    const logger = createLogger(service, { lokiUrl: loki.url, environment: 'test', lokiBatchSeconds: batchSeconds, lokiTuning: fast(tuning) });
    open.push({ logger, loki });
    return { loki, logger };
  };
  afterAll(async () => {
    for (const { logger, loki } of open) {
      await closeLogger(logger);
      await loki.close();
    }
  });

  it('a Loki restart (connection refused, then 503) loses no record: each arrives once, in order within its stream, and none is counted as dropped', async () => {
    const { loki, logger } = await setup('restart-test', { batchRecords: 7 });
    await loki.stop();
    const before = droppedLogRecords();
    const logged: { seq: number; level: 'info' | 'warn' }[] = [];
    const log = (from: number, to: number, msg: string) => {
      for (let seq = from; seq < to; seq++) {
        const level = seq % 3 === 0 ? 'warn' : 'info';
        logger[level]({ seq }, msg);
        logged.push({ seq, level });
      }
    };
    log(0, 40, 'while Loki is down');
    // Not an outcome, coverage: the transport retries every 20-200 ms, so it meets the
    // closed port a few times meanwhile; the assertions hold however many times it did.
    await new Promise((resolve) => setTimeout(resolve, 500));
    loki.setMode('unavailable');
    await loki.start();
    log(40, 60, 'while Loki answers 503');
    await waitUntil(async () => loki.unavailableAnswers >= 3, 'pushes answered 503, and retried', 30_000, 20);
    loki.setMode('accept');
    log(60, 75, 'Loki is back');
    await waitUntil(async () => Object.values(seqsByLevel(loki, 'restart-test')).flat().length >= logged.length, 'every record in Loki', 30_000, 20);
    await closeLogger(logger);

    const expected = {
      info: logged.filter((r) => r.level === 'info').map((r) => r.seq),
      warning: logged.filter((r) => r.level === 'warn').map((r) => r.seq),
    };
    expect(seqsByLevel(loki, 'restart-test')).toEqual(expected);
    // Timestamps strictly increase within a stream, across pushes: Loki keeps the order, and
    // takes no record for a duplicate of another (same timestamp, same line).
    const timestamps: Record<string, bigint[]> = {};
    for (const { stream, values } of loki.pushes) (timestamps[stream.level!] ??= []).push(...values.map(([ts]) => BigInt(ts)));
    for (const series of Object.values(timestamps)) for (let i = 1; i < series.length; i++) expect(series[i]! > series[i - 1]!).toBe(true);
    expect(loki.pushes[0]!.stream).toEqual({ service: 'restart-test', env: 'test', level: expect.stringMatching(/^(info|warning)$/) });
    expect(droppedLogRecords() - before).toBe(0);
  });

  it('an outage longer than the buffer drops the oldest records only, and counts exactly those as dropped', async () => {
    const { loki, logger } = await setup('overflow-test', { bufferRecords: 10, batchRecords: 4 });
    await loki.stop();
    const before = droppedLogRecords();
    for (let seq = 0; seq < 25; seq++) logger.info({ seq }, 'outage longer than the buffer');
    // 25 records, room for 10: 15 are evicted, oldest first, each counted once the push
    // that might have carried it has failed.
    const counted = await waitUntil(async () => (droppedLogRecords() - before >= 15 ? droppedLogRecords() - before : undefined), '15 records counted as dropped', 30_000, 20);
    expect(counted).toBe(15);
    await loki.start();
    await waitUntil(async () => (seqsByLevel(loki, 'overflow-test').info?.length ?? 0) >= 10, 'the 10 held records in Loki', 30_000, 20);
    await closeLogger(logger);
    expect(seqsByLevel(loki, 'overflow-test')).toEqual({ info: [15, 16, 17, 18, 19, 20, 21, 22, 23, 24] });
    expect(droppedLogRecords() - before).toBe(15);
  });

  it('a push Loki refuses (400) is not retried: its records are counted as dropped, and later ones still arrive', async () => {
    const { loki, logger } = await setup('refused-test', {});
    loki.setMode('refuse');
    const before = droppedLogRecords();
    for (let seq = 0; seq < 6; seq++) logger.error({ seq }, 'refused by Loki');
    await waitUntil(async () => droppedLogRecords() - before >= 6, 'the refused records counted', 30_000, 20);
    loki.setMode('accept');
    logger.error({ seq: 6 }, 'taken by Loki');
    await waitUntil(async () => (seqsByLevel(loki, 'refused-test').error?.length ?? 0) >= 1, 'the next record in Loki', 30_000, 20);
    await closeLogger(logger);
    expect(linesByLevel(loki.refused, { service: 'refused-test' }).error).toHaveLength(6);
    expect(seqsByLevel(loki, 'refused-test')).toEqual({ error: [6] });
    expect(droppedLogRecords() - before).toBe(6);
  });

  it('closing with Loki away gives up within the close deadline and counts what it held as dropped', async () => {
    // (That closing pushes what is held is checked on a real stop: the service test below.)
    // A batch period far longer than the test: only the close could push these.
    const { loki, logger } = await setup('close-away-test', { closeTimeoutMs: 300 }, 60);
    await loki.stop();
    const before = droppedLogRecords();
    for (let seq = 0; seq < 5; seq++) logger.info({ seq }, 'Loki is away at close');
    await closeLogger(logger);
    await waitUntil(async () => droppedLogRecords() - before >= 5, 'the unsent records counted', 30_000, 20);
    expect(droppedLogRecords() - before).toBe(5);
    expect(loki.pushes).toHaveLength(0);
  });
});

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

  it('a Loki outage (connection refused, then 503) blocks nothing and loses no log record; what Loki refuses (400) is counted as dropped, exactly', async () => {
    // Loki goes away (its port refuses connections) while a second ingester, whose streams
    // carry env="loki-outage", stores more traffic and logs about it.
    await loki.stop();
    const more = await startReplayServer({ seed: 18, rate: 0, total: 3000, outboxLimit: 0 });
    let moreClosed = false;
    const ingester = await startIngester({ redisUrl: redisServer.url, prefix, JETSTREAM_URL: more.url, LOKI_URL: loki.url, LOKI_BATCH_SECONDS: '1', DEPLOYMENT_ENV: 'loki-outage' });
    try {
      const metricsPort = await loggedPort(ingester, 'ingester started', 'metricsPort');
      const dropped = async () => total(await scrape(metricsPort), promName(METRICS.logsDropped));
      await more.whenReleased(3000);
      const redis = redisClient(redisServer.url);
      try {
        const everything = () => [...sent(), ...Array.from({ length: more.releasedCount() }, (_, i) => more.releasedEvent(i))];
        const report = await waitForStored(redis, redisKeys(prefix), dataDir, everything);
        expect(report).toMatchObject({ missing: 0, duplicates: 0 });
      } finally {
        redis.disconnect();
      }
      expect(services.writer.running && ingester.running).toBe(true);

      // Loki comes back, answering 503 at first (as while it starts), then takes pushes.
      loki.setMode('unavailable');
      await loki.start();
      await waitUntil(async () => loki.unavailableAnswers > 0, 'a push answered 503', 30_000);
      loki.setMode('accept');
      // Every line the ingester printed (its pino lines, which carry `version`) reaches Loki
      // once, in order within its stream: the line as printed, under the level label.
      const printed = () => {
        const byLevel: Record<string, string[]> = {};
        for (const line of ingester.lines) {
          let record: { service?: unknown; version?: unknown; level?: unknown };
          try {
            record = JSON.parse(line) as typeof record;
          } catch {
            continue;
          }
          if (record.service !== 'ingester' || typeof record.version !== 'string') continue;
          (byLevel[LEVEL_LABEL[record.level as number]!] ??= []).push(line);
        }
        return byLevel;
      };
      const shipped = () => linesByLevel(loki.pushes, { service: 'ingester', env: 'loki-outage' });
      await waitUntil(async () => sameLines(shipped(), printed()), 'every line the ingester printed during the outage in Loki, once and in order', 60_000);
      expect(Object.values(shipped()).flat().filter((l) => /"msg":"(ingester started|connected to jetstream)"/.test(l))).toHaveLength(2);
      expect(await dropped()).toBe(0);

      // Now Loki refuses the pushes (400): those records are lost, and exactly those are counted.
      loki.setMode('refuse');
      await more.close(); // the ingester logs its reconnection attempts
      moreClosed = true;
      const refused = () => linesByLevel(loki.refused, { service: 'ingester', env: 'loki-outage' });
      // The counter moves after the stand-in has answered: read it first, then the stand-in.
      await waitUntil(
        async () => {
          const counted = await dropped();
          const lost = Object.values(refused()).flat().length;
          return lost > 0 && counted === lost;
        },
        'the dropped counter to equal the records Loki refused',
        60_000,
      );
      expect(ingester.running).toBe(true);

      // Loki takes pushes again, and the ingester is stopped: the lines of the stop itself,
      // logged right before the process exits, reach Loki (the transport pushes on close).
      loki.setMode('accept');
      expect(await ingester.stop('SIGTERM')).toMatchObject({ code: 0 });
      const stopped = ingester.lines.find((l) => l.includes('"msg":"stopped"'));
      expect(stopped).toBeDefined();
      expect(Object.values(shipped()).flat()).toContain(stopped);
    } finally {
      loki.setMode('accept');
      await ingester.stop('SIGKILL');
      if (!moreClosed) await more.close();
    }
  });
});
