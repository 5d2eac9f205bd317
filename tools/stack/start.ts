// `npm start`: the local stack. Redis (REDIS_URL, or a redis-server of our own with
// AOF under ./.data), a Jetstream source (the replay server's demo data, or the
// public Jetstream with --live), the ingester, the writer and the API, each its
// own process.
// Ctrl-C stops them in dependency order, so nothing buffered is lost: the ingester
// stores what it received, the writer finishes its batch, Redis flushes its AOF.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { redisKeys } from '../../services/shared/redis-keys.ts';
import { ApiKeyStore, SCOPES } from '../../services/api/auth/keys.ts';
import { AuditLog } from '../../services/shared/audit/log.ts';
import { ServiceProcess } from '../../base/service-process.ts';
import { startRedisServer, type RedisServer } from '../../base/redis-server.ts';
import { waitForPort } from '../../base/ports.ts';
import { startStackMonitoring, type Monitoring } from './monitoring.ts';

const USAGE = `usage: npm start [-- --live] [--rate EVENTS_PER_SEC] [--seed N] [--data-dir DIR] [--no-monitoring]
  --live        read the public Jetstream (JETSTREAM_URL, default Bluesky's) instead of replayed demo data
  --no-monitoring  do not run Prometheus and Alertmanager (tools/stack/monitoring.ts)
  --rate N      demo data rate in events/s (default 100, about the planned daily average)
  --seed N      demo data seed (default: a new one each run, so runs never repeat events)
  --data-dir D  where Redis's AOF and the Parquet store live (default ./.data)`;

const { values } = parseArgs({
  options: {
    live: { type: 'boolean', default: false },
    rate: { type: 'string', default: '100' },
    seed: { type: 'string', default: String(Date.now() % 2_147_483_647) },
    'data-dir': { type: 'string', default: './.data' },
    'no-monitoring': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
for (const flag of ['rate', 'seed'] as const) {
  if (!/^\d+$/.test(values[flag])) {
    console.error(`--${flag} must be a non-negative integer, got ${JSON.stringify(values[flag])}\n${USAGE}`);
    process.exit(2);
  }
}

const dataRoot = resolve(values['data-dir']);
const parquetDir = resolve(dataRoot, 'parquet');
const prefix = process.env.REDIS_PREFIX ?? 'bpe';
const replayPort = Number(process.env.REPLAY_PORT ?? 6008);
const say = (text: string) => console.log(`[stack] ${text}`);

const children: ServiceProcess[] = [];
let ownRedis: RedisServer | undefined;
let monitoring: Monitoring | undefined;
let shuttingDown = false;

const LEVELS: Record<string, string> = { '10': 'trace', '20': 'debug', '30': 'info', '40': 'warn', '50': 'error', '60': 'fatal' };

/** Compact, readable echo of a service's JSON log line. */
function echo(name: string) {
  return (line: string) => {
    try {
      const entry = JSON.parse(line) as { level?: number | string; msg?: string } & Record<string, unknown>;
      const { level, msg, time: _time, service: _service, version: _version, pid: _pid, hostname: _hostname, ...fields } = entry;
      const detail = Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
      console.log(`[${name}] ${LEVELS[String(level)] ?? level ?? ''} ${msg ?? ''}${detail}`);
    } catch {
      console.log(`[${name}] ${line}`);
    }
  };
}

function startService(name: string, script: string, env: Record<string, string | undefined>, args: string[] = []): ServiceProcess {
  const service = new ServiceProcess({ name, script, args, env, onLine: echo(name), detached: true });
  children.push(service);
  void service.exited.then(({ code, signal }) => {
    if (!shuttingDown) {
      say(`${name} exited unexpectedly (code ${code}, signal ${signal}); stopping the stack`);
      void shutdown(1);
    }
  });
  return service;
}

async function redisAnswers(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1500 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

async function shutdown(exitCode = 0): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  clearInterval(statusTimer);
  // Monitoring first: stopping the services must not page anyone.
  await monitoring?.stop();
  say('stopping: ingester first (stores what it received), then writer (finishes its batch), then the rest');
  for (const name of ['api', 'ingester', 'writer', 'replay']) {
    const child = children.find((c) => c.options.name === name);
    if (child?.running) await child.stop('SIGTERM');
  }
  if (ownRedis) {
    await ownRedis.stop();
    say(`redis stopped; its append-only file is under ${ownRedis.dir}`);
  }
  say('stopped');
  process.exit(exitCode);
}

let statusTimer: NodeJS.Timeout | undefined;

/**
 * The API needs a key (API_AUTH=required, as in production). The local stack makes
 * one for this machine, kept in <data-dir>/demo-api-key (mode 0600) and reused while
 * it is valid in this Redis: a local key, never one to deploy or share.
 */
async function demoApiKey(redisUrl: string): Promise<string> {
  const file = resolve(dataRoot, 'demo-api-key');
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  await redis.connect();
  try {
    const store = new ApiKeyStore(redis, prefix);
    const saved = await readFile(file, 'utf8').then((text) => text.trim(), () => undefined);
    if (saved && (await store.verify(saved)).ok) return saved;
    const { key, record } = await store.create('npm start local demo', [...SCOPES]);
    await new AuditLog(redis, prefix).append({
      action: 'key_created',
      actor: { type: 'operator', name: 'npm start' },
      source: 'stack',
      details: { key_id: record.id, key_name: record.name, scopes: record.scopes },
    });
    await writeFile(file, `${key}\n`, { mode: 0o600 });
    return key;
  } finally {
    redis.disconnect();
  }
}

async function main(): Promise<void> {
  await mkdir(parquetDir, { recursive: true });

  let redisUrl = process.env.REDIS_URL;
  if (redisUrl) {
    if (!(await redisAnswers(redisUrl))) throw new Error(`REDIS_URL=${redisUrl} does not answer PING`);
    say(`using Redis at REDIS_URL (${redisUrl.replace(/\/\/[^@]*@/, '//***@')})`);
  } else {
    const port = Number(process.env.STACK_REDIS_PORT ?? 6380);
    redisUrl = `redis://127.0.0.1:${port}`;
    if (await redisAnswers(redisUrl)) {
      say(`using the Redis already answering at ${redisUrl}`);
    } else {
      ownRedis = await startRedisServer({ dir: resolve(dataRoot, 'redis'), port, appendfsync: 'everysec', detached: true });
      say(`started redis-server with AOF persistence at ${redisUrl} (files in ${ownRedis.dir})`);
    }
  }

  let jetstreamUrl: string;
  if (values.live) {
    jetstreamUrl = process.env.JETSTREAM_URL ?? 'wss://jetstream1.us-east.bsky.network/subscribe,wss://jetstream2.us-east.bsky.network/subscribe';
    say(`LIVE: reading the public Jetstream at ${jetstreamUrl}`);
  } else {
    startService('replay', 'loadtest/jetstream-replay/cli.ts', {}, ['--port', String(replayPort), '--rate', values.rate, '--seed', values.seed]);
    await waitForPort(replayPort, '127.0.0.1', 30_000);
    jetstreamUrl = `ws://127.0.0.1:${replayPort}/subscribe`;
    say('=====================================================================');
    say(` DEMO DATA: events are REPLAYED by a seeded generator (seed ${values.seed}),`);
    say(` ${values.rate}/s, not the real Bluesky network. Use --live for the real firehose.`);
    say('=====================================================================');
  }

  const common = { REDIS_URL: redisUrl, REDIS_PREFIX: prefix, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' };
  const ingester = startService('ingester', 'services/ingester/main.ts', {
    ...common,
    JETSTREAM_URL: jetstreamUrl,
    // The replay server starts a new history each run: read it from its start.
    JETSTREAM_INITIAL_CURSOR: values.live ? undefined : '0',
  });
  const writer = startService('writer', 'services/writer/main.ts', { ...common, DATA_DIR: parquetDir });
  const apiKey = await demoApiKey(redisUrl);
  const api = startService('api', 'services/api/main.ts', { ...common, DATA_DIR: parquetDir, AUDIT_DIR: resolve(dataRoot, 'audit') });
  const [ingesterUp, writerUp, apiUp] = await Promise.all([
    ingester.waitForLog('ingester started'),
    writer.waitForLog('writer started'),
    api.waitForLog('api started'),
  ]);
  const apiUrl = `http://${String(apiUp.host)}:${String(apiUp.port)}`;

  say('---------------------------------------------------------------------');
  say(`ingester  health http://127.0.0.1:${String(ingesterUp.healthPort)}/readyz  metrics http://127.0.0.1:${String(ingesterUp.metricsPort)}/metrics`);
  say(`writer    health http://127.0.0.1:${String(writerUp.healthPort)}/readyz  metrics http://127.0.0.1:${String(writerUp.metricsPort)}/metrics`);
  say(`api       health ${apiUrl}/readyz  metrics http://127.0.0.1:${String(apiUp.metricsPort)}/metrics`);
  say(`data lands in ${parquetDir}/<table>/date=YYYY-MM-DD/hour=HH/*.parquet`);
  say('  (a batch file every 30 s or 20,000 events; closed hours are compacted)');
  say(`API       ${apiUrl}/docs  (interactive docs; OpenAPI at ${apiUrl}/openapi.json)`);
  say(`LOCAL DEMO API KEY: ${apiKey}`);
  say(`  (made by npm start for this local stack only, scopes ${SCOPES.join(',')}; kept in ${resolve(dataRoot, 'demo-api-key')}.`);
  say('   Never deploy or share it; production keys come from `npm run keys -- create`.)');
  say(`  curl -H 'Authorization: Bearer ${apiKey}' '${apiUrl}/v1/search?text=coffee&limit=5'`);
  say(`  curl -H 'Authorization: Bearer ${apiKey}' '${apiUrl}/v1/stats/timeseries?interval=hour'`);
  say('or query the Parquet store with SQL (one view per table: posts, likes, reposts, follows, ...):');
  say(`  npm run query -- "SELECT count(*) FROM posts"`);
  say(`  npm run query -- "SELECT created_at, text FROM posts ORDER BY time_us DESC LIMIT 5"`);
  if (!values['no-monitoring']) {
    const port = (line: Record<string, unknown>) => Number(line.metricsPort);
    monitoring = await startStackMonitoring(dataRoot, { ingester: port(ingesterUp), writer: port(writerUp), api: port(apiUp) }, say);
  }
  say('Ctrl-C stops everything without losing buffered events.');
  say('---------------------------------------------------------------------');

  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  await redis.connect().catch(() => undefined);
  const keys = redisKeys(prefix);
  statusTimer = setInterval(() => {
    Promise.all([redis.xlen(keys.stream), redis.get(keys.cursor)])
      .then(([backlog, cursor]) => {
        const lag = cursor ? ((Date.now() * 1000 - Number(cursor)) / 1e6).toFixed(1) : 'n/a';
        say(`status: buffer backlog ${backlog} events, cursor lag ${lag} s`);
      })
      .catch(() => say('status: redis not answering'));
  }, 15_000);
  statusTimer.unref();
}

process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
main().catch((error: unknown) => {
  console.error(`[stack] failed to start: ${(error as Error).message}`);
  void shutdown(1);
});
