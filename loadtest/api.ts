// `npm run loadtest:api`: the k6 scenario mix (loadtest/lib/api-mix.ts) with
// autocannon, against a running API (--base-url, --key) or, with --local,
// against an API this command starts over one day of posts written through the
// writer's code (kept under .data/loadtest/ and reused while the writer code is
// unchanged). Prints per query type error rates and p50/p95/p99, writes
// loadtest/reports/<timestamp>-api/, and prints one JSON line last.
//
// Exit code 1 when a threshold fails (errors >= 1%, search p95 >= 2 s, export
// p95 >= 10 s, content checks < 99%), as `k6 run` does.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../base/paths.ts';
import { parseDuration, positiveNumber, runCli, UsageError } from './lib/args.ts';
import { runApiLoad, startLocalApi, type LocalApi } from './lib/api-load.ts';
import { writeApiReport } from './lib/api-report.ts';
import { dayWindow, ensureDayStore } from './lib/day-store.ts';
import { createReportDir } from './lib/report.ts';
import { THINK_TIME_SECONDS } from './lib/api-mix.ts';

function parseThinkTime(value: string): { min: number; max: number } | null {
  if (value.trim() === '0') return null;
  const match = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(value.trim());
  if (!match || Number(match[1]) > Number(match[2])) throw new UsageError(`--think-time must be MIN-MAX seconds (e.g. 5-15) or 0, got ${JSON.stringify(value)}`);
  return { min: Number(match[1]), max: Number(match[2]) };
}

const USAGE = `usage: npm run loadtest:api -- (--local | --base-url URL --key KEY) [--connections 150] [--duration 60s]
                              [--think-time 5-15] [--start ISO --end ISO] [--report-dir DIR]
  --base-url URL        a running API (default http://127.0.0.1:3000); its key with --key or API_KEY
  --key KEY             API key, sent as "Authorization: Bearer KEY"; repeat (or API_KEYS=k1,k2) to spread clients over keys
  --local               start a local API over one day of posts (--posts, --seed, --store-dir) and a key for it
  --connections N       concurrent clients (default 150)
  --duration D          60, 60s, 5m (default 60s)
  --think-time MIN-MAX  seconds a client pauses after each answer, as the k6 scripts (default 5-15); 0 = none (stress)
  --start, --end        the data window asked about (default: the last 24 hours; with --local, the store's day)
  --posts N             --local: posts in the day (default 2,300,000, the planned day)
  --store-dir DIR       --local: where the day is kept (default .data/loadtest/api-day-<posts>-s<seed>)
  --report-dir DIR      where the report goes (default loadtest/reports/<timestamp>-api)`;

runCli(USAGE, async () => {
  const { values } = parseArgs({
    options: {
      'base-url': { type: 'string' },
      key: { type: 'string', multiple: true },
      local: { type: 'boolean', default: false },
      connections: { type: 'string', default: '150' },
      duration: { type: 'string', default: '60s' },
      'think-time': { type: 'string', default: `${THINK_TIME_SECONDS.min}-${THINK_TIME_SECONDS.max}` },
      start: { type: 'string' },
      end: { type: 'string' },
      posts: { type: 'string', default: '2300000' },
      seed: { type: 'string', default: '7' },
      'store-dir': { type: 'string' },
      'report-dir': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const log = (message: string, fields: object = {}) => console.error(`[loadtest] ${message} ${JSON.stringify(fields)}`);
  const connections = positiveNumber('connections', values.connections, { integer: true, min: 1 });
  const duration = parseDuration('duration', values.duration);
  const thinkTime = parseThinkTime(values['think-time']);
  const seed = positiveNumber('seed', values.seed, { integer: true, min: 0 });
  if (values.local && values['base-url']) throw new UsageError('--local starts its own API: give --local or --base-url, not both');
  if ((values.start === undefined) !== (values.end === undefined)) throw new UsageError('--start and --end go together');
  for (const flag of ['start', 'end'] as const) {
    if (values[flag] !== undefined && Number.isNaN(Date.parse(values[flag]))) throw new UsageError(`--${flag} must be an ISO 8601 time`);
  }

  let local: LocalApi | undefined;
  let work: string | undefined;
  const context: string[] = [];
  try {
    let baseUrl = values['base-url'] ?? 'http://127.0.0.1:3000';
    let keys = [...(values.key ?? []), ...(process.env.API_KEYS ?? process.env.API_KEY ?? '').split(',')].map((k) => k.trim()).filter(Boolean);
    let window = values.start && values.end ? { start: new Date(values.start).toISOString(), end: new Date(values.end).toISOString() } : undefined;
    if (values.local) {
      const posts = positiveNumber('posts', values.posts, { integer: true, min: 1000 });
      const root = values['store-dir'] ?? join(REPO_ROOT, '.data', 'loadtest', `api-day-${posts}-s${seed}`);
      log('preparing the store (one day of posts through the writer code; reused when unchanged)', { root, posts });
      const store = await ensureDayStore(root, { posts, seed, onProgress: log });
      log(store.reused ? 'reusing the store' : 'store built', { dataDir: store.dataDir, build_s: store.info.buildSeconds });
      work = await mkdtemp(join(tmpdir(), 'bpe-loadtest-api-'));
      local = await startLocalApi({ dataDir: store.dataDir, work, log });
      baseUrl = local.baseUrl;
      keys = local.keys;
      window ??= dayWindow(store.info.dayStartMs);
      context.push(
        `Local API (its own process, production defaults; rate limits raised above the offered load; authentication ${local.auth}${local.keys.length > 0 ? ', a key from npm run keys' : ''}) ` +
          `over ${posts} posts of one day written through the writer's code, compacted per hour.`,
      );
    }
    window ??= { start: new Date(Date.now() - 86_400_000).toISOString(), end: new Date().toISOString() };
    log('load starting', { baseUrl, connections, duration_s: duration, think_time_s: thinkTime, keys: keys.length, window });
    const run = await runApiLoad({
      baseUrl,
      keys,
      connections,
      durationSeconds: duration,
      window,
      thinkTime,
      seed,
      watch: local ? { pid: local.pid, metricsPort: local.metricsPort } : undefined,
      log,
    });
    const dir = values['report-dir'] ?? (await createReportDir('api'));
    const command = `npm run loadtest:api -- ${process.argv.slice(2).map((a) => (/^bpe_/.test(a) ? '<key>' : a)).join(' ')}`.trim();
    await writeApiReport(dir, run, command, context);
    log('report written', { dir });
    const r = run.result;
    for (const [kind, f] of Object.entries(r.per_kind)) log(kind, f);
    console.log(
      JSON.stringify({
        connections: r.connections,
        duration_s: r.duration_s,
        think_time_s: r.think_time_s,
        requests: r.requests,
        requests_per_s: r.requests_per_s,
        errors: r.errors,
        error_rate: r.error_rate,
        check_pass_rate: r.checks.pass_rate,
        status_codes: r.status_codes,
        p95_ms: Object.fromEntries(Object.entries(r.per_kind).map(([k, f]) => [k, f.p95_ms])),
        per_kind: r.per_kind,
        search_p95_ms: r.per_endpoint.search.p95_ms,
        export_p95_ms: r.per_endpoint.export.p95_ms,
        passed: r.passed,
        api_process: r.api_process,
        machine: `${r.machine.cpus} cpus, load ${r.machine.load_average_1m}`,
        report: dir,
      }),
    );
    if (!r.passed) process.exitCode = 1;
  } finally {
    await local?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  }
});
