// `npm run bench:tls [-- --events N --duration S --connections C --rounds R]`: what
// TLS at the edge costs. One run, same machine, same API process: autocannon
// against the API directly over plain HTTP, and through Caddy (the production
// Caddyfile, internal CA on loopback) over HTTPS, in back-to-back pairs of short
// runs, the order alternating; the overhead is the median over pairs of
// 1 - https/plain, so a load that comes and goes on the machine weighs on both
// halves of a pair alike. Three endpoints: a search (real DuckDB work; the goal,
// under 10% overhead, is stated for it), one post by its key (a light query), and
// /healthz (no work at all: the most the proxy and TLS can cost per request).
// Keep-alive connections, as real clients use: the handshake is paid once per
// connection, the encryption on every byte. Four connections by default, as many as
// the API runs queries at once (MAX_CONCURRENT_QUERIES): more only queue, and the
// queueing adds noise to both sides. The last line printed is one JSON object.

import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateFrames } from '../jetstream-replay/generator.ts';
import { openDuckDB } from '../../services/shared/duckdb.ts';
import { buildBatchRows } from '../../services/writer/batch.ts';
import { ParquetSink } from '../../services/writer/parquet-sink.ts';
import { freePort, waitForPort } from '../../base/ports.ts';
import { startRedisServer } from '../../base/redis-server.ts';
import { ServiceProcess } from '../../base/service-process.ts';
import { createRedis } from '../../services/shared/redis.ts';
import { ApiKeyStore } from '../../services/api/auth/keys.ts';
import { startLocalCaddy } from '../../deploy/config/caddy/local.ts';

interface CannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
type Cannon = (options: {
  url: string;
  connections: number;
  duration: number;
  headers: Record<string, string>;
  servername?: string;
  tlsOptions?: Record<string, unknown>;
}) => Promise<CannonResult>;
// autocannon ships no types; only its promise form is used here.
const autocannon = createRequire(import.meta.url)('autocannon') as Cannon;

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '40000' },
    duration: { type: 'string', default: '4' },
    connections: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '6' },
    keep: { type: 'boolean', default: false },
  },
});
const events = Number(values.events);
const duration = Number(values.duration);
const connections = Number(values.connections);
const rounds = Number(values.rounds);
for (const [name, value] of Object.entries({ events, duration, connections, rounds })) {
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
}

const DOMAIN = 'bpe.bench';
const START_US = Date.parse('2026-11-20T00:00:00Z') * 1000;
const log = (message: string, fields: object = {}) => console.error(`[bench:tls] ${message} ${JSON.stringify(fields)}`);

async function buildStore(dataDir: string): Promise<{ start: string; end: string; post: string }> {
  const stepUs = Math.floor((20 * 3_600_000_000) / events);
  const frames = generateFrames({ seed: 11, mix: 'network' }, events, START_US, stepUs).map((f) => f.text);
  // A post to look up by its key (the last one created).
  const created = frames
    .map((f) => JSON.parse(f) as { did?: string; commit?: { operation?: string; collection?: string; rkey?: string } })
    .filter((e) => e.commit?.operation === 'create' && e.commit.collection === 'app.bsky.feed.post' && /^[2-7a-j][2-7a-z]{12}$/.test(e.commit.rkey ?? ''));
  const last = created.at(-1);
  if (!last) throw new Error('the generated events hold no post');
  const { instance, connection } = await openDuckDB({ threads: 2 });
  try {
    const sink = await ParquetSink.create(connection, dataDir);
    for (let i = 0; i < frames.length; i += 5000) {
      const entries = frames.slice(i, i + 5000).map((payload, j) => ({ id: `${1_790_000_000_000 + i}-${j}`, payload }));
      await sink.writeBatch(entries[0]!.id, buildBatchRows(entries).groups);
    }
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  return { start: new Date(START_US / 1000).toISOString(), end: new Date(START_US / 1000 + 24 * 3_600_000).toISOString(), post: `/v1/posts/${last.did}/${last.commit!.rkey}` };
}

const round2 = (n: number) => Math.round(n * 100) / 100;
const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = (sorted.length - 1) / 2;
  return (sorted[Math.floor(mid)]! + sorted[Math.ceil(mid)]!) / 2;
};

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'bpe-bench-tls-'));
  const stops: (() => Promise<unknown>)[] = [];
  try {
    log('writing the store', { events });
    const window = await buildStore(join(root, 'parquet'));
    const redis = await startRedisServer({ dir: join(root, 'redis') });
    stops.push(() => redis.stop());
    const client = createRedis(redis.url, 'bench');
    await client.connect();
    const { key } = await new ApiKeyStore(client, 'bench').create('bench:tls', ['search']);
    client.disconnect();

    const apiPort = await freePort();
    const api = new ServiceProcess({
      name: 'api',
      script: 'services/api/main.ts',
      env: {
        DATA_DIR: join(root, 'parquet'),
        API_HOST: '127.0.0.1',
        API_PORT: String(apiPort),
        METRICS_PORT: '0',
        REDIS_URL: redis.url,
        REDIS_PREFIX: 'bench',
        // Request logging off (warn): both paths would pay for it, and it is not what is measured.
        LOG_LEVEL: 'warn',
        CACHE_TTL_SECONDS: '0',
        TRUST_PROXY_HOPS: '1',
        RATE_LIMIT_IP_MAX: '1000000000',
        RATE_LIMIT_KEY_MAX: '1000000000',
        TELEMETRY_ENABLED: 'false',
      },
    });
    stops.push(() => api.stop('SIGTERM'));
    await waitForPort(apiPort, '127.0.0.1', 60_000);
    const caddy = await startLocalCaddy({ dir: join(root, 'caddy'), domain: DOMAIN, apiUpstream: `127.0.0.1:${apiPort}` });
    stops.push(() => caddy.stop());

    const query = new URLSearchParams({ text: 'the', limit: '20', start: window.start, end: window.end }).toString();
    const endpoints = { search: `/v1/search?${query}`, post: window.post, healthz: '/healthz' };
    const headers = { authorization: `Bearer ${key}` };
    const run = async (mode: 'plain' | 'tls', path: string) => {
      const result =
        mode === 'plain'
          ? await autocannon({ url: `http://127.0.0.1:${apiPort}${path}`, connections, duration, headers })
          : await autocannon({
              url: `https://127.0.0.1:${caddy.httpsPort}${path}`,
              connections,
              duration,
              headers: { ...headers, host: DOMAIN },
              servername: DOMAIN,
              tlsOptions: { ca: caddy.rootCa },
            });
      if (result.non2xx > 0 || result.errors > 0) throw new Error(`${mode} ${path}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
      return result;
    };

    const report: Record<string, unknown> = {};
    for (const [name, path] of Object.entries(endpoints)) {
      // Warm both paths (DuckDB's caches, TLS sessions, JIT) before measuring.
      await autocannon({ url: `http://127.0.0.1:${apiPort}${path}`, connections, duration: 2, headers });
      await autocannon({ url: `https://127.0.0.1:${caddy.httpsPort}${path}`, connections, duration: 2, headers: { ...headers, host: DOMAIN }, servername: DOMAIN });
      const plain: CannonResult[] = [];
      const tls: CannonResult[] = [];
      const overheads: number[] = [];
      for (let r = 0; r < rounds; r++) {
        // A pair of runs back to back, the order alternating between pairs.
        const pair: Partial<Record<'plain' | 'tls', CannonResult>> = {};
        for (const mode of r % 2 === 0 ? (['plain', 'tls'] as const) : (['tls', 'plain'] as const)) {
          const result = await run(mode, path);
          pair[mode] = result;
          (mode === 'plain' ? plain : tls).push(result);
        }
        overheads.push(1 - pair.tls!.requests.average / pair.plain!.requests.average);
        log(`${name} pair ${r + 1}`, { plain_rps: round2(pair.plain!.requests.average), https_rps: round2(pair.tls!.requests.average), overhead: round2(overheads.at(-1)!) });
      }
      const summary = (results: CannonResult[]) => ({
        rps: round2(median(results.map((x) => x.requests.average))),
        p50_ms: median(results.map((x) => x.latency.p50)),
        p99_ms: median(results.map((x) => x.latency.p99)),
        requests: results.reduce((sum, x) => sum + x.requests.total, 0),
      });
      report[name] = {
        plain_http: summary(plain),
        https_via_caddy: summary(tls),
        overhead: round2(median(overheads)),
        overhead_range: [round2(Math.min(...overheads)), round2(Math.max(...overheads))],
      };
    }
    const search = report.search as { overhead: number };
    console.log(
      JSON.stringify({
        bench: 'tls',
        connections,
        duration_s: duration,
        rounds,
        events,
        ...report,
        goal: 'search throughput through Caddy with TLS within 10% of plain HTTP to the API',
        goal_met: search.overhead < 0.1,
        cpus: cpus().length,
      }),
    );
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    if (!values.keep) await rm(root, { recursive: true, force: true });
    else log('kept', { root });
  }
}

main().catch((error: unknown) => {
  console.error(`[bench:tls] failed: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
