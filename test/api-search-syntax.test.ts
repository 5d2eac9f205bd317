// Bluesky's search syntax (q) against a real API over Parquet written by the
// writer's code (test/helpers/api-fixture.ts: seeded replay data plus the
// hand-written posts of SPECIAL_DID and SYNTAX_DID). Every operator is compared,
// across every page, with an answer computed here from the raw events in plain
// JavaScript; q combined with the other parameters, refused where they conflict;
// and the term index, which narrows the rows read for the words a post must
// contain, changes nothing: every query is also run on a copy of the store
// without its index files.

import { cp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TERM_INDEX_EXTENSION } from '../services/shared/layout.ts';
import { removeDir, tempDir } from './helpers/pipeline.ts';
import {
  SPECIAL_DID,
  SPECIAL_HANDLE,
  SYNTAX_DID,
  SYNTAX_HANDLE,
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

interface Page {
  results: { uri: string }[];
  meta: { next_cursor: string | null; start: string; end: string };
}

// ---- the oracle: what each operator means, read from the raw events -------------------

const lower = (s: string | null) => (s ?? '').toLowerCase();
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const hasWord = (p: PostFact, word: string) => lower(p.text).includes(word.toLowerCase());
/** Whole words in order, any whitespace between, case-insensitive. */
const hasPhrase = (p: PostFact, phrase: string) =>
  new RegExp(`(^|[^\\p{L}\\p{N}_])${phrase.trim().split(/\s+/).map(escape).join('\\s+')}($|[^\\p{L}\\p{N}_])`, 'iu').test(p.text ?? '');
/** The exact mode of the text parameter: case-sensitive, not inside a longer word. */
const hasExact = (p: PostFact, text: string) => new RegExp(`(^|[^\\p{L}\\p{N}_])${escape(text)}($|[^\\p{L}\\p{N}_])`, 'u').test(p.text ?? '');
const langIs = (p: PostFact, lang: string) => p.langs.some((l) => l.toLowerCase() === lang || l.toLowerCase().startsWith(`${lang}-`));
/** The host of a link as WHATWG URL parsing sees it, lowercased, without "www.". */
function host(link: string): string | undefined {
  try {
    return new URL(link).hostname.toLowerCase().replace(/^www\./, '');
  } catch {
    return undefined;
  }
}
const linksTo = (p: PostFact, domain: string) => p.links.some((l) => host(l) === domain);

/** A copy of a store without its term index files: every hour is scanned. */
async function copyWithoutIndex(from: string, to: string): Promise<void> {
  await cp(from, to, { recursive: true });
  for (const entry of await readdir(to, { recursive: true })) if (entry.endsWith(TERM_INDEX_EXTENSION)) await rm(join(to, entry));
}

describe('the search syntax (q) over writer-made Parquet', { timeout: 300_000 }, () => {
  let dir: string;
  let scanDir: string;
  let fixture: ApiFixture;
  let api: TestApi;
  let scanApi: TestApi;
  /** A generated account that generated posts mention and whose handle identity events give (and every DID holding that handle). */
  let mentioned: { did: string; handle: string; dids: string[] };

  beforeAll(async () => {
    dir = await tempDir('api-syntax');
    scanDir = await tempDir('api-syntax-scan');
    fixture = await buildStore(dir);
    await copyWithoutIndex(dir, scanDir);
    api = await startTestApi(dir);
    scanApi = await startTestApi(scanDir);
    const counts = new Map<string, number>();
    for (const post of fixture.posts) for (const did of post.mentions) if (fixture.handles.has(did) && did !== SPECIAL_DID) counts.set(did, (counts.get(did) ?? 0) + 1);
    const did = [...counts].sort((a, b) => b[1] - a[1])[0]![0];
    const handle = fixture.handles.get(did)!;
    mentioned = { did, handle, dids: [...fixture.handles].filter(([, h]) => h === handle).map(([d]) => d) };
  });
  afterAll(async () => {
    await api?.close();
    await scanApi?.close();
    await fixture?.close();
    await removeDir(dir);
    await removeDir(scanDir);
  });

  /** Every page of a search (following next_cursor), with the window unless q sets it. */
  async function searchAll(params: Record<string, string | number | boolean>, limit = 300, on: TestApi = api): Promise<string[]> {
    const uris: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 200; page++) {
      const query = new URLSearchParams();
      for (const [k, v] of Object.entries({ ...params, limit, ...(cursor ? { cursor } : {}) })) query.set(k, String(v));
      const response = await on.app.inject({ method: 'GET', url: `/v1/search?${query.toString()}` });
      expect(response.statusCode, response.body).toBe(200);
      const body = response.json<Page>();
      uris.push(...body.results.map((r) => r.uri));
      if (!body.meta.next_cursor) return uris;
      cursor = body.meta.next_cursor;
    }
    throw new Error('too many pages');
  }

  /** q's answer (with the fixture's window), equal to the oracle's and to a scan without the term index. */
  async function expectQ(q: string, predicate: (p: PostFact) => boolean, extra: Record<string, string | boolean> = {}, withWindow = true): Promise<string[]> {
    const params = { ...(withWindow ? window : {}), q, ...extra };
    const [indexed, scanned] = await Promise.all([searchAll(params), searchAll(params, 300, scanApi)]);
    const expected = newestFirst(fixture.posts.filter(predicate)).map((p) => p.uri);
    expect(indexed, q).toEqual(expected);
    expect(scanned, `${q} without the term index`).toEqual(expected);
    return indexed;
  }

  async function refused(params: Record<string, string>): Promise<string> {
    const response = await api.app.inject({ method: 'GET', url: `/v1/search?${new URLSearchParams(params).toString()}` });
    expect(response.statusCode, response.body).toBe(400);
    const body = response.json<{ error: string; message: string }>();
    expect(body.error).toBe('bad_request');
    return body.message;
  }

  describe('each operator, against the raw events', () => {
    it('plain words: every one, anywhere in the text, case-insensitively (like text=)', async () => {
      expect((await expectQ('coffee MORNING', (p) => hasWord(p, 'coffee') && hasWord(p, 'morning'))).length).toBeGreaterThan(5);
      await expectQ('lighthouse', (p) => hasWord(p, 'lighthouse'));
      // An unknown operator is a plain word (palomar): "progress:" is looked for as is.
      expect(await expectQ('Progress:', (p) => hasWord(p, 'progress:'))).toHaveLength(1);
    });

    it('"a phrase": whole words, in order, any whitespace between, case-insensitive', async () => {
      const phrase = await expectQ('"morning coffee"', (p) => hasPhrase(p, 'morning coffee'));
      expect(phrase.length).toBeGreaterThan(0);
      // Not inside a longer word, unlike a plain word: "coffee" in "decafcoffee" or "coffeehouse" is not the word.
      const word = await expectQ('"coffee"', (p) => hasPhrase(p, 'coffee'));
      expect(word).not.toContain(fixture.posts.find((p) => p.text === 'decafcoffee and coffeehouse')!.uri);
      await expectQ('"word spacing and"', (p) => hasPhrase(p, 'word spacing and')); // "word   spacing\tand" in SPECIAL_TEXTS
      expect(await expectQ('"spacing and"', (p) => hasPhrase(p, 'spacing and'))).toHaveLength(1);
      expect(await expectQ('"matcha latte"', (p) => hasPhrase(p, 'matcha latte'))).toHaveLength(1); // ideographic spaces between them
      expect(await expectQ('抹茶\u3000"MATCHA latte"', (p) => hasWord(p, '抹茶') && hasPhrase(p, 'matcha latte'))).toHaveLength(1);
    });

    it('-word and -"phrase": posts without it, texts missing or empty included; the term index never skips what an exclusion keeps', async () => {
      const coffeeNotMorning = await expectQ('coffee -morning', (p) => hasWord(p, 'coffee') && !hasWord(p, 'morning'));
      expect(coffeeNotMorning.length).toBeGreaterThan(0);
      // Exclusions alone: nothing for the index to look up, every hour read, every post without the word returned.
      const withoutThe = await expectQ('-the', (p) => !hasWord(p, 'the'));
      expect(withoutThe.length).toBeGreaterThan(1000);
      expect(withoutThe.length).toBeLessThan(fixture.posts.length);
      expect(fixture.posts.some((p) => !p.text && withoutThe.includes(p.uri))).toBe(true);
      // A rare word excluded: its rows are rows the index knows, and they are the ones left out.
      await expectQ('-ypogegrammeni', (p) => !hasWord(p, 'ypogegrammeni'));
      await expectQ('the -"morning coffee"', (p) => hasWord(p, 'the') && !hasPhrase(p, 'morning coffee'));
      // Required and excluded words that meet in the same rare rows.
      await expectQ('ypogegrammeni -decomposed', () => false);
      await expectQ('coffee -coffee', () => false);
    });

    it('#hashtag: case-insensitive, every one given; with the hashtag parameter too', async () => {
      expect((await expectQ('#BookSky', (p) => p.hashtags.includes('booksky'))).length).toBeGreaterThan(10);
      await expectQ('#coffeetime', (p) => p.hashtags.includes('coffeetime'));
      const both = await expectQ('#booksky #gamedev', (p) => p.hashtags.includes('booksky') && p.hashtags.includes('gamedev'));
      expect(both.length).toBeGreaterThan(0);
      expect(await expectQ('#booksky', (p) => p.hashtags.includes('booksky') && p.hashtags.includes('gamedev'), { hashtag: 'gamedev' })).toEqual(both);
    });

    it('from: a handle (with or without @, any case), a DID, or a DID alone; an unknown or former handle finds nothing', async () => {
      const mine = (p: PostFact) => p.did === SYNTAX_DID;
      const expected = await expectQ(`from:${SYNTAX_HANDLE}`, mine);
      expect(expected.length).toBeGreaterThan(10);
      expect(await expectQ(`from:@${SYNTAX_HANDLE.toUpperCase()}`, mine)).toEqual(expected);
      expect(await expectQ(`from:${SYNTAX_DID}`, mine)).toEqual(expected);
      expect(await expectQ(SYNTAX_DID, mine)).toEqual(expected);
      await expectQ('from:old-name.example.com', () => false);
      await expectQ('from:nobody.example.com coffee', () => false);
      await expectQ(`coffee from:${SPECIAL_HANDLE}`, (p) => p.did === SPECIAL_DID && hasWord(p, 'coffee'));
    });

    it('mentions:, to: and @handle: posts mentioning the account (the mentions column holds DIDs)', async () => {
      expect(await expectQ(`mentions:${SPECIAL_HANDLE}`, (p) => p.mentions.includes(SPECIAL_DID))).toHaveLength(1);
      const mentionsIt = (p: PostFact) => p.mentions.some((d) => mentioned.dids.includes(d));
      const byHandle = await expectQ(`mentions:${mentioned.handle}`, mentionsIt);
      expect(byHandle.length).toBeGreaterThan(0);
      expect(await expectQ(`@${mentioned.handle}`, mentionsIt)).toEqual(byHandle);
      await expectQ(`to:${mentioned.did}`, (p) => p.mentions.includes(mentioned.did));
      await expectQ(`mentions:${mentioned.handle} mentions:${SPECIAL_HANDLE}`, (p) => mentionsIt(p) && p.mentions.includes(SPECIAL_DID));
      await expectQ('mentions:nobody.example.com', () => false);
    });

    it('lang: a declared language, its regions included', async () => {
      await expectQ('lang:fr', (p) => langIs(p, 'fr'));
      await expectQ('lang:EN', (p) => langIs(p, 'en'));
      expect(await expectQ(`lang:fr from:${SYNTAX_DID}`, (p) => p.did === SYNTAX_DID && langIs(p, 'fr'))).toHaveLength(2); // fr and fr-CA
    });

    it('since: and until: are the window: since inclusive, until exclusive, bare dates at midnight UTC', async () => {
      const from = WINDOW_START + 5 * 3_600_000 + 123_000;
      const to = WINDOW_START + 9 * 3_600_000 + 456_000;
      const inside = (p: PostFact) => p.timeUs >= from * 1000 && p.timeUs < to * 1000;
      await expectQ(`since:${new Date(from).toISOString()} until:${new Date(to).toISOString()}`, inside, {}, false);
      // Whole days: since:2026-11-20 until:2026-11-21 is the fixture's day.
      expect(await expectQ('since:2026-11-20 until:2026-11-21', () => true, {}, false)).toHaveLength(fixture.posts.length);
      // A post exactly at since: is in, one exactly at until: is out.
      const post = newestFirst(fixture.posts.filter((p) => p.did === SYNTAX_DID)).at(-1)!;
      const at = new Date(post.timeUs / 1000).toISOString();
      expect(await searchAll({ q: `from:${SYNTAX_DID} since:${at} until:${new Date(post.timeUs / 1000 + 1).toISOString()}` })).toEqual([post.uri]);
      expect(await searchAll({ q: `from:${SYNTAX_DID} since:2026-11-20 until:${at}` })).toEqual([]);
      // The window in the answer is q's.
      const response = await api.app.inject({ method: 'GET', url: `/v1/search?${new URLSearchParams({ q: 'since:2026-11-20 until:2026-11-21', limit: '1' }).toString()}` });
      expect(response.json<Page>().meta).toMatchObject({ start: '2026-11-20T00:00:00.000Z', end: '2026-11-21T00:00:00.000Z' });
      // One bound from q, the other from its parameter.
      await expectQ(`since:${new Date(from).toISOString()}`, (p) => p.timeUs >= from * 1000, { end: window.end }, false);
    });

    it('domain: posts linking to the host (facet links and link cards), www. and case ignored, subdomains apart', async () => {
      expect(await expectQ('domain:example.com', (p) => linksTo(p, 'example.com'))).toHaveLength(1);
      expect(await expectQ('domain:WWW.example.ORG', (p) => linksTo(p, 'example.org'))).toHaveLength(1); // a card
      await expectQ('domain:blog.example.com', (p) => linksTo(p, 'blog.example.com'));
      expect((await expectQ('domain:youtube.com', (p) => linksTo(p, 'youtube.com'))).length).toBeGreaterThan(10);
      expect((await expectQ('domain:en.wikipedia.org', (p) => linksTo(p, 'en.wikipedia.org'))).length).toBeGreaterThan(10);
      await expectQ('domain:wikipedia.org', () => false);
      await expectQ('domain:github.com domain:youtube.com', (p) => linksTo(p, 'github.com') && linksTo(p, 'youtube.com'));
    });
  });

  describe('q with the other parameters', () => {
    it('combines with every other filter: everything must match', async () => {
      await expectQ('coffee -morning lang:en', (p) => hasWord(p, 'coffee') && !hasWord(p, 'morning') && langIs(p, 'en') && p.hasMedia && !p.isReply, {
        has_media: true,
        is_reply: false,
      });
      await expectQ('#booksky', (p) => p.hashtags.includes('booksky') && hasWord(p, 'the'), { text: 'the' });
      await expectQ('"morning coffee"', (p) => hasPhrase(p, 'morning coffee') && hasExact(p, 'Morning'), { text: 'Morning', exact: true });
      await expectQ(`#formulas`, (p) => p.hashtags.includes('formulas') && p.did === SYNTAX_DID, { username: SYNTAX_HANDLE });
    });

    it('a filter holding one value given by q and by its parameter is refused, naming the token', async () => {
      expect(await refused({ q: 'from:a.example.com', username: 'b.example.com' })).toBe(
        'q: the author is given twice, by the username parameter and by q; give it once: `from:a.example.com`',
      );
      expect(await refused({ q: 'coffee lang:en', lang: 'fr' })).toMatch(/language is given twice.*`lang:en`$/);
      expect(await refused({ q: 'since:2026-11-20', start: window.start })).toMatch(/start of the window.*`since:2026-11-20`$/);
      expect(await refused({ q: 'until:2026-11-21', end: window.end })).toMatch(/end of the window.*`until:2026-11-21`$/);
    });

    it('malformed queries are a 400 naming the token; from:me is refused with the reason', async () => {
      expect(await refused({ ...window, q: 'from:me coffee' })).toMatch(/^q: there is no signed-in Bluesky user here.*`from:me`$/);
      expect(await refused({ ...window, q: 'coffee "morning brew' })).toMatch(/unterminated quote.*`"morning brew`$/);
      expect(await refused({ ...window, q: 'since:2026-11-31' })).toMatch(/takes a date.*`since:2026-11-31`$/);
      expect(await refused({ q: 'since:2026-11-21 until:2026-11-20' })).toMatch(/since: must be before until:/);
      expect(await refused({ q: 'since:2025-01-01 until:2026-01-01' })).toBe('the window from since: to until: may span at most 31 days');
      expect(await refused({ ...window, q: '' })).toMatch(/^querystring \/q must NOT have (fewer|more) than/);
      expect(await refused({ ...window, q: 'x'.repeat(1001) })).toMatch(/^querystring \/q must NOT have (fewer|more) than/);
    });

    it('pages carry q in their cursor: a cursor is refused with another q', async () => {
      const first = await api.app.inject({ method: 'GET', url: `/v1/search?${new URLSearchParams({ ...window, q: 'coffee', limit: '3' }).toString()}` });
      const cursor = first.json<Page>().meta.next_cursor!;
      expect(cursor).toBeTruthy();
      expect(await refused({ ...window, q: 'coffee -tea', limit: '3', cursor })).toMatch(/cursor belongs to a different query/);
    });

    it('exports take q too: NDJSON holds exactly what search returns', async () => {
      const q = 'coffee -morning #booksky';
      const searched = await searchAll({ ...window, q });
      const response = await api.app.inject({ method: 'GET', url: `/v1/export?${new URLSearchParams({ ...window, q, format: 'ndjson' }).toString()}` });
      expect(response.statusCode).toBe(200);
      const lines = response.body.split('\n').filter((l) => l).map((l) => JSON.parse(l) as { uri: string });
      expect(lines.map((l) => l.uri)).toEqual(searched);
      const refusedExport = await api.app.inject({ method: 'GET', url: `/v1/export?${new URLSearchParams({ q: 'from:me' }).toString()}` });
      expect(refusedExport.statusCode).toBe(400);
    });
  });
});
