// handleSummary for every scenario: the whole end-of-test summary as JSON and a
// Markdown report (thresholds, then per query type: requests, errors, p50, p95,
// p99), written to REPORT_DIR (default loadtest/reports, relative to where k6
// runs: the repository root) as k6-<scenario>-<timestamp>.json and .md, and the
// Markdown on stdout. No k6 imports, so the tests can run it under Node.

import { KIND_NAMES, QUERY_KINDS } from './mix.js';

/**
 * @typedef {{ type?: string, values: Record<string, number>, thresholds?: Record<string, { ok: boolean }> }} SummaryMetric
 * @typedef {{ name: string, passes: number, fails: number }} SummaryCheck
 * @typedef {{ checks?: SummaryCheck[], groups?: SummaryGroup[] }} SummaryGroup
 * @typedef {{ metrics: Record<string, SummaryMetric>, root_group?: SummaryGroup, state?: { testRunDurationMs?: number } }} SummaryData
 */

/** @param {number | undefined} v */
function ms(v) {
  return v === undefined ? '–' : String(Math.round(v));
}

/** @param {number | undefined} v */
function percent(v) {
  return v === undefined ? '–' : `${(v * 100).toFixed(2)}%`;
}

/**
 * @param {SummaryGroup | undefined} group
 * @returns {SummaryCheck[]}
 */
function allChecks(group) {
  if (!group) return [];
  /** @type {SummaryCheck[]} */
  let list = (group.checks || []).slice();
  for (const child of group.groups || []) list = list.concat(allChecks(child));
  return list;
}

/**
 * @param {string} scenario
 * @param {SummaryData} data
 * @param {{ baseUrl?: string, now?: Date }} [context]
 * @returns {string}
 */
export function markdownReport(scenario, data, context) {
  const metrics = data.metrics;
  const lines = [`# k6 ${scenario}`, ''];
  if (context && context.baseUrl) lines.push(`Target: ${context.baseUrl}`, '');
  const failed = [];
  lines.push('| threshold | result |', '|---|---|');
  for (const name of Object.keys(metrics)) {
    const metric = metrics[name];
    const thresholds = (metric && metric.thresholds) || {};
    for (const expression of Object.keys(thresholds)) {
      if (expression === 'max>=0' || expression === 'rate>=0') continue;
      const result = thresholds[expression];
      const ok = !!result && result.ok;
      if (!ok) failed.push(`${name} ${expression}`);
      lines.push(`| \`${name}\` ${expression} | ${ok ? 'pass' : 'FAIL'} |`);
    }
  }
  lines.push('', failed.length === 0 ? '**All thresholds passed.**' : `**FAILED:** ${failed.join('; ')}`, '');
  /** @param {string} name @param {string} value */
  const value = (name, value) => {
    const metric = metrics[name];
    return metric ? metric.values[value] : undefined;
  };
  const rate = value('http_reqs', 'rate');
  lines.push(
    `Requests: ${value('http_reqs', 'count') || 0} (${rate === undefined ? 0 : rate.toFixed(1)}/s); failed: ${percent(value('http_req_failed', 'rate'))}; ` +
      `dropped iterations: ${value('dropped_iterations', 'count') || 0}.`,
    '',
    '## Per query type',
    '',
    'Latency of successful answers (ms); errors: status not 2xx/3xx or no answer.',
    '',
    '| query type | endpoint | requests | errors | p50 | p95 | p99 | max |',
    '|---|---|---|---|---|---|---|---|',
  );
  for (const kind of KIND_NAMES) {
    const duration = metrics[`http_req_duration{kind:${kind},expected_response:true}`];
    const errors = metrics[`http_req_failed{kind:${kind}}`];
    const d = duration ? duration.values : {};
    const e = errors ? errors.values : {};
    const total = (e.passes || 0) + (e.fails || 0);
    lines.push(`| ${kind} | ${QUERY_KINDS[kind].endpoint} | ${total} | ${e.passes || 0} (${percent(total > 0 ? (e.passes || 0) / total : undefined)}) | ${ms(d.med)} | ${ms(d['p(95)'])} | ${ms(d['p(99)'])} | ${ms(d.max)} |`);
  }
  const checks = allChecks(data.root_group);
  if (checks.length > 0) {
    lines.push('', '## Content checks', '', '| check | passed | failed |', '|---|---|---|');
    for (const c of checks) lines.push(`| ${c.name} | ${c.passes} | ${c.fails} |`);
  }
  lines.push('');
  return lines.join('\n');
}

/**
 * The files handleSummary returns: JSON and Markdown under REPORT_DIR, Markdown on stdout.
 * @param {string} scenario
 * @param {SummaryData} data
 * @param {{ reportDir?: string, baseUrl?: string, now?: Date }} [context]
 * @returns {Record<string, string>}
 */
export function summaryFiles(scenario, data, context) {
  const c = context || {};
  const dir = (c.reportDir || 'loadtest/reports').replace(/\/+$/, '');
  const stamp = (c.now || new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '-');
  const markdown = markdownReport(scenario, data, c);
  /** @type {Record<string, string>} */
  const files = { stdout: markdown };
  files[`${dir}/k6-${scenario}-${stamp}.json`] = JSON.stringify(data, null, 2);
  files[`${dir}/k6-${scenario}-${stamp}.md`] = markdown;
  return files;
}
