// The API under many concurrent researchers: autocannon drives N connections,
// each one researcher (a MixSession from api-mix.ts, the same mix the k6 scripts
// run) asking questions of every kind, checking every answer's content, and
// following its own cursors. Figures per query kind: requests, errors, p50, p95
// and p99 of the answered ones, failed content checks; pass/fail by the same
// limits as the k6 thresholds.
//
// `startLocalApi` runs the API as production does (its own process, with Redis
// for the cache, the rate-limit counters and the keys) over a given store, and
// gets a key from `npm run keys` when authentication is on.

import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import autocannon, { type AutocannonClient, type AutocannonRequest } from 'autocannon';
import { loadApiConfig } from '../../services/api/config.ts';
import { startRedisServer } from '../../base/redis-server.ts';
import { REPO_ROOT } from '../../base/paths.ts';
import { ServiceProcess } from '../../base/service-process.ts';
import { METRICS, promName } from '../../telemetry/metrics.ts';
import { ENDPOINTS, KIND_NAMES, LIMITS, MixSession, QUERY_KINDS, discoveryRequests, mixData, seededRandom, thinkTimeSeconds, type Endpoint, type MixData, type MixRequest, type MixWindow, type QueryKind } from './api-mix.ts';
import { cpuSeconds, machineInfo, rssBytes, type MachineInfo } from './proc.ts';
import { scrapeMetrics, sumOf } from './prometheus.ts';
import { max, percentile, round } from './stats.ts';

export type Log = (message: string, fields?: object) => void;

export interface ApiLoadOptions {
  /** Where the API answers, e.g. http://127.0.0.1:3000 or https://explorer.example.org. */
  baseUrl: string;
  /** API keys, used round-robin by the clients (none when authentication is off). */
  keys: string[];
  connections: number;
  durationSeconds: number;
  /** The data window the questions are about. */
  window: MixWindow;
  /** A client's pause after each answer, drawn uniformly (seconds); null = the next request at once (a stress test). */
  thinkTime: { min: number; max: number } | null;
  seed?: number;
  /** Seconds before an unanswered request counts as failed (default 60, as k6). */
  timeoutSeconds?: number;
  /** A local API process to watch (CPU, memory, cache hits). */
  watch?: { pid: number | undefined; metricsPort?: number };
  log?: Log;
}

export interface LatencyFigures {
  requests: number;
  errors: number;
  error_rate: number;
  /** Of the successful (2xx) answers, ms. */
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  max_ms: number | null;
  checks_failed: number;
}

export interface Threshold {
  name: string;
  limit: string;
  value: number | null;
  ok: boolean;
}

export interface ApiLoadResult {
  base_url: string;
  connections: number;
  duration_s: number;
  think_time_s: { min: number; max: number } | null;
  window: MixWindow;
  requests: number;
  errors: number;
  error_rate: number;
  requests_per_s: number;
  /** Status codes of the answers; "no answer" for timeouts and connection errors. */
  status_codes: Record<string, number>;
  checks: { total: number; failed: number; pass_rate: number };
  failed_checks: Record<string, number>;
  per_kind: Record<QueryKind, LatencyFigures>;
  per_endpoint: Record<Endpoint, LatencyFigures>;
  overall: LatencyFigures;
  thresholds: Threshold[];
  passed: boolean;
  /** Requests still in flight when the run ended (not counted). */
  unfinished: number;
  discovery: { hashtags: number; authors: number; posts: number };
  api_process: { cpu_cores_mean: number | null; rss_max_mb: number | null; cache_hit_rate: number | null } | null;
  /** CPU of this process (autocannon, the sessions and their checks), in cores. */
  load_generator_cpu_cores: number | null;
  machine: MachineInfo;
}

export interface ApiLoadRun {
  result: ApiLoadResult;
  /** Per second: answers, errors, p95 of the answers' latency. */
  timeline: { t: number; answers: number; errors: number; p95_ms: number | null }[];
}

/** autocannon's Client (lib/httpClient.js): the send step that think time wraps. */
interface PacedClient {
  destroyed: boolean;
  _doRequest(...args: unknown[]): void;
}

interface KindStats {
  requests: number;
  errors: number;
  latenciesOk: number[];
  checksFailed: number;
}

function authHeaders(key: string | undefined): Record<string, string> {
  return key ? { authorization: `Bearer ${key}` } : {};
}

/** Finds hashtags, authors and posts in the data (the same requests k6's setup() makes). */
export async function discover(baseUrl: string, key: string | undefined, window: MixWindow): Promise<MixData> {
  const answers = [];
  for (const request of discoveryRequests(window)) {
    const response = await fetch(`${baseUrl}${request.path}`, { headers: authHeaders(key), signal: AbortSignal.timeout(60_000) });
    const body = await response.text();
    if (response.status === 401 || response.status === 403) throw new Error(`the API refused the key (${response.status}): ${body.slice(0, 200)}`);
    answers.push({ name: request.name, body: response.ok ? body : undefined });
  }
  return mixData(window, answers);
}

function figures(stats: KindStats[]): LatencyFigures {
  const requests = stats.reduce((s, k) => s + k.requests, 0);
  const errors = stats.reduce((s, k) => s + k.errors, 0);
  const latencies = stats.flatMap((k) => k.latenciesOk);
  return {
    requests,
    errors,
    error_rate: requests > 0 ? round(errors / requests, 4)! : 0,
    p50_ms: round(percentile(latencies, 50), 0),
    p95_ms: round(percentile(latencies, 95), 0),
    p99_ms: round(percentile(latencies, 99), 0),
    max_ms: round(max(latencies), 0),
    checks_failed: stats.reduce((s, k) => s + k.checksFailed, 0),
  };
}

/** The pass/fail limits of the k6 thresholds, applied to a run's figures. */
export function evaluateThresholds(overall: LatencyFigures, perEndpoint: Record<Endpoint, LatencyFigures>, checkPassRate: number): Threshold[] {
  const list: Threshold[] = [
    { name: 'errors', limit: `< ${LIMITS.errorRate * 100}%`, value: overall.error_rate, ok: overall.error_rate < LIMITS.errorRate },
    { name: 'search p95', limit: `< ${LIMITS.searchP95Ms} ms`, value: perEndpoint.search.p95_ms, ok: perEndpoint.search.p95_ms === null || perEndpoint.search.p95_ms < LIMITS.searchP95Ms },
    { name: 'export p95', limit: `< ${LIMITS.exportP95Ms} ms`, value: perEndpoint.export.p95_ms, ok: perEndpoint.export.p95_ms === null || perEndpoint.export.p95_ms < LIMITS.exportP95Ms },
    { name: 'content checks passed', limit: `>= ${LIMITS.checkRate * 100}%`, value: checkPassRate, ok: checkPassRate >= LIMITS.checkRate },
  ];
  return list;
}

export async function runApiLoad(options: ApiLoadOptions): Promise<ApiLoadRun> {
  const log: Log = options.log ?? (() => undefined);
  const base = new URL(options.baseUrl);
  const prefix = base.pathname.replace(/\/$/, '');
  const origin = `${base.protocol}//${base.host}`;
  const data = await discover(`${origin}${prefix}`, options.keys[0], options.window);
  log('discovered', { hashtags: data.hashtags.length, authors: data.authors.length, posts: data.posts.length });

  const kinds = Object.fromEntries(KIND_NAMES.map((k): [QueryKind, KindStats] => [k, { requests: 0, errors: 0, latenciesOk: [], checksFailed: 0 }])) as Record<QueryKind, KindStats>;
  const statusCodes: Record<string, number> = {};
  const failedChecks: Record<string, number> = {};
  let checksTotal = 0;
  let checksFailed = 0;
  const seconds: { answers: number; errors: number; latencies: number[] }[] = [];
  let startedAt = performance.now();
  const bucket = () => {
    const i = Math.max(0, Math.floor((performance.now() - startedAt) / 1000));
    while (seconds.length <= i) seconds.push({ answers: 0, errors: 0, latencies: [] });
    return seconds[i]!;
  };

  interface ClientState {
    session: MixSession;
    headers: Record<string, string>;
    inFlight: MixRequest | undefined;
    answered: { request: MixRequest; ok: boolean } | undefined;
    thinkUntil: number;
    thinking: NodeJS.Timeout | undefined;
  }
  const states = new WeakMap<AutocannonClient, ClientState>();
  const allStates: ClientState[] = [];
  let clientIndex = 0;

  const countError = (kind: QueryKind, status: string) => {
    kinds[kind].errors += 1;
    statusCodes[status] = (statusCodes[status] ?? 0) + 1;
  };

  const instance = autocannon({
    url: origin,
    connections: options.connections,
    duration: options.durationSeconds,
    timeout: options.timeoutSeconds ?? 60,
    setupClient(client) {
      const index = clientIndex++;
      const state: ClientState = {
        session: new MixSession(data, seededRandom((options.seed ?? 1) * 100_003 + index)),
        headers: authHeaders(options.keys.length > 0 ? options.keys[index % options.keys.length] : undefined),
        inFlight: undefined,
        answered: undefined,
        thinkUntil: 0,
        thinking: undefined,
      };
      const thinkRandom = seededRandom((options.seed ?? 1) * 7_919 + index);
      // Researchers arrive over the first pause, not all in the same millisecond.
      if (options.thinkTime) state.thinkUntil = performance.now() + thinkRandom() * options.thinkTime.max * 1000;
      // Think time: autocannon sends the next request as soon as an answer
      // arrives; its own rate limit works in whole requests per second. So the
      // client's send step waits until the researcher's pause is over.
      const pacedClient = client as unknown as PacedClient;
      const send = pacedClient._doRequest.bind(pacedClient);
      pacedClient._doRequest = function (this: PacedClient, ...args: unknown[]) {
        if (this.destroyed || state.thinking) return;
        const wait = state.thinkUntil - performance.now();
        if (wait > 0) {
          state.thinking = setTimeout(() => {
            state.thinking = undefined;
            pacedClient._doRequest();
          }, wait);
          return;
        }
        send(...args);
      };
      states.set(client, state);
      allStates.push(state);
      const request: AutocannonRequest = {
        method: 'GET',
        setupRequest(req) {
          // A request that never got its answer (timeout, connection error) failed.
          if (state.inFlight) {
            kinds[state.inFlight.kind].requests += 1;
            countError(state.inFlight.kind, 'no answer');
            bucket().errors += 1;
          }
          const next = state.session.next();
          state.inFlight = next;
          return { ...req, path: `${prefix}${next.path}`, headers: { ...req.headers, ...state.headers } };
        },
        onResponse(status, body, _context, headers) {
          const asked = state.inFlight;
          state.inFlight = undefined;
          if (!asked) return;
          const stats = kinds[asked.kind];
          stats.requests += 1;
          const ok = status >= 200 && status < 300;
          if (ok) statusCodes[String(status)] = (statusCodes[String(status)] ?? 0) + 1;
          else countError(asked.kind, String(status));
          const checks = state.session.observe(asked, status, body, headers);
          for (const check of checks) {
            checksTotal += 1;
            if (!check.ok) {
              checksFailed += 1;
              stats.checksFailed += 1;
              failedChecks[check.name] = (failedChecks[check.name] ?? 0) + 1;
            }
          }
          state.answered = { request: asked, ok };
          if (options.thinkTime) state.thinkUntil = performance.now() + thinkTimeSeconds(thinkRandom, options.thinkTime) * 1000;
        },
      };
      client.setRequests([request]);
    },
  });
  startedAt = performance.now();
  instance.on('response', (client, _status, _bytes, responseTime) => {
    const state = states.get(client);
    const answered = state?.answered;
    if (!state || !answered) return;
    state.answered = undefined;
    const b = bucket();
    b.answers += 1;
    if (answered.ok) {
      kinds[answered.request.kind].latenciesOk.push(responseTime);
      b.latencies.push(responseTime);
    } else b.errors += 1;
  });

  // Watch the local API process while the load runs.
  const watch = options.watch;
  const cpuStart = watch ? cpuSeconds(watch.pid) : 0;
  const ownCpuStart = process.cpuUsage();
  let rssMax = 0;
  const progress = setInterval(() => {
    if (watch) rssMax = Math.max(rssMax, rssBytes(watch.pid));
    const s = seconds.at(-2);
    if (s && seconds.length % 10 === 0) log('running', { t: seconds.length, answers_per_s: s.answers, errors_per_s: s.errors, p95_ms: round(percentile(s.latencies, 95), 0) });
  }, 1000);
  let result;
  try {
    result = await instance;
  } finally {
    clearInterval(progress);
    for (const state of allStates) clearTimeout(state.thinking);
  }
  const elapsed = (performance.now() - startedAt) / 1000;
  const cpuCores = watch ? (cpuSeconds(watch.pid) - cpuStart) / elapsed : null;
  const ownCpu = process.cpuUsage(ownCpuStart);
  const generatorCores = (ownCpu.user + ownCpu.system) / 1e6 / elapsed;
  let cacheHitRate: number | null = null;
  if (watch?.metricsPort) {
    const samples = await scrapeMetrics(watch.metricsPort).catch(() => []);
    const name = promName(METRICS.apiCacheRequests);
    const hits = sumOf(samples, name, { result: 'hit' }) ?? 0;
    const misses = sumOf(samples, name, { result: 'miss' }) ?? 0;
    cacheHitRate = hits + misses > 0 ? round(hits / (hits + misses), 3) : null;
  }

  const perKind = Object.fromEntries(KIND_NAMES.map((k) => [k, figures([kinds[k]])])) as Record<QueryKind, LatencyFigures>;
  const perEndpoint = Object.fromEntries(ENDPOINTS.map((e) => [e, figures(KIND_NAMES.filter((k) => QUERY_KINDS[k].endpoint === e).map((k) => kinds[k]))])) as Record<Endpoint, LatencyFigures>;
  const overall = figures(KIND_NAMES.map((k) => kinds[k]));
  const checkPassRate = checksTotal > 0 ? round(1 - checksFailed / checksTotal, 4)! : 0;
  const thresholds = evaluateThresholds(overall, perEndpoint, checkPassRate);
  return {
    result: {
      base_url: options.baseUrl,
      connections: options.connections,
      duration_s: options.durationSeconds,
      think_time_s: options.thinkTime,
      window: options.window,
      requests: overall.requests,
      errors: overall.errors,
      error_rate: overall.error_rate,
      requests_per_s: round(overall.requests / Math.max(1, result.duration), 1) ?? 0,
      status_codes: statusCodes,
      checks: { total: checksTotal, failed: checksFailed, pass_rate: checkPassRate },
      failed_checks: failedChecks,
      per_kind: perKind,
      per_endpoint: perEndpoint,
      overall,
      thresholds,
      passed: thresholds.every((t) => t.ok) && overall.requests > 0,
      unfinished: allStates.filter((s) => s.inFlight !== undefined).length,
      discovery: { hashtags: data.hashtags.length, authors: data.authors.length, posts: data.posts.length },
      api_process: watch ? { cpu_cores_mean: round(cpuCores ?? undefined, 2), rss_max_mb: round(rssMax / 2 ** 20, 0), cache_hit_rate: cacheHitRate } : null,
      load_generator_cpu_cores: round(generatorCores, 2),
      machine: machineInfo(),
    },
    timeline: seconds.map((s, t) => ({ t, answers: s.answers, errors: s.errors, p95_ms: round(percentile(s.latencies, 95), 0) })),
  };
}

export interface LocalApi {
  baseUrl: string;
  keys: string[];
  auth: 'required' | 'off';
  pid: number | undefined;
  metricsPort: number;
  api: ServiceProcess;
  stop(): Promise<void>;
}

const execFileAsync = promisify(execFile);
const KEY_IN_OUTPUT = /bpe_[0-9a-f]{16}_[A-Za-z0-9_-]{43}/;

async function hasKeysCli(): Promise<boolean> {
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
  return typeof pkg.scripts?.keys === 'string';
}

/**
 * The API as its own process over dataDir, with a redis-server of its own (cache,
 * rate-limit counters, keys). Authentication stays as configured (on by
 * default): a key is created with `npm run keys -- create`. The rate limits are
 * raised above the offered load: the load test measures what the API can
 * answer, not its per-client quota (which would turn most requests into 429s).
 */
export async function startLocalApi(options: { dataDir: string; work: string; log?: Log; env?: Record<string, string> }): Promise<LocalApi> {
  const log: Log = options.log ?? (() => undefined);
  const redis = await startRedisServer({ dir: join(options.work, 'redis') });
  const env: Record<string, string> = {
    DATA_DIR: options.dataDir,
    API_PORT: '0',
    METRICS_PORT: '0',
    REDIS_URL: redis.url,
    REDIS_PREFIX: 'loadtest',
    LOG_LEVEL: 'info',
    RATE_LIMIT_IP_MAX: '100000000',
    RATE_LIMIT_KEY_MAX: '100000000',
    RATE_LIMIT_EXPORT_MAX: '100000000',
    ...options.env,
  };
  // What the API's own configuration says about authentication with this environment.
  const config = loadApiConfig({ ...process.env, ...env }) as unknown as Record<string, unknown>;
  let auth: 'required' | 'off' = config.API_AUTH === 'required' ? 'required' : 'off';
  const cli = await hasKeysCli();
  if (auth === 'required' && !cli) {
    log('authentication is on but there is no `npm run keys` to create a key: running the local API with API_AUTH=off');
    env.API_AUTH = 'off';
    auth = 'off';
  }
  const api = new ServiceProcess({ name: 'api', script: 'services/api/main.ts', env });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (api.running) await api.stop('SIGTERM');
    await redis.stop();
  };
  try {
    const started = await api.waitForLog('api started', 120_000);
    const keys: string[] = [];
    if (auth === 'required') {
      const { stdout, stderr } = await execFileAsync('npm', ['run', '--silent', 'keys', '--', 'create', '--name', 'loadtest', '--scopes', 'search,export'], {
        cwd: REPO_ROOT,
        env: { ...process.env, ...env },
      });
      const key = KEY_IN_OUTPUT.exec(`${stdout}\n${stderr}`)?.[0];
      if (!key) throw new Error(`npm run keys -- create printed no key:\n${stdout}\n${stderr}`);
      keys.push(key);
      log('created an API key for the load test with npm run keys', { name: 'loadtest', scopes: 'search,export' });
    }
    return { baseUrl: `http://127.0.0.1:${String(started.port)}`, keys, auth, pid: api.pid, metricsPort: Number(started.metricsPort), api, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
