// `npm run bench:pipeline -- --events N`: N replayed events through the whole
// pipeline (replay server -> ingester -> Redis with AOF -> writer -> Parquet) as
// fast as it goes, then an exactly-once check of the store.
//
// The clock starts when the ingester connects and stops at the writer's last
// batch, so process start-up is not counted. The replay server releases (and
// caches) the whole history before the clock starts: generating events is the
// load generator's cost, not the pipeline's. The baseline is a plain JSON.parse
// loop over the same events in this process; CPU seconds per process say where
// the time goes. By default the history goes through twice, with telemetry on
// and then off, and the difference is printed as telemetry_overhead. The last
// line printed is one JSON object.

import { readFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startReplayServer, type ReplayServer } from '../jetstream-replay/server.ts';
import { startRedisServer } from '../../base/redis-server.ts';
import { ServiceProcess } from '../../base/service-process.ts';
import { openDuckDB } from '../../services/shared/duckdb.ts';
import { redisKeys } from '../../services/shared/redis-keys.ts';
import { createRedis } from '../../services/shared/redis.ts';
import { readBacklog } from '../../services/writer/stream-consumer.ts';
import { compactPartition, listPartitions } from '../../services/writer/compaction.ts';
import { TABLE_NAMES } from '../../services/shared/tables.ts';
import { compareKeys, expectedEvents, storedKeys } from '../lib/integrity.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '200000' },
    mix: { type: 'string', default: 'plan' },
    seed: { type: 'string', default: '1' },
    'batch-events': { type: 'string', default: '20000' },
    keep: { type: 'boolean', default: false },
    telemetry: { type: 'string', default: 'both' },
  },
});
const events = Number(values.events);
if (!Number.isInteger(events) || events < 1000) throw new Error('--events must be an integer >= 1000');
if (values.mix !== 'plan' && values.mix !== 'network') throw new Error('--mix must be plan or network');
if (values.telemetry !== 'on' && values.telemetry !== 'both') throw new Error('--telemetry must be on (telemetry on only) or both (on, then off, and the overhead)');

const log = (message: string, fields: object = {}) => console.error(`[bench] ${message} ${JSON.stringify(fields)}`);

/** User + system CPU seconds of a process so far (Linux /proc). */
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.parquet')) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

function logTime(line: Record<string, unknown>): number {
  return Number(line.time);
}

interface RunFigures {
  seconds: number;
  cpu: Record<string, number>;
  batches: number;
  dataDir: string;
}

/**
 * One pass of the whole history through a fresh Redis prefix and data directory:
 * from the ingester's connection to the writer's last batch.
 */
async function runPipeline(replay: ReplayServer, redisUrl: string, redisPid: number | undefined, work: string, telemetry: boolean): Promise<RunFigures> {
  const prefix = `bench-${telemetry ? 'on' : 'off'}`;
  const dataDir = join(work, `parquet-${prefix}`);
  const common = { REDIS_URL: redisUrl, REDIS_PREFIX: prefix, HEALTH_PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'info', TELEMETRY_ENABLED: String(telemetry) };
  const children: ServiceProcess[] = [];
  try {
    const writer = new ServiceProcess({
      name: 'writer',
      script: 'services/writer/main.ts',
      env: { ...common, DATA_DIR: dataDir, BATCH_MAX_EVENTS: values['batch-events'], BATCH_MAX_AGE_MS: '1000' },
    });
    children.push(writer);
    await writer.waitForLog('writer started');
    const ingester = new ServiceProcess({
      name: 'ingester',
      script: 'services/ingester/main.ts',
      env: { ...common, JETSTREAM_URL: replay.url, JETSTREAM_INITIAL_CURSOR: '0' },
    });
    children.push(ingester);
    const cpuBefore = { bench: process.cpuUsage(), redis: cpuSeconds(redisPid) };
    const startedAt = logTime(await ingester.waitForLog('connected to jetstream', 60_000));
    const cpuIngesterStart = cpuSeconds(ingester.pid);
    const cpuWriterStart = cpuSeconds(writer.pid);

    const redis = createRedis(redisUrl, 'bench');
    await redis.connect();
    const keys = redisKeys(prefix);
    const lastTimeUs = replay.releasedTimeUs(events - 1);
    for (let tick = 0; ; tick++) {
      await new Promise((r) => setTimeout(r, 250));
      const [backlog, cursor] = await Promise.all([readBacklog(redis, keys), redis.get(keys.cursor)]);
      const ingested = Number(cursor ?? 0) >= lastTimeUs;
      if (ingested && backlog.pending === 0 && backlog.undelivered === 0) break;
      if (tick % 8 === 0) log('running', { telemetry, seconds: Math.round((Date.now() - startedAt) / 1000), ingested, backlog: backlog.length, pending: backlog.pending });
      if (Date.now() - startedAt > 30 * 60_000) throw new Error('the pipeline did not drain within 30 minutes');
    }
    redis.disconnect();
    const batches = writer.lines.filter((l) => l.includes('"msg":"batch written"'));
    const finishedAt = logTime(JSON.parse(batches.at(-1)!) as Record<string, unknown>);
    const cpu = {
      ingester: cpuSeconds(ingester.pid) - cpuIngesterStart,
      writer: cpuSeconds(writer.pid) - cpuWriterStart,
      redis: cpuSeconds(redisPid) - cpuBefore.redis,
      replay_server: (process.cpuUsage(cpuBefore.bench).user + process.cpuUsage(cpuBefore.bench).system) / 1e6,
    };
    for (const child of children) await child.stop('SIGTERM');
    return { seconds: (finishedAt - startedAt) / 1000, cpu, batches: batches.length, dataDir };
  } finally {
    for (const child of children) if (child.running) await child.stop('SIGKILL');
  }
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'bpe-bench-'));
  const redisServer = await startRedisServer({ dir: join(work, 'redis'), appendfsync: 'everysec' });
  const replay = await startReplayServer({ seed: Number(values.seed), mix: values.mix as 'plan' | 'network', rate: 0, total: events, outboxLimit: 0, frameCacheSize: events });
  try {
    log('releasing the history', { events });
    await replay.whenReleased(events);
    const frames = Array.from({ length: events }, (_, i) => replay.releasedEvent(i));

    // Baseline: a plain JSON.parse loop over the same events, best of three.
    let baselineSeconds = Infinity;
    for (let round = 0; round < 3; round++) {
      const started = performance.now();
      let sink = 0;
      for (const frame of frames) sink += (JSON.parse(frame) as { time_us: number }).time_us > 0 ? 1 : 0;
      baselineSeconds = Math.min(baselineSeconds, (performance.now() - started) / 1000);
      if (sink !== events) throw new Error('baseline parse mismatch');
    }

    // Telemetry on (as in production) and, unless --telemetry on, off: the same history, one after the other.
    const on = await runPipeline(replay, redisServer.url, redisServer.process.pid, work, true);
    const off = values.telemetry === 'both' ? await runPipeline(replay, redisServer.url, redisServer.process.pid, work, false) : undefined;

    log('checking integrity');
    const { instance, connection } = await openDuckDB({ threads: 2 });
    const expected = expectedEvents(frames);
    const report = compareKeys(expected, await storedKeys(connection, on.dataDir));
    const batchBytes = await directoryBytes(on.dataDir);
    // Closed hours are compacted in production; compact everything here to report
    // the size the store settles at.
    for (const table of TABLE_NAMES) {
      for (const partition of await listPartitions(on.dataDir, table)) if (partition.files.length > 0) await compactPartition(connection, partition);
    }
    const compactedBytes = await directoryBytes(on.dataDir);
    const afterCompaction = compareKeys(expected, await storedKeys(connection, on.dataDir));
    const offReport = off ? compareKeys(expected, await storedKeys(connection, off.dataDir)) : undefined;
    connection.closeSync();
    instance.closeSync();

    const eventsPerSec = events / on.seconds;
    const baselinePerSec = events / baselineSeconds;
    log('where the time goes (CPU seconds while the pipeline ran)', { wall_seconds: on.seconds, ...on.cpu, batches: on.batches });
    log('store', { parquet_bytes_batches: batchBytes, parquet_bytes_compacted: compactedBytes, per_table: report.tables, missing_after_compaction: afterCompaction.missing, duplicates_after_compaction: afterCompaction.duplicates });
    if (off) log('telemetry off', { seconds: off.seconds, cpu: off.cpu, missing: offReport?.missing, duplicates: offReport?.duplicates });
    const telemetry = off
      ? {
          events_per_sec_telemetry_off: Math.round(events / off.seconds),
          telemetry_overhead: Number((1 - eventsPerSec / (events / off.seconds)).toFixed(4)),
        }
      : {};
    console.log(
      JSON.stringify({
        events,
        stored: report.stored,
        missing: report.missing,
        duplicates: report.duplicates,
        events_per_sec: Math.round(eventsPerSec),
        baseline_parse_per_sec: Math.round(baselinePerSec),
        ratio: Number((eventsPerSec / baselinePerSec).toFixed(4)),
        parquet_bytes: compactedBytes,
        json_bytes: expected.jsonBytes,
        parquet_bytes_uncompacted: batchBytes,
        parquet_to_json: Number((compactedBytes / expected.jsonBytes).toFixed(4)),
        seconds: Number(on.seconds.toFixed(2)),
        cpu_seconds: Object.fromEntries(Object.entries(on.cpu).map(([k, v]) => [k, Number(v.toFixed(2))])),
        ...telemetry,
        mix: values.mix,
      }),
    );
  } finally {
    await replay.close();
    await redisServer.stop();
    if (!values.keep) await rm(work, { recursive: true, force: true });
    else log('kept the run directory', { work });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
