// The pipeline under a firehose-shaped load: the replay server releases events
// at a set rate (with an optional spike) to a real ingester, through a real
// Redis with AOF (fsync every second, as in production), to a real writer, all
// separate processes with their production settings. While it runs, every
// second: the services' metrics (events stored and written, writer freshness,
// reconnects, backpressure), the buffer's backlog and the ingester's cursor lag
// (from Redis), memory and CPU of every process (/proc), and Redis's memory
// (INFO). At the end: the exactly-once check of every released event against
// the Parquet store, and the time the pipeline took to get back to its baseline
// after the spike.
//
// Used by `npm run loadtest:pipeline`, `npm run loadtest:capacity` and the
// short runs of the test suite.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startReplayServer, type ReplayServer } from '../jetstream-replay/server.ts';
import { freePort } from '../../base/ports.ts';
import { startRedisServer, type RedisServer } from '../../base/redis-server.ts';
import { ServiceProcess } from '../../base/service-process.ts';
import { openDuckDB } from '../../services/shared/duckdb.ts';
import { redisKeys } from '../../services/shared/redis-keys.ts';
import { createRedis, type Redis } from '../../services/shared/redis.ts';
import { readBacklog } from '../../services/writer/stream-consumer.ts';
import { METRICS, promName } from '../../telemetry/metrics.ts';
import { compareKeys, expectedEvents, storedKeys, type IntegrityReport } from './integrity.ts';
import { cpuSeconds, cpuShares, machineInfo, rssBytes, systemCpu, type MachineInfo, type SystemCpu } from './proc.ts';
import { scrapeMetrics, sumOf, type Sample } from './prometheus.ts';
import { max, mean, percentile, round, slope } from './stats.ts';

export type Log = (message: string, fields?: object) => void;

export interface PipelineLoadOptions {
  /** Events per second released by the replay server. */
  rate: number;
  durationSeconds: number;
  /** Multiply the rate by `factor` for `seconds`, starting `atSeconds` after the load starts. */
  spike?: { factor: number; seconds: number; atSeconds: number };
  seed?: number;
  /** Generator mix; default `network` (today's firehose: 70% likes, 12% posts). */
  mix?: 'plan' | 'network';
  sampleIntervalMs?: number;
  /** How long the pipeline may take to store everything after the load stops. */
  drainTimeoutSeconds?: number;
  /** Exactly-once check at the end (default true). */
  integrity?: boolean;
  /** Extra environment for the ingester and writer (tests only; the load tests run production defaults). */
  serviceEnv?: Record<string, string>;
  log?: Log;
}

type ProcessName = 'ingester' | 'writer' | 'redis' | 'replay_and_driver';
const PROCESSES: readonly ProcessName[] = ['ingester', 'writer', 'redis', 'replay_and_driver'];

export interface PipelineSample {
  /** Seconds since the load started. */
  t: number;
  phase: 'load' | 'drain';
  /** Events released by the replay server so far, and its configured rate now. */
  released: number;
  configured_rate: number;
  /** bpe_ingester_events_stored_total and bpe_writer_events_written_total (all tables). */
  ingested: number | null;
  written: number | null;
  /** Per second since the previous sample. */
  released_per_s: number | null;
  ingested_per_s: number | null;
  written_per_s: number | null;
  /** Entries not yet written: delivered and unacknowledged + never delivered. */
  backlog: number;
  stream_length: number;
  pending: number;
  /** Now minus the time of the newest event in the buffer (the ingester's cursor). */
  cursor_lag_s: number | null;
  /** Now minus the time of the newest event written to Parquet (end-to-end freshness). */
  freshness_s: number | null;
  ingester_paused: number | null;
  reconnects: number | null;
  /** CPU used since the previous sample, in cores (1 = one core busy). */
  cpu_cores: Record<ProcessName, number>;
  rss_mb: Record<ProcessName, number>;
  redis_used_memory_mb: number | null;
  aof_mb: number | null;
  /** Machine-wide shares of all CPUs. */
  system: { busy: number; iowait: number; steal: number };
}

export interface PipelineLoadResult {
  rate: number;
  duration_s: number;
  mix: string;
  /** Service settings overridden for this run (empty: production defaults). */
  settings: Record<string, string>;
  spike: { factor: number; seconds: number; at_s: number; peak_rate: number } | null;
  sent: number;
  stored: number;
  missing: number;
  duplicates: number;
  unexpected: number;
  invalid_sent: number;
  /** Events released per second over the load phase (the replay server's real rate). */
  achieved_rate: number;
  ingested_per_s_mean: number | null;
  lag_p50_s: number | null;
  lag_p95_s: number | null;
  lag_max_s: number | null;
  /** Lag percentiles outside the spike and its recovery (steady state). */
  lag_p95_steady_s: number | null;
  freshness_p50_s: number | null;
  freshness_p95_s: number | null;
  freshness_max_s: number | null;
  backlog_max: number;
  /** Backlog growth over the second half of the load (entries per second); near 0 when the pipeline keeps up. */
  backlog_slope_per_s: number;
  /** Baseline before the spike (the highest backlog and lag of steady state). */
  baseline: { backlog: number; lag_s: number } | null;
  /** Seconds from the end of the spike until backlog and lag were back to the baseline; null if not within the load. */
  recovery_s: number | null;
  /** Seconds from the end of the load until everything released was stored. */
  drain_s: number | null;
  drained: boolean;
  reconnects: number | null;
  outbox_drops: number;
  ingester_paused_s: number;
  cpu_cores_mean: Record<ProcessName, number | null>;
  cpu_cores_max: Record<ProcessName, number | null>;
  rss_max_mb: Record<ProcessName, number | null>;
  redis_used_memory_max_mb: number | null;
  system_busy_mean: number | null;
  iowait_mean: number | null;
  steal_mean: number | null;
  machine: MachineInfo;
  integrity: IntegrityReport | null;
}

export interface PipelineLoadRun {
  result: PipelineLoadResult;
  samples: PipelineSample[];
}

const METRIC = {
  ingested: promName(METRICS.ingesterEventsStored),
  written: promName(METRICS.writerEventsWritten),
  newestEvent: promName(METRICS.writerNewestEvent),
  paused: promName(METRICS.ingesterPaused),
  reconnects: promName(METRICS.ingesterReconnects),
};

function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) fields[line.slice(0, i)] = line.slice(i + 1);
  }
  return fields;
}

const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

interface Stack {
  work: string;
  redisServer: RedisServer;
  writer: ServiceProcess;
  ingester: ServiceProcess;
  replay: ReplayServer;
  redis: Redis;
  ports: { writer: number; ingester: number };
}

async function startStack(options: PipelineLoadOptions, log: Log, cleanup: (() => Promise<void>)[]): Promise<Stack> {
  const work = await mkdtemp(join(tmpdir(), 'bpe-loadtest-'));
  cleanup.push(() => rm(work, { recursive: true, force: true }));
  const redisServer = await startRedisServer({ dir: join(work, 'redis'), appendfsync: 'everysec' });
  cleanup.push(() => redisServer.stop());
  const prefix = 'loadtest';
  const common = { REDIS_URL: redisServer.url, REDIS_PREFIX: prefix, HEALTH_PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'info', ...options.serviceEnv };
  const writer = new ServiceProcess({ name: 'writer', script: 'services/writer/main.ts', env: { ...common, DATA_DIR: join(work, 'parquet') } });
  cleanup.push(async () => void (writer.running && (await writer.stop('SIGKILL'))));
  const writerUp = await writer.waitForLog('writer started', 60_000);
  // The ingester starts first and retries until the replay server opens: the
  // load (and the spike's clock) starts with a subscriber already waiting.
  const replayPort = await freePort();
  const ingester = new ServiceProcess({
    name: 'ingester',
    script: 'services/ingester/main.ts',
    env: { ...common, JETSTREAM_URL: `ws://127.0.0.1:${replayPort}/subscribe`, JETSTREAM_INITIAL_CURSOR: '0' },
  });
  cleanup.push(async () => void (ingester.running && (await ingester.stop('SIGKILL'))));
  const ingesterUp = await ingester.waitForLog('ingester started', 60_000);
  const replay = await startReplayServer({
    port: replayPort,
    rate: options.rate,
    seed: options.seed ?? 1,
    mix: options.mix ?? 'network',
    spike: options.spike ? { factor: options.spike.factor, atSeconds: options.spike.atSeconds, durationSeconds: options.spike.seconds } : undefined,
    logger: { info: () => undefined, warn: (fields, message) => log(`replay: ${message}`, fields) },
  });
  cleanup.push(() => replay.close());
  const redis = createRedis(redisServer.url, 'loadtest-sampler', { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  await redis.connect();
  cleanup.push(async () => redis.disconnect());
  return { work, redisServer, writer, ingester, replay, redis, ports: { writer: Number(writerUp.metricsPort), ingester: Number(ingesterUp.metricsPort) } };
}

class Sampler {
  readonly samples: PipelineSample[] = [];
  private lastCpu: Record<ProcessName, number>;
  private lastSystem: SystemCpu;
  private lastAt: number;
  private last: { released: number; ingested: number | null; written: number | null } = { released: 0, ingested: null, written: null };

  constructor(
    private readonly stack: Stack,
    private readonly startedAt: number,
  ) {
    this.lastCpu = this.cpuNow();
    this.lastSystem = systemCpu();
    this.lastAt = performance.now();
  }

  private pids(): Record<ProcessName, number | undefined> {
    return { ingester: this.stack.ingester.pid, writer: this.stack.writer.pid, redis: this.stack.redisServer.process.pid, replay_and_driver: process.pid };
  }

  private cpuNow(): Record<ProcessName, number> {
    const pids = this.pids();
    return Object.fromEntries(PROCESSES.map((p) => [p, cpuSeconds(pids[p])])) as Record<ProcessName, number>;
  }

  async sample(phase: 'load' | 'drain'): Promise<PipelineSample> {
    const { redis, replay } = this.stack;
    const keys = redisKeys('loadtest');
    const scrape = (port: number) => scrapeMetrics(port).catch((): Sample[] => []);
    const [backlog, cursor, memory, persistence, ingesterMetrics, writerMetrics] = await Promise.all([
      readBacklog(redis, keys),
      redis.get(keys.cursor),
      redis.info('memory'),
      redis.info('persistence'),
      scrape(this.stack.ports.ingester),
      scrape(this.stack.ports.writer),
    ]);
    const now = performance.now();
    const wallSeconds = Date.now() / 1000;
    const elapsed = (now - this.lastAt) / 1000;
    const cpu = this.cpuNow();
    const system = systemCpu();
    const pids = this.pids();
    const released = replay.releasedCount();
    const ingested = sumOf(ingesterMetrics, METRIC.ingested) ?? null;
    const written = sumOf(writerMetrics, METRIC.written) ?? null;
    const newest = sumOf(writerMetrics, METRIC.newestEvent);
    const perSecond = (value: number | null, previous: number | null) => (value !== null && previous !== null && elapsed > 0 ? Math.round((value - previous) / elapsed) : null);
    const info = parseInfo(memory);
    const aof = parseInfo(persistence);
    const sample: PipelineSample = {
      t: Math.round((now - this.startedAt) / 100) / 10,
      phase,
      released,
      configured_rate: replay.stats().rate,
      ingested,
      written,
      released_per_s: perSecond(released, this.last.released),
      ingested_per_s: perSecond(ingested, this.last.ingested),
      written_per_s: perSecond(written, this.last.written),
      backlog: backlog.pending + (backlog.undelivered ?? backlog.length),
      stream_length: backlog.length,
      pending: backlog.pending,
      cursor_lag_s: cursor ? Math.max(0, Math.round((wallSeconds - Number(cursor) / 1e6) * 1000) / 1000) : null,
      freshness_s: newest && newest > 0 ? Math.max(0, Math.round((wallSeconds - newest) * 1000) / 1000) : null,
      ingester_paused: sumOf(ingesterMetrics, METRIC.paused) ?? null,
      reconnects: sumOf(ingesterMetrics, METRIC.reconnects) ?? null,
      cpu_cores: Object.fromEntries(PROCESSES.map((p) => [p, elapsed > 0 ? Math.round(((cpu[p] - this.lastCpu[p]) / elapsed) * 1000) / 1000 : 0])) as Record<ProcessName, number>,
      rss_mb: Object.fromEntries(PROCESSES.map((p) => [p, mb(rssBytes(pids[p]))])) as Record<ProcessName, number>,
      redis_used_memory_mb: info.used_memory ? mb(Number(info.used_memory)) : null,
      aof_mb: aof.aof_current_size ? mb(Number(aof.aof_current_size)) : null,
      system: (() => {
        const s = cpuShares(this.lastSystem, system);
        return { busy: round(s.busy, 3) ?? 0, iowait: round(s.iowait, 3) ?? 0, steal: round(s.steal, 3) ?? 0 };
      })(),
    };
    this.lastCpu = cpu;
    this.lastSystem = system;
    this.lastAt = now;
    this.last = { released, ingested: ingested ?? this.last.ingested, written: written ?? this.last.written };
    this.samples.push(sample);
    return sample;
  }
}

/** Seconds from the spike's end until backlog and lag stay at their baseline (3 samples in a row). */
export function recoveryTime(
  samples: readonly Pick<PipelineSample, 't' | 'phase' | 'backlog' | 'cursor_lag_s'>[],
  spike: { atSeconds: number; seconds: number },
  rate: number,
): { baseline: { backlog: number; lag_s: number } | null; recovery_s: number | null } {
  const end = spike.atSeconds + spike.seconds;
  // Steady state before the spike, after a few seconds of warm-up.
  const steady = samples.filter((s) => s.phase === 'load' && s.t >= Math.min(5, spike.atSeconds / 2) && s.t < spike.atSeconds);
  if (steady.length === 0) return { baseline: null, recovery_s: null };
  const baseline = { backlog: max(steady.map((s) => s.backlog)) ?? 0, lag_s: max(steady.map((s) => s.cursor_lag_s ?? 0)) ?? 0 };
  // Slack: one second of events, and one second of lag.
  const backlogLimit = baseline.backlog + rate;
  const lagLimit = Math.max(baseline.lag_s, 1) + 1;
  const after = samples.filter((s) => s.phase === 'load' && s.t >= end);
  for (let i = 0; i + 2 < after.length; i++) {
    const run = after.slice(i, i + 3);
    if (run.every((s) => s.backlog <= backlogLimit && (s.cursor_lag_s ?? Infinity) <= lagLimit)) {
      return { baseline, recovery_s: Math.round(Math.max(0, run[0]!.t - end) * 10) / 10 };
    }
  }
  return { baseline, recovery_s: null };
}

function* releasedFrames(replay: ReplayServer, count: number): Generator<string> {
  for (let i = 0; i < count; i++) yield replay.releasedEvent(i);
}

export async function runPipelineLoad(options: PipelineLoadOptions): Promise<PipelineLoadRun> {
  const log: Log = options.log ?? (() => undefined);
  const interval = options.sampleIntervalMs ?? 1_000;
  const cleanup: (() => Promise<void>)[] = [];
  try {
    const stack = await startStack(options, log, cleanup);
    const startedAt = performance.now();
    const sampler = new Sampler(stack, startedAt);
    const loadEnd = startedAt + options.durationSeconds * 1000;
    await stack.ingester.waitForLog('connected to jetstream', 30_000);
    log('load started', { rate: options.rate, duration_s: options.durationSeconds, spike: options.spike ?? null });

    // Load phase: one sample per interval, on a fixed schedule.
    let next = startedAt + interval;
    let lastReport = 0;
    while (performance.now() < loadEnd) {
      await new Promise((r) => setTimeout(r, Math.max(0, Math.min(next, loadEnd) - performance.now())));
      if (performance.now() >= loadEnd) break;
      next += interval;
      const s = await sampler.sample('load');
      if (s.t - lastReport >= 10) {
        lastReport = s.t;
        log('running', { t: s.t, released_per_s: s.released_per_s, ingested_per_s: s.ingested_per_s, backlog: s.backlog, lag_s: s.cursor_lag_s, cpu: s.cpu_cores });
      }
    }
    stack.replay.pause();
    const sent = stack.replay.releasedCount();
    const loadSeconds = (performance.now() - startedAt) / 1000;
    log('load stopped: waiting for the pipeline to store everything', { sent });

    // Drain: until the ingester's cursor reached the last event and the writer acknowledged everything.
    const lastTimeUs = sent > 0 ? stack.replay.releasedTimeUs(sent - 1) : 0;
    const drainDeadline = performance.now() + (options.drainTimeoutSeconds ?? 600) * 1000;
    const drainStart = performance.now();
    let drained = false;
    for (;;) {
      const s = await sampler.sample('drain');
      const cursor = Number((await stack.redis.get(redisKeys('loadtest').cursor)) ?? 0);
      if (cursor >= lastTimeUs && s.backlog === 0) {
        drained = true;
        break;
      }
      if (performance.now() > drainDeadline) break;
      await new Promise((r) => setTimeout(r, interval));
    }
    const drainSeconds = drained ? (performance.now() - drainStart) / 1000 : null;
    log(drained ? 'drained' : 'NOT drained within the timeout', { drain_s: drainSeconds === null ? null : round(drainSeconds, 1) });

    // Stop the services gracefully (the writer finishes its batch), then compare.
    await stack.ingester.stop('SIGTERM');
    await stack.writer.stop('SIGTERM');
    const replayStats = stack.replay.stats();
    let integrity: IntegrityReport | null = null;
    let invalid = 0;
    if (options.integrity ?? true) {
      log('checking integrity: every released event stored exactly once', { sent });
      const expected = expectedEvents(releasedFrames(stack.replay, sent));
      invalid = expected.invalid;
      const { instance, connection } = await openDuckDB({ threads: 2 });
      try {
        integrity = compareKeys(expected, await storedKeys(connection, join(stack.work, 'parquet')));
      } finally {
        connection.closeSync();
        instance.closeSync();
      }
    }

    const samples = sampler.samples;
    const load = samples.filter((s) => s.phase === 'load');
    const lags = load.map((s) => s.cursor_lag_s).filter((v): v is number => v !== null);
    const fresh = load.map((s) => s.freshness_s).filter((v): v is number => v !== null);
    const spike = options.spike;
    const recovery = spike ? recoveryTime(samples, spike, options.rate) : { baseline: null, recovery_s: null };
    const disturbedUntil = spike ? spike.atSeconds + spike.seconds + (recovery.recovery_s ?? Infinity) : -1;
    const steadyLags = load
      .filter((s) => !spike || s.t < spike.atSeconds || s.t > disturbedUntil)
      .map((s) => s.cursor_lag_s)
      .filter((v): v is number => v !== null);
    const secondHalf = load.filter((s) => s.t >= options.durationSeconds / 2);
    const perProcess = (f: (values: number[]) => number | undefined, pick: (s: PipelineSample) => Record<ProcessName, number>) =>
      Object.fromEntries(PROCESSES.map((p) => [p, round(f(load.map((s) => pick(s)[p])), 3)])) as Record<ProcessName, number | null>;
    const result: PipelineLoadResult = {
      rate: options.rate,
      duration_s: options.durationSeconds,
      mix: options.mix ?? 'network',
      settings: options.serviceEnv ?? {},
      spike: spike ? { factor: spike.factor, seconds: spike.seconds, at_s: spike.atSeconds, peak_rate: Math.round(options.rate * spike.factor) } : null,
      sent,
      stored: integrity?.stored ?? 0,
      missing: integrity?.missing ?? 0,
      duplicates: integrity?.duplicates ?? 0,
      unexpected: integrity?.unexpected ?? 0,
      invalid_sent: invalid,
      achieved_rate: Math.round(sent / loadSeconds),
      ingested_per_s_mean: round(mean(load.map((s) => s.ingested_per_s).filter((v): v is number => v !== null)), 0),
      lag_p50_s: round(percentile(lags, 50), 3),
      lag_p95_s: round(percentile(lags, 95), 3),
      lag_max_s: round(max(lags), 3),
      lag_p95_steady_s: round(percentile(steadyLags, 95), 3),
      freshness_p50_s: round(percentile(fresh, 50), 2),
      freshness_p95_s: round(percentile(fresh, 95), 2),
      freshness_max_s: round(max(fresh), 2),
      backlog_max: max(samples.map((s) => s.backlog)) ?? 0,
      backlog_slope_per_s: round(slope(secondHalf.map((s) => ({ x: s.t, y: s.backlog }))), 1) ?? 0,
      baseline: recovery.baseline,
      recovery_s: recovery.recovery_s,
      drain_s: round(drainSeconds ?? undefined, 1),
      drained,
      reconnects: load.at(-1)?.reconnects ?? null,
      outbox_drops: replayStats.connections.dropped.outbox,
      ingester_paused_s: load.filter((s) => s.ingester_paused === 1).length * (interval / 1000),
      cpu_cores_mean: perProcess(mean, (s) => s.cpu_cores),
      cpu_cores_max: perProcess(max, (s) => s.cpu_cores),
      rss_max_mb: perProcess(max, (s) => s.rss_mb),
      redis_used_memory_max_mb: round(max(samples.map((s) => s.redis_used_memory_mb ?? 0)), 1),
      system_busy_mean: round(mean(load.map((s) => s.system.busy)), 3),
      iowait_mean: round(mean(load.map((s) => s.system.iowait)), 3),
      steal_mean: round(mean(load.map((s) => s.system.steal)), 3),
      machine: machineInfo(),
      integrity,
    };
    return { result, samples };
  } finally {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
  }
}
