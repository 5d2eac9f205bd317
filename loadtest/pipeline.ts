// `npm run loadtest:pipeline -- --rate R --duration D [--spike FACTORxSECONDS]`:
// the pipeline (replay server -> ingester -> Redis with AOF -> writer ->
// Parquet, real processes, production settings) under R events/s for D, with an
// optional spike; samples metrics, memory, CPU and Redis while it runs, checks
// that every event released was stored exactly once, measures the recovery
// after the spike, and writes loadtest/reports/<timestamp>-pipeline/ (JSON,
// Markdown, SVG charts). The last line printed is one JSON object.
//
// Exit code: 0 when nothing was lost or duplicated and the pipeline drained; 1
// otherwise (the figures are still printed and written).

import { parseArgs } from 'node:util';
import { parseDuration, parseSettings, parseSpike, positiveNumber, runCli, UsageError } from './lib/args.ts';
import { runPipelineLoad } from './lib/pipeline-load.ts';
import { writePipelineReport } from './lib/pipeline-report.ts';
import { createReportDir } from './lib/report.ts';

const USAGE = `usage: npm run loadtest:pipeline -- [--rate 500] [--duration 2m] [--spike FACTORxSECONDS] [--spike-at SECONDS]
                                   [--mix network|plan] [--seed N] [--report-dir DIR] [--no-integrity] [--set KEY=VALUE]
  --rate N          events per second released by the replay server (default 500, today's average; 2000 = the real peak)
  --duration D      how long the load lasts: 90, 90s, 10m, 1h (default 2m)
  --spike FxS       multiply the rate by F for S seconds (5x60: five times the rate for a minute)
  --spike-at T      when the spike starts, seconds after the load starts (default: a quarter of the duration, at least 20 s)
  --mix M           generator mix: network (today's firehose, default) or plan
  --report-dir DIR  where the report goes (default loadtest/reports/<timestamp>-pipeline)
  --no-integrity    skip the exactly-once check (faster; capacity probing only)
  --set KEY=VALUE   override a setting of the ingester and writer (repeatable), e.g. BATCH_MAX_EVENTS=50000;
                    without it they run with their production defaults`;

runCli(USAGE, async () => {
  const { values } = parseArgs({
    options: {
      rate: { type: 'string', default: '500' },
      duration: { type: 'string', default: '2m' },
      spike: { type: 'string' },
      'spike-at': { type: 'string' },
      mix: { type: 'string', default: 'network' },
      seed: { type: 'string', default: '1' },
      'report-dir': { type: 'string' },
      'no-integrity': { type: 'boolean', default: false },
      set: { type: 'string', multiple: true },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const rate = positiveNumber('rate', values.rate, { integer: true, min: 1 });
  const duration = parseDuration('duration', values.duration);
  if (duration < 5) throw new UsageError('--duration must be at least 5 seconds');
  if (values.mix !== 'network' && values.mix !== 'plan') throw new UsageError('--mix must be network or plan');
  let spike;
  if (values.spike) {
    const { factor, seconds } = parseSpike(values.spike);
    const atSeconds = values['spike-at'] !== undefined ? parseDuration('spike-at', values['spike-at']) : Math.max(20, Math.round(duration / 4));
    if (atSeconds + seconds >= duration) throw new UsageError(`the spike (${seconds} s at ${atSeconds} s) must end before the load does (${duration} s), leaving time to recover`);
    spike = { factor, seconds, atSeconds };
  }
  const log = (message: string, fields: object = {}) => console.error(`[loadtest] ${message} ${JSON.stringify(fields)}`);
  const dir = values['report-dir'] ?? (await createReportDir('pipeline'));
  const run = await runPipelineLoad({
    rate,
    durationSeconds: duration,
    spike,
    seed: positiveNumber('seed', values.seed, { integer: true, min: 0 }),
    mix: values.mix,
    integrity: !values['no-integrity'],
    serviceEnv: parseSettings(values.set ?? []),
    log,
  });
  const command = `npm run loadtest:pipeline -- ${process.argv.slice(2).join(' ')}`.trim();
  await writePipelineReport(dir, run, command);
  const r = run.result;
  log('report written', { dir });
  console.log(
    JSON.stringify({
      sent: r.sent,
      stored: r.stored,
      missing: r.missing,
      duplicates: r.duplicates,
      unexpected: r.unexpected,
      lag_p95_s: r.lag_p95_s,
      ...(r.spike ? { recovery_s: r.recovery_s, lag_p95_steady_s: r.lag_p95_steady_s, spike_peak_rate: r.spike.peak_rate } : {}),
      rate: r.rate,
      achieved_rate: r.achieved_rate,
      duration_s: r.duration_s,
      lag_max_s: r.lag_max_s,
      freshness_p95_s: r.freshness_p95_s,
      backlog_max: r.backlog_max,
      drain_s: r.drain_s,
      reconnects: r.reconnects,
      redis_used_memory_max_mb: r.redis_used_memory_max_mb,
      rss_max_mb: r.rss_max_mb,
      cpu_cores_mean: r.cpu_cores_mean,
      machine: `${r.machine.cpus} cpus, load ${r.machine.load_average_1m}`,
      report: dir,
    }),
  );
  const integrityOk = values['no-integrity'] || (r.missing === 0 && r.duplicates === 0 && r.unexpected === 0);
  if (!integrityOk || !r.drained) process.exitCode = 1;
});
