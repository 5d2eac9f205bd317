// How a capacity step is judged: did the pipeline keep up with the rate, and if
// not, where did the queue build and which resource ran out.

import type { PipelineLoadRun, PipelineSample } from './pipeline-load.ts';
import { mean, round, slope } from './stats.ts';

/** A Node process runs its JavaScript on one thread: this much of a core is "saturated". */
const SATURATED_CORE = 0.85;

export interface StepVerdict {
  rate: number;
  sustained: boolean;
  reasons: string[];
  achieved_rate: number;
  ingested_per_s: number | null;
  written_per_s: number | null;
  /** Growth of the backlog's floor (its minimum per 15 s), entries per second. */
  backlog_floor_slope_per_s: number;
  lag_p95_s: number | null;
  lag_slope_s_per_s: number;
  lag_end_s: number | null;
  cpu_cores_mean: Record<string, number | null>;
  system_busy: number | null;
  iowait: number | null;
  steal: number | null;
  missing: number;
  duplicates: number;
}

/** Whether a step kept up, judged on its last two thirds (the first third is warm-up). */
export function judgeStep(run: PipelineLoadRun): StepVerdict {
  const r = run.result;
  const load = run.samples.filter((s) => s.phase === 'load');
  const judged = load.filter((s) => s.t >= r.duration_s / 3);
  // The writer takes whole batches: the backlog is a saw-tooth whose floor stays near 0 while it keeps up.
  const floors: { x: number; y: number }[] = [];
  for (let from = r.duration_s / 3; from < r.duration_s; from += 15) {
    const inWindow = judged.filter((s) => s.t >= from && s.t < from + 15);
    if (inWindow.length > 0) floors.push({ x: from, y: Math.min(...inWindow.map((s) => s.backlog)) });
  }
  const floorSlope = slope(floors);
  const lags = judged.filter((s): s is PipelineSample & { cursor_lag_s: number } => s.cursor_lag_s !== null);
  const lagSlope = slope(lags.map((s) => ({ x: s.t, y: s.cursor_lag_s })));
  const lagEnd = lags.at(-1)?.cursor_lag_s ?? null;
  const rateOf = (pick: (s: PipelineSample) => number | null) => round(mean(judged.map(pick).filter((v): v is number => v !== null)), 0);
  const reasons: string[] = [];
  if (r.achieved_rate < 0.97 * r.rate) reasons.push(`the replay server released only ${r.achieved_rate}/s`);
  if (floorSlope > 0.01 * r.rate) reasons.push(`the backlog grows (its floor by ${Math.round(floorSlope)} entries/s)`);
  if (lagSlope > 0.05) reasons.push(`the ingester falls behind (lag grows ${lagSlope.toFixed(2)} s/s)`);
  if (lagEnd !== null && lagEnd > 60) reasons.push(`lag ${lagEnd.toFixed(0)} s, over a minute`);
  if (r.missing > 0 || r.duplicates > 0) reasons.push(`${r.missing} missing, ${r.duplicates} duplicated`);
  if (!r.drained) reasons.push('did not drain');
  return {
    rate: r.rate,
    sustained: reasons.length === 0,
    reasons,
    achieved_rate: r.achieved_rate,
    ingested_per_s: rateOf((s) => s.ingested_per_s),
    written_per_s: rateOf((s) => s.written_per_s),
    backlog_floor_slope_per_s: round(floorSlope, 1) ?? 0,
    lag_p95_s: r.lag_p95_s,
    lag_slope_s_per_s: round(lagSlope, 3) ?? 0,
    lag_end_s: lagEnd,
    cpu_cores_mean: r.cpu_cores_mean,
    system_busy: round(mean(judged.map((s) => s.system.busy)), 3),
    iowait: round(mean(judged.map((s) => s.system.iowait)), 3),
    steal: round(mean(judged.map((s) => s.system.steal)), 3),
    missing: r.missing,
    duplicates: r.duplicates,
  };
}

export interface Bottleneck {
  /** Where the queue builds: writer (backlog grows), ingester (lag grows, backlog does not), load generator. */
  stage: string;
  resource: 'cpu (process)' | 'cpu (machine)' | 'io' | 'none saturated';
  detail: string;
}

export function bottleneckOf(verdict: StepVerdict, cpus: number): Bottleneck {
  const cpu = verdict.cpu_cores_mean;
  const stage =
    verdict.achieved_rate < 0.97 * verdict.rate
      ? 'load generator (replay server)'
      : verdict.backlog_floor_slope_per_s > 0.01 * verdict.rate
        ? 'writer'
        : verdict.lag_slope_s_per_s > 0.05 || (verdict.lag_end_s ?? 0) > 60
          ? 'ingester'
          : 'none';
  const processOf: Record<string, string> = { 'load generator (replay server)': 'replay_and_driver', writer: 'writer', ingester: 'ingester' };
  const own = stage in processOf ? (cpu[processOf[stage]!] ?? 0) : 0;
  const shares = Object.entries(cpu)
    .map(([p, v]) => `${p.replace(/_/g, ' ')} ${v ?? 0}`)
    .join(', ');
  const busy = verdict.system_busy ?? 0;
  if ((verdict.iowait ?? 0) >= 0.2) return { stage, resource: 'io', detail: `I/O wait ${Math.round((verdict.iowait ?? 0) * 100)}% of the CPUs' time (cores: ${shares})` };
  if (busy >= 0.9) return { stage, resource: 'cpu (machine)', detail: `all ${cpus} CPUs busy (${Math.round(busy * 100)}%), shared by: ${shares} cores` };
  if (own >= SATURATED_CORE) return { stage, resource: 'cpu (process)', detail: `the ${stage} uses ${own} cores: its JavaScript thread is saturated (cores: ${shares})` };
  if ((cpu.redis ?? 0) >= SATURATED_CORE) return { stage: 'redis', resource: 'cpu (process)', detail: `redis uses ${cpu.redis} cores: its single thread is saturated` };
  return { stage, resource: 'none saturated', detail: `no CPU saturated (machine ${Math.round(busy * 100)}% busy; cores: ${shares}); look at batch sizes and backpressure` };
}

