// The Post Explorer API over Parquet written by the writer's code from seeded
// replay data. Every answer is compared with one computed independently from the
// raw events (test/helpers/api-fixture.ts).

import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHARED_REDIS_URL, removeDir, tempDir, waitUntil } from './helpers/pipeline.ts';
import {
  SPECIAL_DID,
  SPECIAL_HANDLE,
  WINDOW_END,
  WINDOW_START,
  buildStore,
  newestFirst,
  startTestApi,
  type ApiFixture,
  type PostFact,
  type TestApi,
} from './helpers/api-fixture.ts';

const window = { start: new Date(WINDOW_START).toISOString(), end: new Date(WINDOW_END).toISOString() };

interface Post {
  uri: string;
  author_did: string;
  username: string | null;
  text: string | null;
  timestamp: string;
  langs: string[];
  hashtags: string[];
  has_media: boolean;
  is_reply: boolean;
}
interface SearchBody {
  results: Post[];
  meta: { count: number; next_cursor: string | null; partitions_scanned: number };
}

describe('Post Explorer API', { timeout: 120_000 }, () => {
  let dir: string;
  let fixture: ApiFixture;
  let api: TestApi;

  beforeAll(async () => {
    dir = await tempDir('api');
    fixture = await buildStore(dir);
    api = await startTestApi(dir);
  });
  afterAll(async () => {
    await api?.close();
    await fixture?.close();
    await removeDir(dir);
  });

  async function get(url: string) {
    return api.app.inject({ method: 'GET', url });
  }

  function query(params: Record<string, string | number | boolean | undefined>): string {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries({ ...window, ...params })) if (v !== undefined) q.set(k, String(v));
    return q.toString();
  }

  /** Every page of a search, following next_cursor. */
  async function searchAll(params: Record<string, string | number | boolean | undefined>, limit = 200): Promise<Post[]> {
    const all: Post[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 500; page++) {
      const response = await get(`/v1/search?${query({ ...params, limit, cursor })}`);
      expect(response.statusCode, response.body).toBe(200);
      const body = response.json<SearchBody>();
      expect(body.meta.count).toBe(body.results.length);
      all.push(...body.results);
      if (!body.meta.next_cursor) return all;
      expect(body.results.length).toBe(limit);
      cursor = body.meta.next_cursor;
    }
    throw new Error('too many pages');
  }

  function expectSame(actual: Post[], expected: PostFact[]) {
    expect(actual.map((p) => p.uri)).toEqual(newestFirst(expected).map((p) => p.uri));
  }

  const lower = (s: string | null) => (s ?? '').toLowerCase();

  describe('filters, each alone and combined, across every page', () => {
    it('no filter: every post of the window exactly once, newest first, deleted ones hidden', async () => {
      const results = await searchAll({}, 1000);
      expect(new Set(results.map((r) => r.uri)).size).toBe(results.length);
      expectSame(results, fixture.posts);
      for (const uri of fixture.deletedPostUris) expect(results.some((r) => r.uri === uri)).toBe(false);
    });

    it.each([
      ['text (common word)', { text: 'the' }, (p: PostFact) => lower(p.text).includes('the')],
      ['text (mixed case)', { text: 'LightHouse' }, (p: PostFact) => lower(p.text).includes('lighthouse')],
      ['lang', { lang: 'ja' }, (p: PostFact) => p.langs.some((l) => l.toLowerCase() === 'ja' || l.toLowerCase().startsWith('ja-'))],
      ['lang with region', { lang: 'en' }, (p: PostFact) => p.langs.some((l) => l.toLowerCase() === 'en' || l.toLowerCase().startsWith('en-'))],
      ['hashtag', { hashtag: '#OpenSource' }, (p: PostFact) => p.hashtags.includes('opensource')],
      ['hashtag (non-Latin)', { hashtag: 'Fußball' }, (p: PostFact) => p.hashtags.includes('fußball')],
      ['has_media=true', { has_media: true }, (p: PostFact) => p.hasMedia],
      ['has_media=false', { has_media: false }, (p: PostFact) => !p.hasMedia],
      ['is_reply=true', { is_reply: true }, (p: PostFact) => p.isReply],
      ['is_reply=false', { is_reply: false }, (p: PostFact) => !p.isReply],
      ['combined', { text: 'a', lang: 'en', has_media: false, is_reply: false }, (p: PostFact) =>
        lower(p.text).includes('a') && p.langs.some((l) => l.toLowerCase().startsWith('en')) && !p.hasMedia && !p.isReply],
    ] as const)('%s', async (_name, params, predicate) => {
      const expected = fixture.posts.filter(predicate);
      expect(expected.length).toBeGreaterThan(0);
      expectSame(await searchAll(params), expected);
    });

    it('a window narrower than the data, in the middle', async () => {
      const start = WINDOW_START + 5 * 3_600_000 + 123_000;
      const end = WINDOW_START + 9 * 3_600_000 + 456_000;
      const results = await searchAll({ start: new Date(start).toISOString(), end: new Date(end).toISOString() });
      expectSame(results, fixture.posts.filter((p) => p.timeUs >= start * 1000 && p.timeUs < end * 1000));
    });

    it('username: a handle resolves to its current DID; a DID works as is; an old or unknown handle finds nothing', async () => {
      const mine = fixture.posts.filter((p) => p.did === SPECIAL_DID);
      expectSame(await searchAll({ username: SPECIAL_HANDLE }), mine);
      expectSame(await searchAll({ username: `@${SPECIAL_HANDLE.toUpperCase()}` }), mine);
      expectSame(await searchAll({ username: SPECIAL_DID }), mine);
      expect(await searchAll({ username: 'old-name.example.com' })).toEqual([]);
      expect(await searchAll({ username: 'nobody.example.com' })).toEqual([]);
      // Results carry the handle when it is known.
      const [first] = await searchAll({ username: SPECIAL_DID }, 1);
      expect(first?.username).toBe(SPECIAL_HANDLE);
      // A generated author with a handle.
      const [did, handle] = [...fixture.handles].find(([d]) => d !== SPECIAL_DID && fixture.posts.some((p) => p.did === d)) ?? [];
      if (did && handle) expectSame(await searchAll({ username: handle }), fixture.posts.filter((p) => p.did === did));
    });
  });

  describe('text matching', () => {
    const special = () => fixture.posts.filter((p) => p.did === SPECIAL_DID);
    const texts = async (params: Record<string, string | boolean>) => (await searchAll({ ...params, username: SPECIAL_DID })).map((r) => r.text).sort();

    it.each([
      ['%', ['Progress: 100% done']],
      ['_', ['snake_case_name here']],
      ['"hello"', ['She said "hello" loudly']],
      ["it's", ["it's a quote with an apostrophe"]],
      ['🦋', ['I love 🦋 butterflies']],
      ['天気', ['東京の天気は晴れ']],
      ['école', ['ÉCOLE primaire', 'une école']],
      ['\\Q', ['back\\slash and \\Q regex \\E markers']],
      // Through the term index of the compacted hour (test/term-index.test.ts compares with scans).
      ['coffee', ['Coffee at the start, and at the end: coffee', 'pre-coffee(coffee)coffee-post', 'decafcoffee and coffeehouse', '東京2026年のcoffeeタイム、ラーメン食べたい']],
      ['start, and at', ['Coffee at the start, and at the end: coffee']],
      ['(coffee)', ['pre-coffee(coffee)coffee-post']],
      ['ee-po', ['pre-coffee(coffee)coffee-post']],
      ['house', ['decafcoffee and coffeehouse']],
      ['❤️', ['I ❤️ Tokyo🗼and 🌊waves🌊']],
      ['🗼AND', ['I ❤️ Tokyo🗼and 🌊waves🌊']],
      ['ラーメン', ['東京2026年のcoffeeタイム、ラーメン食べたい']],
      ['2026年のCOFFEE', ['東京2026年のcoffeeタイム、ラーメン食べたい']],
      ['ภาษาไทย', ['สวัสดีครับ ภาษาไทย']],
      ['σίσυφοσ', ['ΣΊΣΥΦΟΣ and σίσυφος']], // final sigma and Σ fold to σ
      ['sTRAßE', ['ſtraße STRASSE']], // long s folds to s; ß is not ss
      ['kelvin 5k', ['İstanbul and ıstanbul, Kelvin 5\u212A']], // the Kelvin sign folds to k
      ['İSTANBUL', ['İstanbul and ıstanbul, Kelvin 5\u212A']],
      ['ｆｕｌｌｗｉｄｔｈ', ['ＦＵＬＬＷＩＤＴＨ ｌｅｔｔｅｒｓ']],
      ['a\u0399 ypo', ['a\u0345 ypogegrammeni, e\u0301cole decomposed']], // U+0345, a combining mark, folds to ι
      ['e\u0301cole', ['a\u0345 ypogegrammeni, e\u0301cole decomposed']],
      ['word   spacing\tand', ['multi  word   spacing\tand\nnewlines']],
      ['caseword', ['CamelCaseWord and UPPER lower MiXeD']],
      ['3.14,', ['v1.2.3 costs 3.14, call 123-456']],
      ['23-4', ['v1.2.3 costs 3.14, call 123-456']],
    ])('substring %s matches literally and case-insensitively', async (text, expected) => {
      expect(await texts({ text })).toEqual([...expected].sort());
    });

    it('exact: case-sensitive, whole phrase only', async () => {
      expect(await texts({ text: 'ÉCOLE', exact: true })).toEqual(['ÉCOLE primaire']);
      expect(await texts({ text: 'école', exact: true })).toEqual(['une école']);
      expect(await texts({ text: 'love', exact: true })).toEqual(['I love 🦋 butterflies']); // not "lovely"
      expect(await texts({ text: '100%', exact: true })).toEqual(['Progress: 100% done']);
      expect(await texts({ text: 'snake', exact: true })).toEqual([]); // only inside snake_case_name
      expect(await texts({ text: '\\E markers', exact: true })).toEqual(['back\\slash and \\Q regex \\E markers']);
      expect(await texts({ text: 'coffee', exact: true })).toEqual(['Coffee at the start, and at the end: coffee', 'pre-coffee(coffee)coffee-post']);
      expect(await texts({ text: 'Coffee at', exact: true })).toEqual(['Coffee at the start, and at the end: coffee']);
    });

    it('deleted posts never appear, even when they match', async () => {
      expect(await texts({ text: 'secret words' })).toEqual([]);
      expect(special().some((p) => p.text?.includes('secret'))).toBe(false);
    });
  });

  describe('pagination', () => {
    it('pages of 7 return every matching post once, in order, ending with a null cursor', async () => {
      const expected = fixture.posts.filter((p) => p.hasMedia);
      expectSame(await searchAll({ has_media: true }, 7), expected);
    });

    it('a cursor keeps the first page\'s window, and refuses other filters', async () => {
      const first = (await get(`/v1/search?${query({ text: 'the', limit: 5 })}`)).json<SearchBody>();
      const cursor = first.meta.next_cursor!;
      expect((await get(`/v1/search?${query({ text: 'the', limit: 5, cursor })}`)).statusCode).toBe(200);
      const other = await get(`/v1/search?${query({ text: 'other', limit: 5, cursor })}`);
      expect(other.statusCode).toBe(400);
      expect(other.json()).toMatchObject({ error: 'bad_request' });
    });
  });

  describe('one post', () => {
    it('returns a stored post and 404s a missing or deleted one', async () => {
      const post = fixture.posts.find((p) => p.did === SPECIAL_DID)!;
      const found = await get(`/v1/posts/${post.did}/${post.rkey}`);
      expect(found.statusCode).toBe(200);
      expect(found.json<Post>()).toMatchObject({ uri: post.uri, text: post.text, username: SPECIAL_HANDLE });
      const deleted = [...fixture.deletedPostUris].find((u) => u.includes(SPECIAL_DID))!;
      const [, , did, , rkey] = deleted.split('/');
      expect((await get(`/v1/posts/${did}/${rkey}`)).statusCode).toBe(404);
      expect((await get(`/v1/posts/${did}/3mptbyplj5d2a`)).json()).toMatchObject({ error: 'not_found' });
    });
  });

  describe('export', () => {
    function parseCsv(text: string): string[][] {
      const rows: string[][] = [];
      let row: string[] = [];
      let field = '';
      let quoted = false;
      for (let i = 0; i < text.length; i++) {
        const c = text[i]!;
        if (quoted) {
          if (c === '"' && text[i + 1] === '"') {
            field += '"';
            i++;
          } else if (c === '"') {
            quoted = false;
          } else {
            field += c;
          }
        } else if (c === '"') {
          quoted = true;
        } else if (c === ',') {
          row.push(field);
          field = '';
        } else if (c === '\r' && text[i + 1] === '\n') {
          row.push(field);
          rows.push(row);
          row = [];
          field = '';
          i++;
        } else {
          field += c;
        }
      }
      return rows;
    }

    it('CSV and NDJSON hold exactly what search returns, with a download name', async () => {
      const params = { text: 'a', lang: 'en' };
      const searched = await searchAll(params, 1000);
      const csv = await get(`/v1/export?${query(params)}`);
      expect(csv.statusCode).toBe(200);
      expect(csv.headers['content-type']).toContain('text/csv');
      expect(csv.headers['content-disposition']).toMatch(/^attachment; filename="posts-.*\.csv"$/);
      const [header, ...rows] = parseCsv(csv.body);
      expect(header).toContain('uri');
      const uriColumn = header!.indexOf('uri');
      const textColumn = header!.indexOf('text');
      expect(rows.map((r) => r[uriColumn])).toEqual(searched.map((p) => p.uri));
      // Texts a spreadsheet would run as a formula (posts starting with an @mention, among others)
      // come with a leading single quote (test/export-formats.test.ts); csv_raw=true gives them exactly.
      const inert = (text: string) => (/^(?:[\t\r]|[\s\p{Cc}\p{Cf}]*[=+\-@＝＋－＠﹦﹢﹣﹫−])/u.test(text) ? `'${text}` : text);
      expect(rows.map((r) => r[textColumn])).toEqual(searched.map((p) => inert(p.text ?? '')));
      expect(rows.some((r) => r[textColumn]!.startsWith("'@"))).toBe(true);
      const [, ...rawRows] = parseCsv((await get(`/v1/export?${query({ ...params, csv_raw: true })}`)).body);
      expect(rawRows.map((r) => r[textColumn])).toEqual(searched.map((p) => p.text ?? ''));

      const ndjson = await get(`/v1/export?${query({ ...params, format: 'ndjson' })}`);
      expect(ndjson.headers['content-type']).toContain('application/x-ndjson');
      const lines = ndjson.body.trim().split('\n').map((l) => JSON.parse(l) as Post);
      expect(lines.map((l) => l.uri)).toEqual(searched.map((p) => p.uri));
      expect(lines.map((l) => l.text)).toEqual(searched.map((p) => p.text));
      expect(lines.map((l) => l.hashtags)).toEqual(searched.map((p) => p.hashtags));
    });

    it('stops at the row cap it announces', async () => {
      const response = await get(`/v1/export?${query({ limit: 25, format: 'ndjson' })}`);
      expect(response.headers['x-export-row-cap']).toBe('25');
      expect(response.body.trim().split('\n')).toHaveLength(25);
    });
  });

  describe('stats', () => {
    it('timeseries counts equal the rows written, per table and hour', async () => {
      const response = await get(`/v1/stats/timeseries?${query({ interval: 'day' })}`);
      expect(response.statusCode).toBe(200);
      const body = response.json<{ series: { bucket: string; counts: Record<string, number> }[]; totals: Record<string, number> }>();
      expect(body.series).toHaveLength(1);
      // Posts: creates in the window, deleted ones included (a count of what was written).
      const creates = fixture.posts.length + [...fixture.deletedPostUris].filter((u) => u.includes(SPECIAL_DID)).length;
      expect(body.totals.posts).toBeGreaterThanOrEqual(creates);
      const hourly = (await get(`/v1/stats/timeseries?${query({})}`)).json<{ series: unknown[]; totals: Record<string, number> }>();
      expect(hourly.series.length).toBe(23);
      expect(hourly.totals).toEqual(body.totals);
    });

    it('top hashtags match a count over the raw events', async () => {
      const body = (await get(`/v1/stats/hashtags?${query({ limit: 5 })}`)).json<{ hashtags: { hashtag: string; count: number }[] }>();
      const counts = new Map<string, number>();
      // Stats count what was written: deleted posts' hashtags included.
      for (const post of fixture.allPosts) for (const tag of post.hashtags) counts.set(tag, (counts.get(tag) ?? 0) + 1);
      const top = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 5);
      expect(body.hashtags.map((h) => [h.hashtag, h.count])).toEqual(top);
    });
  });

  describe('bad requests get a 400 with a JSON error, never a 5xx', () => {
    it.each([
      '/v1/search?bogus=1',
      '/v1/search?limit=0',
      '/v1/search?limit=1001',
      '/v1/search?limit=ten',
      '/v1/search?start=yesterday',
      '/v1/search?start=2026-11-21T00:00:00Z&end=2026-11-20T00:00:00Z',
      '/v1/search?start=2026-01-01T00:00:00Z&end=2026-11-20T00:00:00Z',
      '/v1/search?lang=english!',
      '/v1/search?username=not%20a%20handle',
      '/v1/search?username=did:nope',
      '/v1/search?hashtag=two%20words',
      `/v1/search?text=${'x'.repeat(501)}`,
      '/v1/search?text=',
      '/v1/search?exact=maybe',
      '/v1/search?has_media=sometimes',
      '/v1/search?cursor=%%%',
      '/v1/search?cursor=bm90LWpzb24',
      '/v1/export?format=xml',
      '/v1/export?limit=-5',
      '/v1/stats/timeseries?interval=week',
      '/v1/stats/hashtags?limit=0',
      '/v1/posts/not-a-did/3mptbyplj5d2a',
      `/v1/posts/did:plc:abc/${'k'.repeat(600)}`,
    ])('%s', async (url) => {
      const response = await get(url);
      expect(response.statusCode).toBe(400);
      const body = response.json<{ error: string; message: string }>();
      expect(body.error).toBe('bad_request');
      expect(body.message).not.toMatch(/SELECT|read_parquet|at .*\.ts:\d+/);
    });

    it('unknown routes are a JSON 404', async () => {
      expect((await get('/v2/nothing')).json()).toMatchObject({ error: 'not_found' });
    });
  });

  describe('health and documentation', () => {
    it('answers healthz and readyz', async () => {
      expect((await get('/healthz')).json()).toEqual({ status: 'ok' });
      const ready = await get('/readyz');
      expect(ready.statusCode).toBe(200);
      expect(ready.json()).toMatchObject({ status: 'ready', checks: { data_dir: 'ok', duckdb: 'ok' } });
    });

    it('serves an OpenAPI 3 document of every route, and interactive docs', async () => {
      const doc = (await get('/openapi.json')).json<{ openapi: string; paths: Record<string, unknown> }>();
      expect(doc.openapi).toMatch(/^3\./);
      for (const path of ['/v1/search', '/v1/export', '/v1/posts/{did}/{rkey}', '/v1/stats/timeseries', '/v1/stats/hashtags', '/healthz', '/readyz']) {
        expect(Object.keys(doc.paths)).toContain(path);
      }
      const docs = await get('/docs/');
      expect(docs.statusCode).toBe(200);
      expect(docs.headers['content-type']).toContain('text/html');
    });
  });
});

describe('API limits', { timeout: 120_000 }, () => {
  let dir: string;
  let fixture: ApiFixture;
  beforeAll(async () => {
    dir = await tempDir('api-limits');
    fixture = await buildStore(dir);
  });
  afterAll(async () => {
    await fixture?.close();
    await removeDir(dir);
  });
  const q = `start=${encodeURIComponent(window.start)}&end=${encodeURIComponent(window.end)}`;

  it('a query over its time budget is cancelled with a 503 that says so', async () => {
    // 1 ms: no query that opens Parquet files answers that fast, so the budget always runs out.
    const api = await startTestApi(dir, { QUERY_TIMEOUT_MS: '1' });
    try {
      const response = await api.app.inject({ method: 'GET', url: `/v1/search?${q}&text=${encodeURIComponent('zzz qqq')}&exact=true&limit=1000` });
      expect(response.statusCode).toBe(503);
      expect(response.json()).toMatchObject({ error: 'timeout' });
      expect(response.headers['retry-after']).toBeDefined();
      expect(api.engine.stats.rejected.timeout).toBe(1);
      // The connection was released: the next query runs (and is cancelled the same way).
      expect(api.engine.stats.running).toBe(0);
      expect((await api.app.inject({ method: 'GET', url: `/v1/search?${q}&text=again` })).json()).toMatchObject({ error: 'timeout' });
    } finally {
      await api.close();
    }
  });

  it('past the concurrency limit, queries wait briefly and then get a 503 with Retry-After', async () => {
    const api = await startTestApi(dir, { MAX_CONCURRENT_QUERIES: '1', QUEUE_TIMEOUT_MS: '0' });
    try {
      const [a, b] = await Promise.all([
        api.app.inject({ method: 'GET', url: `/v1/search?${q}&text=the` }),
        api.app.inject({ method: 'GET', url: `/v1/search?${q}&text=a` }),
      ]);
      expect([a.statusCode, b.statusCode].sort()).toEqual([200, 503]);
      const rejected = a.statusCode === 503 ? a : b;
      expect(rejected.json()).toMatchObject({ error: 'overloaded' });
      expect(rejected.headers['retry-after']).toBe('1');
    } finally {
      await api.close();
    }
  });

  it('a client that disconnects mid-export cancels it and frees its slot', async () => {
    const api = await startTestApi(dir, { MAX_CONCURRENT_QUERIES: '2' });
    try {
      await api.app.listen({ port: 0, host: '127.0.0.1' });
      const port = (api.app.server.address() as AddressInfo).port;
      await new Promise<void>((resolve, reject) => {
        const request = httpRequest({ host: '127.0.0.1', port, path: `/v1/export?${q}&format=ndjson`, headers: { authorization: api.authorization } }, (response) => {
          expect(response.statusCode).toBe(200);
          response.once('data', () => {
            request.destroy(); // the client goes away after the first bytes
            resolve();
          });
        });
        request.on('error', () => undefined);
        request.once('error', reject);
        request.end();
      });
      await waitUntil(async () => api.engine.stats.running === 0, 'the export query to stop', 20_000, 50);
      // Its slot is free again (MAX_CONCURRENT_QUERIES / 2 = 1 export at a time), and this one runs.
      const again = await api.app.inject({ method: 'GET', url: `/v1/export?${q}&limit=10` });
      expect(again.statusCode).toBe(200);
    } finally {
      await api.close();
    }
  });

  it('exports past their share of the pool wait in line and then run; past the queue timeout they get a 503', async () => {
    // MAX_CONCURRENT_QUERIES 2: one export at a time. Three at once: all answered in turn.
    const patient = await startTestApi(dir, { MAX_CONCURRENT_QUERIES: '2', QUEUE_TIMEOUT_MS: '60000' });
    try {
      const answers = await Promise.all([1, 2, 3].map(() => patient.app.inject({ method: 'GET', url: `/v1/export?${q}&limit=2000&format=ndjson` })));
      expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 200]);
      expect(new Set(answers.map((a) => a.body)).size).toBe(1);
      expect(patient.engine.stats.rejected.overload).toBe(0);
    } finally {
      await patient.close();
    }
    // No waiting allowed: the second of two simultaneous exports is turned away, and counted.
    const impatient = await startTestApi(dir, { MAX_CONCURRENT_QUERIES: '2', QUEUE_TIMEOUT_MS: '0' });
    try {
      const answers = await Promise.all([1, 2].map(() => impatient.app.inject({ method: 'GET', url: `/v1/export?${q}&limit=2000` })));
      expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 503]);
      expect(answers.find((a) => a.statusCode === 503)!.json()).toMatchObject({ error: 'overloaded' });
      expect(impatient.engine.stats.rejected.overload).toBe(1);
    } finally {
      await impatient.close();
    }
  });

  it('identical searches are answered from the Redis cache', async () => {
    const api = await startTestApi(dir, { CACHE_TTL_SECONDS: '30' }, SHARED_REDIS_URL);
    try {
      const url = `/v1/search?${q}&text=cache-${process.pid}-${Date.now()}`;
      const first = await api.app.inject({ method: 'GET', url });
      const second = await api.app.inject({ method: 'GET', url });
      expect(first.headers['x-cache']).toBe('miss');
      expect(second.headers['x-cache']).toBe('hit');
      expect(second.json()).toEqual(first.json());
    } finally {
      await api.close();
    }
  });
});
