// `npm run loadtest:api --local`, short: a small store written through the
// writer's code, the API as its own process with a key from `npm run keys`, and
// a few seconds of the k6 mix through autocannon. Asserts the error rate and the
// content checks, and that the report is written; never timings. Plus the mix
// itself: its draws, its checks, and its contract with the API's export columns.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ServiceProcess } from '../base/service-process.ts';
import { EXPORT_COLUMNS } from '../services/api/routes/export.ts';
import { EXPORT_CSV_HEADER, KIND_NAMES, MixSession, QUERY_KINDS, checkAnswer, mixData, seededRandom, type MixData, type QueryKind } from '../loadtest/lib/api-mix.ts';
import { lastJson, removeDir, tempDir } from './helpers/pipeline.ts';

describe('loadtest:api --local (short run)', { timeout: 300_000 }, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('answers the mix with under 1% errors, every answer passing its content checks, and writes a report', async () => {
    const work = await tempDir('loadtest-api');
    cleanups.push(() => removeDir(work));
    const reportDir = join(work, 'report');
    const cli = new ServiceProcess({
      name: 'loadtest-api',
      script: 'loadtest/api.ts',
      args: ['--local', '--posts', '20000', '--store-dir', join(work, 'store'), '--connections', '12', '--duration', '15', '--think-time', '1-2', '--report-dir', reportDir],
      env: {},
    });
    cleanups.push(() => cli.stop('SIGKILL'));
    await cli.exited;
    const figures = lastJson(cli.lines);
    expect(figures.requests as number, cli.lines.slice(-30).join('\n')).toBeGreaterThan(50);
    expect(figures.error_rate as number, JSON.stringify(figures.status_codes)).toBeLessThan(0.01);
    expect(figures.check_pass_rate as number).toBeGreaterThanOrEqual(0.99);
    // Every kind of question was asked.
    const perKind = figures.per_kind as Record<QueryKind, { requests: number }>;
    for (const kind of KIND_NAMES) expect(perKind[kind].requests, kind).toBeGreaterThan(0);
    // The local API kept authentication on, with a key from npm run keys.
    expect(cli.lines.some((l) => l.includes('created an API key for the load test with npm run keys'))).toBe(true);

    const results = JSON.parse(await readFile(join(reportDir, 'results.json'), 'utf8')) as { per_kind: Record<string, unknown>; timeline: unknown[] };
    expect(Object.keys(results.per_kind).sort()).toEqual([...KIND_NAMES].sort());
    expect(results.timeline.length).toBeGreaterThan(5);
    const summary = await readFile(join(reportDir, 'summary.md'), 'utf8');
    expect(summary).toContain('## Per query type');
    for (const chart of ['throughput.svg', 'latency.svg']) expect(await readFile(join(reportDir, chart), 'utf8')).toMatch(/^<svg /);
  });
});

describe('the API load mix', () => {
  const window = { start: '2026-11-20T00:00:00.000Z', end: '2026-11-21T00:00:00.000Z' };
  const post = (overrides: Record<string, unknown> = {}) => ({
    uri: 'at://did:plc:abc/app.bsky.feed.post/3kabc',
    author_did: 'did:plc:abc',
    username: 'alice.bsky.social',
    text: 'Morning coffee at the harbor',
    indexed_at: '2026-11-20T23:30:00.000Z', // inside every window the mix picks (they end with the day)
    langs: ['en-US'],
    hashtags: ['coffee'],
    has_media: true,
    is_reply: false,
    ...overrides,
  });
  const data: MixData = mixData(window, [
    { name: 'hashtags', body: JSON.stringify({ hashtags: [{ hashtag: 'coffee', count: 3 }], meta: {} }) },
    { name: 'authors', body: JSON.stringify({ results: [post()], meta: { count: 1, next_cursor: null } }) },
  ]);

  it('draws every kind about as often as its weight, and follows its own cursors', () => {
    const session = new MixSession(data, seededRandom(3));
    const counts: Record<string, number> = {};
    for (let i = 0; i < 5000; i++) {
      const request = session.next();
      counts[request.kind] = (counts[request.kind] ?? 0) + 1;
      expect(request.path.startsWith('/v1/')).toBe(true);
      // Answer searches with a page that has a next cursor, so pages can follow.
      if (request.endpoint === 'search') {
        session.observe(request, 200, JSON.stringify({ results: [post()], meta: { count: 1, next_cursor: 'abc' } }));
      }
    }
    for (const kind of KIND_NAMES) {
      const share = (counts[kind] ?? 0) / 5000;
      expect(share, kind).toBeGreaterThan((QUERY_KINDS[kind].weight / 100) * 0.7);
      expect(share, kind).toBeLessThan((QUERY_KINDS[kind].weight / 100) * 1.3);
    }
    const page = session.request('page');
    expect(page.kind).toBe('page');
    expect(page.path).toContain('&cursor=abc');
  });

  it('checks content, not only the status', () => {
    const session = new MixSession(data, seededRandom(5));
    const search = session.request('search_hashtag');
    const failed = (checks: { name: string; ok: boolean }[]) => checks.filter((c) => !c.ok).map((c) => c.name);
    const good = JSON.stringify({ results: [post({ hashtags: [search.expect.hashtag], langs: [search.expect.lang ?? 'en'] })], meta: { count: 1 } });
    expect(failed(checkAnswer(search, 200, good))).toEqual([]);
    // A result without the hashtag asked for; a wrong count; answers out of order; a 503.
    expect(failed(checkAnswer(search, 200, JSON.stringify({ results: [post({ hashtags: ['other'] })], meta: { count: 1 } })))).toContain('search: results match the filters');
    expect(failed(checkAnswer(search, 200, JSON.stringify({ results: [], meta: { count: 3 } })))).toContain('search: results and meta');
    const older = post({ hashtags: [search.expect.hashtag], langs: [search.expect.lang ?? 'en'], indexed_at: '2026-11-20T23:20:00.000Z' });
    const newer = post({ hashtags: [search.expect.hashtag], langs: [search.expect.lang ?? 'en'], indexed_at: '2026-11-20T23:40:00.000Z' });
    expect(failed(checkAnswer(search, 200, JSON.stringify({ results: [older, newer], meta: { count: 2 } })))).toContain('search: newest first');
    expect(failed(checkAnswer(search, 503, '{"error":"overloaded"}'))).toEqual(['search: status 200']);
  });

  it("expects the API's own export columns", () => {
    expect(EXPORT_CSV_HEADER).toBe(EXPORT_COLUMNS.join(','));
  });
});
