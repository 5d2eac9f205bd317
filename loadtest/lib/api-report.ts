// The report of an API load run: results.json, summary.md and two charts
// (answers and errors per second; p95 latency per second).

import { KIND_NAMES, QUERY_KINDS } from './api-mix.ts';
import type { ApiLoadRun } from './api-load.ts';
import { describeMachine } from './proc.ts';
import { markdownTable, writeReportFiles } from './report.ts';
import { lineChart } from './svg-chart.ts';

export function apiMarkdown(run: ApiLoadRun, command: string, context: string[] = []): string {
  const r = run.result;
  const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
  return [
    `# API load: ${r.connections} concurrent clients for ${r.duration_s} s`,
    '',
    `\`${command}\``,
    '',
    `Target: ${r.base_url}; data window ${r.window.start} – ${r.window.end}.`,
    `Each client is one researcher: ${r.think_time_s ? `a pause of ${r.think_time_s.min}–${r.think_time_s.max} s after each answer (think time)` : 'its next request as soon as an answer arrives (no think time: a stress test)'}, ` +
      'a mix of searches, author queries, pages, post lookups, stats and exports, every answer checked for content.',
    `Machine: ${describeMachine(r.machine)} (1-minute load average at the end: ${r.machine.load_average_1m}).`,
    ...context,
    '',
    `**${r.passed ? 'PASSED' : 'FAILED'}**: ${r.requests} requests (${r.requests_per_s}/s), ${r.errors} errors (${pct(r.error_rate)}), ` +
      `${r.checks.failed} of ${r.checks.total} content checks failed.`,
    '',
    markdownTable(
      ['threshold', 'limit', 'measured', 'result'],
      r.thresholds.map((t) => [t.name, t.limit, t.name.includes('p95') ? (t.value === null ? null : `${t.value} ms`) : t.value === null ? null : pct(t.value), t.ok ? 'pass' : 'FAIL']),
    ),
    '',
    '## Per query type',
    '',
    'Latency of the successful answers, in ms. Errors: any status other than 2xx, or no answer within the timeout.',
    '',
    markdownTable(
      ['query type', 'endpoint', 'requests', 'errors', 'error rate', 'p50', 'p95', 'p99', 'max', 'failed checks'],
      [
        ...KIND_NAMES.map((k) => {
          const f = r.per_kind[k];
          return [k, QUERY_KINDS[k].endpoint, f.requests, f.errors, pct(f.error_rate), f.p50_ms, f.p95_ms, f.p99_ms, f.max_ms, f.checks_failed];
        }),
        ['**all**', '', r.overall.requests, r.overall.errors, pct(r.overall.error_rate), r.overall.p50_ms, r.overall.p95_ms, r.overall.p99_ms, r.overall.max_ms, r.overall.checks_failed],
      ],
    ),
    '',
    '## Status codes',
    '',
    markdownTable(['status', 'count'], Object.entries(r.status_codes).sort()),
    '',
    ...(Object.keys(r.failed_checks).length > 0 ? ['## Failed checks', '', markdownTable(['check', 'failures'], Object.entries(r.failed_checks)), ''] : []),
    ...(r.api_process
      ? [`API process: ${r.api_process.cpu_cores_mean} cores on average, ${r.api_process.rss_max_mb} MB resident at most, response cache hit rate ${r.api_process.cache_hit_rate ?? 'n/a'}.`, '']
      : []),
    `Load generator (this process): ${r.load_generator_cpu_cores} cores on average.`,
    '',
    '![answers per second](throughput.svg)',
    '![p95 latency per second](latency.svg)',
    '',
    'The query types:',
    '',
    markdownTable(['query type', 'share', 'what'], KIND_NAMES.map((k) => [k, `${QUERY_KINDS[k].weight}%`, QUERY_KINDS[k].description])),
    '',
  ].join('\n');
}

export async function writeApiReport(dir: string, run: ApiLoadRun, command: string, context: string[] = []): Promise<string[]> {
  const x = 'seconds since the load started';
  return writeReportFiles(dir, {
    'results.json': { command, ...run.result, timeline: run.timeline },
    'summary.md': apiMarkdown(run, command, context),
    'throughput.svg': lineChart({
      title: 'Answers and errors per second',
      xLabel: x,
      yLabel: 'per second',
      series: [
        { name: 'answers', points: run.timeline.map((s) => ({ x: s.t, y: s.answers })) },
        { name: 'errors (incl. no answer)', points: run.timeline.map((s) => ({ x: s.t, y: s.errors })) },
      ],
    }),
    'latency.svg': lineChart({
      title: 'p95 latency of successful answers, per second',
      xLabel: x,
      yLabel: 'ms',
      series: [{ name: 'p95', points: run.timeline.map((s) => ({ x: s.t, y: s.p95_ms })) }],
      lines: [{ y: 2000, label: 'search p95 limit (2 s)' }],
    }),
  });
}
