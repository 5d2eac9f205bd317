// `npm run loadtest:pipeline`, short: 20 seconds of load with a spike through
// real processes; every released event stored exactly once, the last line is
// the promised JSON, and the report (figures, summary, charts) is written.
// Timings are printed by the tool, never asserted here (the machine is shared).
// Plus the pieces it is built from: argument parsing, the recovery measure and
// the SVG charts.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ServiceProcess } from '../base/service-process.ts';
import { parseDuration, parseSettings, parseSpike } from '../loadtest/lib/args.ts';
import { recoveryTime } from '../loadtest/lib/pipeline-load.ts';
import { PIPELINE_CHARTS } from '../loadtest/lib/pipeline-report.ts';
import { lineChart, niceTicks } from '../loadtest/lib/svg-chart.ts';
import { judgeStep, bottleneckOf } from '../loadtest/lib/capacity.ts';
import { lastJson, removeDir, tempDir } from './helpers/pipeline.ts';

describe('loadtest:pipeline (short run)', { timeout: 240_000 }, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('stores every event of a run with a spike exactly once, prints the figures and writes the report with charts', async () => {
    const reportDir = await tempDir('loadtest-pipeline');
    cleanups.push(() => removeDir(reportDir));
    const cli = new ServiceProcess({
      name: 'loadtest-pipeline',
      script: 'loadtest/pipeline.ts',
      // The writer's batch age is the only change from production settings: a
      // short run should not wait 30 s for its last partial batch.
      args: ['--rate', '400', '--duration', '20', '--spike', '5x5', '--spike-at', '8', '--report-dir', reportDir, '--set', 'BATCH_MAX_AGE_MS=1000'],
      env: {},
    });
    cleanups.push(() => cli.stop('SIGKILL'));
    const exit = await cli.exited;
    const figures = lastJson(cli.lines);
    expect(exit.code, cli.lines.slice(-20).join('\n')).toBe(0);

    expect(figures.sent).toBeGreaterThan(400 * 20 * 0.8);
    expect(figures.missing).toBe(0);
    expect(figures.duplicates).toBe(0);
    expect(figures.unexpected).toBe(0);
    expect(figures.stored).toBe(figures.sent); // the network mix has no invalid frames
    expect(typeof figures.lag_p95_s).toBe('number');
    expect(figures).toHaveProperty('recovery_s');
    expect(figures.spike_peak_rate).toBe(2000);

    const results = JSON.parse(await readFile(join(reportDir, 'results.json'), 'utf8')) as { samples: unknown[]; sent: number; settings: Record<string, string> };
    expect(results.sent).toBe(figures.sent);
    expect(results.samples.length).toBeGreaterThan(10);
    expect(results.settings).toEqual({ BATCH_MAX_AGE_MS: '1000' });
    const summary = await readFile(join(reportDir, 'summary.md'), 'utf8');
    expect(summary).toContain('stored exactly once');
    expect(summary).toContain('recovery after the spike');
    for (const chart of PIPELINE_CHARTS) {
      const svg = await readFile(join(reportDir, chart), 'utf8');
      expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'), chart).toBe(true);
      expect(svg, chart).toContain('<polyline');
      expect(summary).toContain(`(${chart})`);
    }
  });
});

describe('load-test building blocks', () => {
  it('parses durations, spikes and settings, and refuses nonsense', () => {
    expect(parseDuration('duration', '90')).toBe(90);
    expect(parseDuration('duration', '10m')).toBe(600);
    expect(parseDuration('duration', '1h30m')).toBe(5400);
    expect(parseSpike('5x60')).toEqual({ factor: 5, seconds: 60 });
    expect(parseSpike('10x1m')).toEqual({ factor: 10, seconds: 60 });
    expect(parseSettings(['BATCH_MAX_EVENTS=50000'])).toEqual({ BATCH_MAX_EVENTS: '50000' });
    expect(() => parseDuration('duration', 'ten')).toThrow(/--duration/);
    expect(() => parseSpike('5*60')).toThrow(/FACTORxSECONDS/);
    expect(() => parseSpike('1x60')).toThrow(/above 1/);
    expect(() => parseSettings(['batch=1'])).toThrow(/KEY=VALUE/);
  });

  it('measures recovery as the time until backlog and lag stay back at their pre-spike baseline', () => {
    // 1 sample a second; spike over [20, 30); the backlog drains by t = 42.
    const samples = Array.from({ length: 60 }, (_, t) => ({
      t,
      phase: 'load' as const,
      backlog: t < 20 ? (t % 5) * 100 : t < 30 ? 500 + (t - 20) * 2000 : Math.max(300, 20_500 - (t - 30) * 2000),
      cursor_lag_s: t >= 20 && t < 35 ? 5 : 0.1,
    }));
    const { baseline, recovery_s } = recoveryTime(samples, { atSeconds: 20, seconds: 10 }, 100);
    expect(baseline).toEqual({ backlog: 400, lag_s: 0.1 });
    // backlog <= 500 from t = 40 (20,500 - 10 × 2,000 = 500), lag back at 35.
    expect(recovery_s).toBe(10);
    // Never recovered within the run: null, not a number.
    const stuck = samples.map((s) => ({ ...s, backlog: s.t >= 20 ? 50_000 : s.backlog }));
    expect(recoveryTime(stuck, { atSeconds: 20, seconds: 10 }, 100).recovery_s).toBeNull();
  });

  it('draws charts with round ticks, gaps for missing values and marked bands', () => {
    expect(niceTicks(0, 9.3)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(0, 2300)).toEqual([0, 500, 1000, 1500, 2000, 2500]);
    const svg = lineChart({
      title: 'a <chart> & more',
      xLabel: 's',
      yLabel: 'n',
      series: [{ name: 'one', points: [{ x: 0, y: 1 }, { x: 1, y: 2 }, { x: 2, y: null }, { x: 3, y: 2 }, { x: 4, y: 3 }] }],
      bands: [{ from: 1, to: 3, label: 'spike' }],
    });
    expect(svg).toContain('a &lt;chart&gt; &amp; more');
    expect(svg.match(/<polyline/g)).toHaveLength(2); // the gap splits the line
    expect(svg).toContain('>spike</text>');
  });

  it('judges a capacity step by the backlog floor and the lag, and names the bottleneck', () => {
    const step = (floorGrowth: number, lagGrowth: number, cpu: Record<string, number>, busy: number) => {
      const samples = Array.from({ length: 90 }, (_, t) => ({
        t,
        phase: 'load' as const,
        backlog: (t % 5) * 1000 + t * floorGrowth,
        cursor_lag_s: 0.2 + t * lagGrowth,
        ingested_per_s: 5000,
        written_per_s: 5000,
        system: { busy, iowait: 0.01, steal: 0 },
      }));
      const result = { rate: 5000, duration_s: 90, achieved_rate: 5000, lag_p95_s: 1, missing: 0, duplicates: 0, drained: true, cpu_cores_mean: cpu };
      return judgeStep({ result, samples } as unknown as Parameters<typeof judgeStep>[0]);
    };
    const ok = step(0, 0, { ingester: 0.3, writer: 0.5, redis: 0.1, replay_and_driver: 0.2 }, 0.5);
    expect(ok.sustained).toBe(true);
    const writerBound = step(400, 0, { ingester: 0.3, writer: 0.95, redis: 0.1, replay_and_driver: 0.2 }, 0.8);
    expect(writerBound.sustained).toBe(false);
    expect(bottleneckOf(writerBound, 2)).toMatchObject({ stage: 'writer', resource: 'cpu (process)' });
    const machineBound = step(0, 0.5, { ingester: 0.7, writer: 0.6, redis: 0.2, replay_and_driver: 0.5 }, 0.97);
    expect(machineBound.sustained).toBe(false);
    expect(bottleneckOf(machineBound, 2)).toMatchObject({ stage: 'ingester', resource: 'cpu (machine)' });
    expect(existsSync('loadtest/reports/.gitkeep')).toBe(true);
  });
});
