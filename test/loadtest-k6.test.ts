// The k6 scripts cannot run here (no k6 on these machines), so they are kept
// honest three ways: they type-check against @types/k6 (loadtest/k6/tsconfig.json,
// checkJs); the mix they import is the compiled copy of the one
// `npm run loadtest:api` runs, and is not stale; and their handleSummary, which
// needs nothing from k6, turns a k6 summary into the JSON and Markdown report.

import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../base/paths.ts';
import { MIX_OUTPUTS, buildK6Mix } from '../loadtest/k6/build.ts';
import * as mixTs from '../loadtest/lib/api-mix.ts';

/** loadtest/k6/lib/summary.js is plain JavaScript (checked by the k6 tsconfig, not this one). */
type SummaryFiles = (scenario: string, data: object, context?: { reportDir?: string; baseUrl?: string; now?: Date }) => Record<string, string>;
const { summaryFiles } = (await import(new URL('../loadtest/k6/lib/summary.js', import.meta.url).href)) as { summaryFiles: SummaryFiles };

const run = promisify(execFile);
const SCRIPTS = ['smoke', 'api-load', 'spike', 'soak'] as const;

describe('k6 scripts', { timeout: 120_000 }, () => {
  it('type-check against @types/k6 (tsc -p loadtest/k6)', async () => {
    const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await run(process.execPath, [tsc, '-p', join(REPO_ROOT, 'loadtest', 'k6')], { cwd: REPO_ROOT }).catch((error: { stdout?: string; stderr?: string }) => error);
    expect('stdout' in result ? `${result.stdout}${result.stderr}` : '').toBe('');
  });

  it('import a compiled mix that is up to date with loadtest/lib/api-mix.ts (npm run loadtest:k6-build)', async () => {
    const built = buildK6Mix();
    expect(await readFile(MIX_OUTPUTS.js, 'utf8')).toBe(built.js);
    expect(await readFile(MIX_OUTPUTS.dts, 'utf8')).toBe(built.dts);
  });

  it('ask the same questions from the compiled mix as the Node load generator does', async () => {
    const mixJs = await import('../loadtest/k6/lib/mix.js');
    const window = { start: '2026-11-20T00:00:00.000Z', end: '2026-11-21T00:00:00.000Z' };
    const data = mixTs.mixData(window, []);
    data.authors.push('did:plc:abc');
    data.posts.push('did:plc:abc/3kabc');
    const a = new mixTs.MixSession(data, mixTs.seededRandom(11));
    const b = new mixJs.MixSession(data, mixJs.seededRandom(11));
    for (let i = 0; i < 300; i++) expect(b.next()).toEqual(a.next());
    expect(mixJs.LIMITS).toEqual(mixTs.LIMITS);
  });

  it.each(SCRIPTS)('%s.js: scenario, thresholds, setup and a handleSummary', async (name) => {
    const source = await readFile(join(REPO_ROOT, 'loadtest', 'k6', `${name}.js`), 'utf8');
    expect(source).toMatch(/export const options = \{[\s\S]*scenarios:[\s\S]*executor: '/);
    expect(source).toContain('thresholds: ');
    expect(source).toContain('export function setup()');
    expect(source).toContain(`return summaryFiles('${name}', data,`);
    // k6 v0.48's runtime: no syntax newer than ES2017 in hand-written scripts.
    expect(source).not.toMatch(/\?\.|\?\?/);
  });

  it('handleSummary writes JSON and Markdown into loadtest/reports and shows thresholds and every query type', () => {
    const data = {
      metrics: {
        http_reqs: { type: 'counter', values: { count: 1200, rate: 20 } },
        http_req_failed: { type: 'rate', values: { rate: 0.002, passes: 2, fails: 1198 }, thresholds: { 'rate<0.01': { ok: true } } },
        'http_req_duration{endpoint:search,expected_response:true}': { type: 'trend', values: { 'p(95)': 2400 }, thresholds: { 'p(95)<2000': { ok: false } } },
        'http_req_duration{kind:author,expected_response:true}': { type: 'trend', values: { med: 120, 'p(95)': 480, 'p(99)': 700, max: 900 }, thresholds: { 'max>=0': { ok: true } } },
        'http_req_failed{kind:author}': { type: 'rate', values: { rate: 0.01, passes: 1, fails: 99 }, thresholds: { 'rate>=0': { ok: true } } },
      },
      root_group: { checks: [{ name: 'search: results match the filters', passes: 900, fails: 0 }], groups: [] },
    };
    const files = summaryFiles('api-load', data, { now: new Date('2026-11-29T06:00:00.000Z') });
    expect(Object.keys(files).sort()).toEqual(['loadtest/reports/k6-api-load-2026-11-29T06-00-00Z.json', 'loadtest/reports/k6-api-load-2026-11-29T06-00-00Z.md', 'stdout']);
    expect(JSON.parse(files['loadtest/reports/k6-api-load-2026-11-29T06-00-00Z.json']!)).toEqual(data);
    const md = files.stdout!;
    expect(md).toContain('**FAILED:** http_req_duration{endpoint:search,expected_response:true} p(95)<2000');
    expect(md).toContain('| author | search | 100 | 1 (1.00%) | 120 | 480 | 700 | 900 |');
    expect(md).not.toContain('max>=0');
    for (const kind of mixTs.KIND_NAMES) expect(md).toContain(`| ${kind} |`);
    expect(summaryFiles('smoke', data, { reportDir: '/tmp/out/' })['stdout']).toBe(md.replace('k6 api-load', 'k6 smoke'));
  });
});
