// The report of a pipeline load run: results.json (the figures and every
// sample), summary.md, and SVG charts of throughput, backlog, lag, memory and
// CPU over time.

import { lineChart, type ChartBand } from './svg-chart.ts';
import { markdownTable, writeReportFiles } from './report.ts';
import { describeMachine } from './proc.ts';
import type { PipelineLoadRun, PipelineSample } from './pipeline-load.ts';

export const PIPELINE_CHARTS = ['throughput.svg', 'backlog.svg', 'lag.svg', 'memory.svg', 'cpu.svg'] as const;

function bands(run: PipelineLoadRun): ChartBand[] {
  const { spike, duration_s: duration, recovery_s: recovery } = run.result;
  const list: ChartBand[] = [];
  if (spike) {
    list.push({ from: spike.at_s, to: spike.at_s + spike.seconds, label: `spike ×${spike.factor}` });
    if (recovery !== null && recovery > 0) list.push({ from: spike.at_s + spike.seconds, to: spike.at_s + spike.seconds + recovery, label: 'recovery' });
  }
  const drainEnd = run.samples.at(-1)?.t ?? duration;
  if (drainEnd > duration) list.push({ from: duration, to: drainEnd, label: 'drain' });
  return list;
}

/** Trailing mean over `seconds` (the writer writes whole batches: its per-second rate comes in bursts). */
function trailingMean(samples: readonly PipelineSample[], value: (s: PipelineSample) => number | null, seconds: number) {
  return samples.map((s, i) => {
    const window = samples.slice(0, i + 1).filter((p) => p.t > s.t - seconds);
    const values = window.map(value).filter((v): v is number => v !== null);
    return { x: s.t, y: values.length > 0 ? values.reduce((a, b) => a + b, 0) / values.length : null };
  });
}

function series(samples: readonly PipelineSample[], name: string, value: (s: PipelineSample) => number | null) {
  return { name, points: samples.map((s) => ({ x: s.t, y: value(s) })) };
}

export function pipelineCharts(run: PipelineLoadRun): Record<(typeof PIPELINE_CHARTS)[number], string> {
  const s = run.samples;
  const b = bands(run);
  const x = 'seconds since the load started';
  return {
    'throughput.svg': lineChart({
      title: 'Throughput (events per second)',
      xLabel: x,
      yLabel: 'events/s',
      bands: b,
      series: [
        series(s, 'released by the replay server', (p) => p.released_per_s),
        series(s, 'stored in Redis by the ingester', (p) => p.ingested_per_s),
        { name: 'written to Parquet by the writer (10 s mean)', points: trailingMean(s, (p) => p.written_per_s, 10) },
      ],
    }),
    'backlog.svg': lineChart({
      title: 'Buffer backlog (stream entries not yet written)',
      xLabel: x,
      yLabel: 'entries',
      bands: b,
      series: [series(s, 'backlog (pending + undelivered)', (p) => p.backlog), series(s, 'of which pending in the writer', (p) => p.pending)],
      lines: run.result.baseline ? [{ y: run.result.baseline.backlog, label: 'baseline before the spike' }] : [],
    }),
    'lag.svg': lineChart({
      title: 'Lag (seconds behind the newest event released)',
      xLabel: x,
      yLabel: 'seconds',
      bands: b,
      // While draining nothing new is released, so "behind the newest event" means nothing: not drawn.
      series: [
        series(s, 'ingester cursor lag (Redis)', (p) => (p.phase === 'load' ? p.cursor_lag_s : null)),
        series(s, 'Parquet freshness (writer)', (p) => (p.phase === 'load' ? p.freshness_s : null)),
      ],
      lines: [{ y: 10, label: '10 s target (p95 of cursor lag)' }],
    }),
    'memory.svg': lineChart({
      title: 'Memory (resident set size, MB)',
      xLabel: x,
      yLabel: 'MB',
      bands: b,
      series: [
        series(s, 'ingester', (p) => p.rss_mb.ingester),
        series(s, 'writer', (p) => p.rss_mb.writer),
        series(s, 'redis (RSS)', (p) => p.rss_mb.redis),
        series(s, 'redis used_memory', (p) => p.redis_used_memory_mb),
        series(s, 'replay server + driver', (p) => p.rss_mb.replay_and_driver),
      ],
    }),
    'cpu.svg': lineChart({
      title: 'CPU (cores busy, per process)',
      xLabel: x,
      yLabel: 'cores',
      bands: b,
      series: [
        series(s, 'ingester', (p) => p.cpu_cores.ingester),
        series(s, 'writer', (p) => p.cpu_cores.writer),
        series(s, 'redis', (p) => p.cpu_cores.redis),
        series(s, 'replay server + driver', (p) => p.cpu_cores.replay_and_driver),
      ],
      lines: [{ y: run.result.machine.cpus, label: `${run.result.machine.cpus} cores` }],
    }),
  };
}

export function pipelineMarkdown(run: PipelineLoadRun, command: string): string {
  const r = run.result;
  const ok = r.missing === 0 && r.duplicates === 0 && r.unexpected === 0 && r.drained;
  const lines = [
    `# Pipeline load: ${r.rate} events/s for ${r.duration_s} s${r.spike ? `, spike ×${r.spike.factor} (${r.spike.peak_rate}/s) for ${r.spike.seconds} s at ${r.spike.at_s} s` : ''}`,
    '',
    `\`${command}\``,
    '',
    `Machine: ${describeMachine(r.machine)} (1-minute load average at the end: ${r.machine.load_average_1m}).`,
    `Replay server (seeded generator, ${r.mix} mix) → ingester → Redis (AOF, fsync every second) → writer → Parquet, each its own process, ` +
      (Object.keys(r.settings).length === 0 ? 'with production settings.' : `with production settings except ${Object.entries(r.settings).map(([k, v]) => `${k}=${v}`).join(', ')}.`),
    '',
    '## Integrity',
    '',
    ok
      ? `**Every one of the ${r.sent} events released was stored exactly once** (${r.stored} rows; ${r.invalid_sent} invalid frames expected nowhere).`
      : `**FAILED**: ${r.missing} missing, ${r.duplicates} duplicated, ${r.unexpected} unexpected of ${r.sent} released${r.drained ? '' : '; the pipeline did not drain in time'}.`,
    '',
    '## Figures',
    '',
    markdownTable(
      ['figure', 'value'],
      [
        ['events released (sent)', r.sent],
        ['achieved rate (events/s)', r.achieved_rate],
        ['ingested per second (mean)', r.ingested_per_s_mean],
        ['cursor lag p50 / p95 / max (s)', `${r.lag_p50_s} / ${r.lag_p95_s} / ${r.lag_max_s}`],
        ['cursor lag p95 outside the spike and its recovery (s)', r.lag_p95_steady_s],
        ['Parquet freshness p50 / p95 / max (s)', `${r.freshness_p50_s} / ${r.freshness_p95_s} / ${r.freshness_max_s}`],
        ['backlog max (entries)', r.backlog_max],
        ['backlog growth over the second half (entries/s)', r.backlog_slope_per_s],
        ...(r.spike
          ? ([
              ['baseline before the spike (backlog, lag s)', r.baseline ? `${r.baseline.backlog}, ${r.baseline.lag_s}` : null],
              ['recovery after the spike (s)', r.recovery_s ?? 'not within the run'],
            ] as [string, string | number | null][])
          : []),
        ['drain after the load stopped (s)', r.drain_s],
        ['ingester reconnects / outbox drops by the server', `${r.reconnects} / ${r.outbox_drops}`],
        ['ingester paused by backpressure (s)', r.ingester_paused_s],
        ['Redis used_memory max (MB)', r.redis_used_memory_max_mb],
        ['machine CPU busy / I/O wait / steal (mean share)', `${r.system_busy_mean} / ${r.iowait_mean} / ${r.steal_mean}`],
      ],
    ),
    '',
    '## Processes',
    '',
    markdownTable(
      ['process', 'CPU mean (cores)', 'CPU max (cores)', 'RSS max (MB)'],
      (['ingester', 'writer', 'redis', 'replay_and_driver'] as const).map((p) => [p.replace(/_/g, ' '), r.cpu_cores_mean[p], r.cpu_cores_max[p], r.rss_max_mb[p]]),
    ),
    '',
    '## Charts',
    '',
    '![throughput](throughput.svg)',
    '![backlog](backlog.svg)',
    '![lag](lag.svg)',
    '![memory](memory.svg)',
    '![cpu](cpu.svg)',
    '',
    'Cursor lag: wall-clock time minus the time of the newest event in the buffer (how far ingestion is behind the firehose). ',
    "Freshness: wall-clock time minus the newest event written to Parquet; it includes the writer's batching (a batch closes at 20,000 events or 30 s).",
    '',
  ];
  return lines.join('\n');
}

export async function writePipelineReport(dir: string, run: PipelineLoadRun, command: string): Promise<string[]> {
  return writeReportFiles(dir, {
    'results.json': { command, ...run.result, samples: run.samples },
    'summary.md': pipelineMarkdown(run, command),
    ...pipelineCharts(run),
  });
}
