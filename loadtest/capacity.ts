// `npm run loadtest:capacity`: raises the event rate step by step (a fresh
// pipeline per step, production settings) until the pipeline stops keeping up
// (the backlog grows without bound, the ingester's lag grows or passes a
// minute, or the load generator itself cannot release the rate), then tries
// the midpoint once, and reports the highest sustained rate and its
// bottleneck: which stage the queue builds in, and whether that process is
// CPU-bound, the machine's CPUs are saturated, or the time goes to I/O.
// Writes loadtest/reports/<timestamp>-capacity/; the last line printed is one
// JSON object.

import { parseArgs } from 'node:util';
import { parseDuration, parseSettings, positiveNumber, runCli } from './lib/args.ts';
import { bottleneckOf, judgeStep, type StepVerdict } from './lib/capacity.ts';
import { runPipelineLoad } from './lib/pipeline-load.ts';
import { writePipelineReport } from './lib/pipeline-report.ts';
import { describeMachine, machineInfo } from './lib/proc.ts';
import { createReportDir, markdownTable, writeReportFiles } from './lib/report.ts';
import { max } from './lib/stats.ts';
import { lineChart } from './lib/svg-chart.ts';
import { join } from 'node:path';

const USAGE = `usage: npm run loadtest:capacity -- [--start 2000] [--factor 1.5] [--max-rate 100000] [--step 90s] [--no-integrity]
  --start N       first rate (events/s; default 2000, today's peak)
  --factor F      each step multiplies the rate by F (default 1.5)
  --max-rate N    stop there even if the pipeline keeps up (default 100000)
  --step D        how long each rate is held (default 90s; judged on its last two thirds)
  --no-integrity  skip the exactly-once check of each step (faster)
  --set KEY=VALUE override a setting of the ingester and writer (repeatable), e.g. BATCH_MAX_EVENTS=50000
  --report-dir D  where the report goes (default loadtest/reports/<timestamp>-capacity)`;

runCli(USAGE, async () => {
  const { values } = parseArgs({
    options: {
      start: { type: 'string', default: '2000' },
      factor: { type: 'string', default: '1.5' },
      'max-rate': { type: 'string', default: '100000' },
      step: { type: 'string', default: '90s' },
      'no-integrity': { type: 'boolean', default: false },
      set: { type: 'string', multiple: true },
      'report-dir': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const start = positiveNumber('start', values.start, { integer: true, min: 1 });
  const factor = positiveNumber('factor', values.factor, { min: 1.05 });
  const maxRate = positiveNumber('max-rate', values['max-rate'], { integer: true, min: start });
  const step = parseDuration('step', values.step);
  const log = (message: string, fields: object = {}) => console.error(`[capacity] ${message} ${JSON.stringify(fields)}`);
  const dir = values['report-dir'] ?? (await createReportDir('capacity'));
  const cpus = machineInfo().cpus;

  const verdicts: StepVerdict[] = [];
  const runStep = async (rate: number): Promise<StepVerdict> => {
    log('step', { rate, seconds: step });
    const run = await runPipelineLoad({ rate, durationSeconds: step, integrity: !values['no-integrity'], serviceEnv: parseSettings(values.set ?? []), log: (m, f) => log(`  ${m}`, f ?? {}) });
    await writePipelineReport(join(dir, `step-${rate}`), run, `loadtest:capacity step at ${rate} events/s`);
    const verdict = judgeStep(run);
    verdicts.push(verdict);
    log(verdict.sustained ? 'sustained' : 'NOT sustained', { rate, reasons: verdict.reasons, ingested_per_s: verdict.ingested_per_s, cpu: verdict.cpu_cores_mean, busy: verdict.system_busy });
    return verdict;
  };

  let best: StepVerdict | undefined;
  let failed: StepVerdict | undefined;
  for (let rate = start; rate <= maxRate; rate = Math.round(rate * factor)) {
    const v = await runStep(rate);
    if (!v.sustained) {
      failed = v;
      break;
    }
    best = v;
  }
  // One refinement between the last rate that held and the first that did not.
  if (best && failed && failed.rate / best.rate > 1.15) {
    const mid = Math.round((best.rate + failed.rate) / 2 / 100) * 100;
    const v = await runStep(mid);
    if (v.sustained) best = v;
    else failed = v;
  }

  const machine = machineInfo();
  const bottleneck = failed ? bottleneckOf(failed, cpus) : null;
  const result = {
    max_sustained_rate: best?.rate ?? null,
    first_unsustained_rate: failed?.rate ?? null,
    bottleneck,
    steps: verdicts,
    machine,
    report: dir,
  };
  const sorted = [...verdicts].sort((a, b) => a.rate - b.rate);
  const md = [
    '# Pipeline capacity',
    '',
    `Machine: ${describeMachine(machine)}. Each step: a fresh pipeline (replay server → ingester → Redis with AOF → writer), production settings, ${step} s at the rate, judged on its last two thirds.`,
    '',
    best ? `**Highest sustained rate: ${best.rate} events/s.**` : '**Not even the first rate was sustained.**',
    failed && bottleneck ? `First rate not sustained: ${failed.rate} events/s (${failed.reasons.join('; ')}). Bottleneck: **${bottleneck.stage}**, ${bottleneck.resource}: ${bottleneck.detail}.` : `Every rate up to ${maxRate} events/s was sustained.`,
    '',
    markdownTable(
      ['rate', 'sustained', 'released/s', 'ingested/s', 'written/s', 'backlog floor growth /s', 'lag p95 s', 'ingester', 'writer', 'redis', 'replay+driver', 'machine busy', 'iowait', 'why not'],
      sorted.map((v) => [
        v.rate,
        v.sustained ? 'yes' : 'NO',
        v.achieved_rate,
        v.ingested_per_s,
        v.written_per_s,
        v.backlog_floor_slope_per_s,
        v.lag_p95_s,
        v.cpu_cores_mean.ingester ?? null,
        v.cpu_cores_mean.writer ?? null,
        v.cpu_cores_mean.redis ?? null,
        v.cpu_cores_mean.replay_and_driver ?? null,
        v.system_busy,
        v.iowait,
        v.reasons.join('; ') || null,
      ]),
    ),
    '',
    'CPU columns are cores (1 = one core busy), mean over the step. Each step has its own report in `step-<rate>/`.',
    '',
    '![throughput by rate](capacity.svg)',
    '![cpu by rate](capacity-cpu.svg)',
    '',
  ].join('\n');
  await writeReportFiles(dir, {
    'results.json': result,
    'summary.md': md,
    'capacity.svg': lineChart({
      title: 'Throughput by offered rate',
      xLabel: 'offered rate (events/s)',
      yLabel: 'events/s',
      series: [
        { name: 'released', points: sorted.map((v) => ({ x: v.rate, y: v.achieved_rate })) },
        { name: 'ingested', points: sorted.map((v) => ({ x: v.rate, y: v.ingested_per_s })) },
        { name: 'written', points: sorted.map((v) => ({ x: v.rate, y: v.written_per_s })) },
      ],
    }),
    'capacity-cpu.svg': lineChart({
      title: 'CPU by offered rate (cores)',
      xLabel: 'offered rate (events/s)',
      yLabel: 'cores',
      series: ['ingester', 'writer', 'redis', 'replay_and_driver'].map((p) => ({ name: p.replace(/_/g, ' '), points: sorted.map((v) => ({ x: v.rate, y: v.cpu_cores_mean[p] ?? null })) })),
      lines: [{ y: cpus, label: `${cpus} cores` }],
    }),
  });
  log('report written', { dir });
  console.log(
    JSON.stringify({
      max_sustained_rate: result.max_sustained_rate,
      first_unsustained_rate: result.first_unsustained_rate,
      bottleneck,
      steps: sorted.map((v) => ({ rate: v.rate, sustained: v.sustained, ingested_per_s: v.ingested_per_s, written_per_s: v.written_per_s, cpu: v.cpu_cores_mean, busy: v.system_busy, reasons: v.reasons })),
      machine: `${machine.cpus} cpus, load ${machine.load_average_1m}`,
      max_observed: max(verdicts.map((v) => v.ingested_per_s ?? 0)),
      report: dir,
    }),
  );
});
