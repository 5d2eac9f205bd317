// Hostile input, generated (fast-check): every route's parameters and the
// ingester's validation of Jetstream events get SQL injection payloads, LIKE and
// regex wildcards, huge and deeply nested values, control characters, lone
// surrogates, invalid UTF-8 and odd percent-encodings. The API never answers 5xx
// and never shows SQL or a stack trace; a text filter matches literally whatever
// it holds. parseJetstreamEvent never throws and accepts exactly the envelopes the
// Jetstream v1 format allows (an oracle written here from the format, not the code).

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJetstreamEvent } from '../services/shared/jetstream.ts';
import { removeDir, tempDir } from './helpers/pipeline.ts';
import { SPECIAL_DID, WINDOW_END, WINDOW_START, buildStore, newestFirst, startTestApi, type ApiFixture, type TestApi } from './helpers/api-fixture.ts';

const RUNS = Number(process.env.HOSTILE_RUNS ?? 150);

/** Payloads that broke other systems' SQL, LIKE patterns, regular expressions and parsers. */
const INJECTIONS = [
  "' OR 1=1 --",
  "'; DROP TABLE posts; --",
  "%' UNION SELECT * FROM read_parquet('/etc/passwd') --",
  '" OR ""="',
  "') OR ('a'='a",
  '$1',
  '$2::VARCHAR',
  '?',
  '%',
  '_',
  '%%',
  '_%_',
  '\\%',
  '\\_',
  '\\',
  "\\'",
  '[a-z]*',
  '.*',
  '(?i)',
  '(?s).*',
  '\\E.*\\Q',
  '\\Q',
  '(((((((((a)))))))))',
  'a{1000000}',
  '\\p{L}',
  "'||(SELECT version())||'",
  '1; COPY (SELECT 1) TO \'/tmp/x\'',
  "ATTACH '/tmp/x.db' AS x",
  'NULL',
  '${7*7}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  '../../../../etc/passwd',
  '\u0000',
  '\u202e',
  '\ufeff',
] as const;

const controlChars = fc.string({ unit: fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 20 });
const hostileString = fc.oneof(
  fc.constantFrom(...INJECTIONS),
  fc.string({ unit: 'binary', maxLength: 40 }), // lone surrogates included
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  controlChars,
  fc.integer({ min: 1, max: 60_000 }).map((n) => 'x'.repeat(n)), // huge
  fc.integer({ min: 1, max: 5_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)), // deeply nested
  fc.integer({ min: 1, max: 2_000 }).map((n) => 'a['.repeat(n)),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null'),
  fc.constantFrom('', ' ', '+', '%20', 'true', 'false', '0', '-1', '1e400', 'NaN', 'Infinity', '9007199254740993', '2026-13-45T99:99:99Z', '0000-00-00T00:00:00Z'),
);

/** A string as it travels in a query string: encoded properly, or as raw hostile bytes (invalid UTF-8, stray %). */
function encodeHostile(value: string, mode: number): string {
  switch (mode % 4) {
    case 0:
      return encodeURIComponent(value.replace(/[\uD800-\uDFFF]/g, '\uFFFD'));
    case 1:
      // Every UTF-16 code unit as %XX of its low byte: lone surrogates and high bytes become invalid UTF-8.
      return [...value].map((c) => `%${(c.charCodeAt(0) & 0xff).toString(16).padStart(2, '0')}`).join('');
    case 2:
      return value.replace(/[^A-Za-z0-9]/g, (c) => (c === '%' ? '%' : encodeURIComponent(c.replace(/[\uD800-\uDFFF]/g, '?'))));
    default:
      return encodeURIComponent(value.replace(/[\uD800-\uDFFF]/g, '\uFFFD')).replace(/%/g, '%25'); // double encoded
  }
}
const invalidUtf8 = fc.uint8Array({ minLength: 1, maxLength: 30 }).map((bytes) => [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join(''));
const oddEncodings = fc.constantFrom('%', '%%', '%zz', '%C0%AF', '%ED%A0%80', '%F4%90%80%80', '%FF%FE', '%00', '%E2%80%AE', '+%2B+', '%u0041', '%%32%35');

const PARAMS = ['q', 'text', 'exact', 'username', 'lang', 'hashtag', 'has_media', 'is_reply', 'start', 'end', 'limit', 'cursor', 'format', 'csv_raw', 'interval'];
const paramName = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...PARAMS) },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'text[]', 'text[0]', 'a[b][c]', 'text.length', '', '%00', 'TEXT') },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }).map((s) => encodeURIComponent(s.replace(/[\uD800-\uDFFF]/g, '?'))) },
);
const queryString = fc
  .array(
    fc.tuple(paramName, fc.oneof(hostileString.chain((v) => fc.nat().map((m) => encodeHostile(v, m))), invalidUtf8, oddEncodings)),
    { maxLength: 6 },
  )
  .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&'));

const ROUTES = ['/v1/search', '/v1/export', '/v1/stats/timeseries', '/v1/stats/hashtags', '/v1/admin/keys'];
const pathSegment = fc.oneof(hostileString.chain((v) => fc.nat().map((m) => encodeHostile(v, m))), invalidUtf8, oddEncodings, fc.constantFrom('..', '.', '%2e%2e', '%2F', 'did:plc:abc', SPECIAL_DID, '3mptbyplj5d2a'));

const SQL_OR_STACK = /SELECT |read_parquet|parquet_file_metadata| FROM | WHERE |DuckDB|Binder Error|Parser Error|at [\w.<>]+ \(|\.ts:\d+|node_modules|\/work\//;

describe('hostile requests to every route', { timeout: 600_000 }, () => {
  let dir: string;
  let fixture: ApiFixture;
  let api: TestApi;
  const window = `start=${encodeURIComponent(new Date(WINDOW_START).toISOString())}&end=${encodeURIComponent(new Date(WINDOW_END).toISOString())}`;

  beforeAll(async () => {
    dir = await tempDir('hostile');
    fixture = await buildStore(dir);
    api = await startTestApi(dir, { QUERY_TIMEOUT_MS: '60000', QUEUE_TIMEOUT_MS: '60000' });
  });
  afterAll(async () => {
    await api?.close();
    await fixture?.close();
    await removeDir(dir);
  });

  async function send(method: 'GET' | 'POST', url: string, headers: Record<string, string> = {}) {
    const response = await api.app.inject({ method, url, headers });
    const context = `${method} ${url.slice(0, 300)} -> ${response.statusCode} ${response.body.slice(0, 300)}`;
    expect(response.statusCode, context).toBeLessThan(500);
    if (response.statusCode >= 400) {
      const body = JSON.parse(response.body) as Record<string, unknown>;
      expect(Object.keys(body).sort(), context).toEqual(['error', 'message']);
      // A 404 says which path it did not find, a refused q the token it could not use
      // (in backticks, after the API's own words): the client's own input, echoed in JSON.
      const raw = String(body.message);
      const message = response.statusCode === 404 && raw.startsWith('no route') ? '' : raw.startsWith('q: ') ? raw.replace(/`[\s\S]*$/u, '') : raw;
      expect(message, context).not.toMatch(SQL_OR_STACK);
    } else {
      expect(response.body, context).not.toMatch(/at [\w.<>]+ \(.*:\d+:\d+\)|node_modules/);
    }
    return response;
  }

  it('query strings: never a 5xx, never SQL or a stack trace', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), queryString, fc.boolean(), async (route, query, withWindow) => {
        await send('GET', `${route}?${withWindow ? `${window}&` : ''}${query}`);
      }),
      { numRuns: RUNS },
    );
  });

  it('path parameters of /v1/posts and the admin routes', async () => {
    await fc.assert(
      fc.asyncProperty(pathSegment, pathSegment, async (did, rkey) => {
        await send('GET', `/v1/posts/${did}/${rkey}`);
        await send('POST', `/v1/admin/keys/${did}/revoke`);
      }),
      { numRuns: RUNS },
    );
  });

  it('the Authorization header', async () => {
    const header = fc.oneof(
      hostileString.map((s) => s.replace(/[^\t\x20-\x7e]/g, '')),
      hostileString.map((s) => `Bearer ${s.replace(/[^\t\x20-\x7e]/g, '')}`),
      fc.stringMatching(/^bpe_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/).map((k) => `Bearer ${k}`),
      fc.constantFrom('Bearer', 'Bearer ', 'bearer x', 'Basic Zm9vOmJhcg==', `Bearer ${'a'.repeat(6000)}`, 'Bearer bpe_../../etc_passwd'),
    );
    await fc.assert(
      fc.asyncProperty(header, fc.constantFrom(...ROUTES), async (authorization, route) => {
        const response = await send('GET', `${route}?limit=1`, { authorization });
        expect([400, 401, 403]).toContain(response.statusCode);
      }),
      { numRuns: RUNS },
    );
  });

  it('an injection payload as text matches literally: exactly the posts that contain it', async () => {
    const lower = (s: string | null) => (s ?? '').toLowerCase();
    const ascii = INJECTIONS.filter((p) => /^[\x20-\x7e]+$/.test(p) && p.length <= 500);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ascii), fc.constantFrom('', 'x', ' the'), async (payload, extra) => {
        const text = `${payload}${extra}`;
        const response = await send('GET', `/v1/search?${window}&limit=1000&text=${encodeURIComponent(text)}`);
        expect(response.statusCode).toBe(200);
        // The first page, newest first (at most 1000 of them).
        const got = response.json<{ results: { uri: string }[] }>().results.map((r) => r.uri);
        const expected = newestFirst(fixture.posts.filter((p) => lower(p.text).includes(lower(text)))).map((p) => p.uri).slice(0, 1000);
        expect(got, text).toEqual(expected);
      }),
      { numRuns: Math.min(RUNS, ascii.length * 3) },
    );
  });

  it('q (the search syntax) with hostile words and operator values: a 200, or a 400 naming the token, never a 5xx', async () => {
    const operator = fc.constantFrom('', '', 'from:', 'mentions:', 'to:', 'lang:', 'since:', 'until:', 'domain:', 'did:', 'https:', '#', '@', '-', '"', '-"', 'x:');
    const token = fc.tuple(operator, hostileString.map((s) => s.slice(0, 200)), fc.constantFrom('', '"', ' ', '\u3000')).map(([op, value, end]) => `${op}${value}${end}`);
    const q = fc.array(token, { minLength: 1, maxLength: 5 }).map((tokens) => tokens.join(' ').replace(/[\uD800-\uDFFF]/g, '\uFFFD').slice(0, 1000));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('/v1/search', '/v1/export'), q, async (route, query) => {
        const response = await send('GET', `${route}?${window}&limit=5&q=${encodeURIComponent(query)}`);
        expect([200, 400], query).toContain(response.statusCode);
        if (response.statusCode === 400) expect(response.json<{ message: string }>().message).toMatch(/^(q: .*`[\s\S]*`$|querystring \/q )/su);
      }),
      { numRuns: RUNS },
    );
  });

  it('an injection payload as a word of q matches literally, as text= does', async () => {
    const lower = (s: string | null) => (s ?? '').toLowerCase();
    // Plain words only: no whitespace or quote, no leading sign or colon that q reads as an operator.
    const words = INJECTIONS.filter((p) => /^[^\s"#@-][^\s":]*$/u.test(p) && /^[\x20-\x7e]+$/.test(p));
    expect(words.length).toBeGreaterThan(15);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...words), async (word) => {
        const response = await send('GET', `/v1/search?${window}&limit=1000&q=${encodeURIComponent(word)}`);
        expect(response.statusCode, word).toBe(200);
        const got = response.json<{ results: { uri: string }[] }>().results.map((r) => r.uri);
        const expected = newestFirst(fixture.posts.filter((p) => lower(p.text).includes(lower(word)))).map((p) => p.uri).slice(0, 1000);
        expect(got, word).toEqual(expected);
      }),
      { numRuns: Math.min(RUNS, words.length * 2) },
    );
  });
});

// ---- the ingester's validation --------------------------------------------------

const DID = /^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$/;
const NSID = /^[a-zA-Z]([a-zA-Z0-9-]{0,62})?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,62})?)+\.[a-zA-Z][a-zA-Z0-9]{0,62}$/;
const RKEY = /^[a-zA-Z0-9._:~-]{1,512}$/;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isDid = (v: unknown) => typeof v === 'string' && v.length <= 2048 && DID.test(v);
const isSeq = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * The Jetstream v1 envelope (../shared/NOTES.md, the jetstream README): what the
 * ingester must accept, and nothing else. Records themselves are not validated.
 */
function acceptable(v: unknown): boolean {
  if (!isObj(v) || !isDid(v.did)) return false;
  const t = v.time_us;
  if (typeof t !== 'number' || !Number.isSafeInteger(t) || t <= 0 || t > 4_102_444_800_000_000) return false;
  if (v.kind === 'commit') {
    const c = v.commit;
    if (!isObj(c)) return false;
    if (typeof c.rev !== 'string' || c.rev.length < 1 || c.rev.length > 64) return false;
    if (c.operation !== 'create' && c.operation !== 'update' && c.operation !== 'delete') return false;
    if (typeof c.collection !== 'string' || c.collection.length > 317 || !NSID.test(c.collection)) return false;
    if (typeof c.rkey !== 'string' || !RKEY.test(c.rkey) || c.rkey === '.' || c.rkey === '..') return false;
    if (c.operation !== 'delete' && (!isObj(c.record) || typeof c.cid !== 'string' || c.cid.length < 1 || c.cid.length > 256)) return false;
    return true;
  }
  if (v.kind === 'identity') {
    const i = v.identity;
    return isObj(i) && isDid(i.did) && (i.handle === undefined || (typeof i.handle === 'string' && i.handle.length <= 253)) && isSeq(i.seq) && typeof i.time === 'string';
  }
  if (v.kind === 'account') {
    const a = v.account;
    return isObj(a) && isDid(a.did) && typeof a.active === 'boolean' && (a.status === undefined || typeof a.status === 'string') && isSeq(a.seq) && typeof a.time === 'string';
  }
  return false;
}

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.constantFrom(null, true, false, 0, -1, 1.5, -0, 2 ** 53, 2 ** 63, 1e308, [], {}, [[[[[]]]]], { $type: 'x' }, '__proto__'),
  fc.jsonValue({ maxDepth: 3 }),
  fc.integer({ min: 1, max: 3000 }).map((n) => JSON.parse('['.repeat(n) + ']'.repeat(n)) as unknown),
);

const validEnvelope = fc.oneof(
  fc.record({
    did: fc.constantFrom('did:plc:abc123', 'did:web:example.com', SPECIAL_DID),
    time_us: fc.integer({ min: 1, max: 4_102_444_800_000_000 }),
    kind: fc.constant('commit'),
    commit: fc.record({
      rev: fc.constantFrom('3l3qo2vutsw2b', 'x'),
      operation: fc.constantFrom('create', 'update', 'delete'),
      collection: fc.constantFrom('app.bsky.feed.post', 'app.bsky.feed.like', 'com.example.thing.v2'),
      rkey: fc.constantFrom('3mptbyplj5d2a', 'self', 'a:b~c'),
      record: fc.record({ $type: fc.constant('app.bsky.feed.post'), text: fc.string() }),
      cid: fc.constant('bafyreiexample'),
    }),
  }),
  fc.record({
    did: fc.constant('did:plc:abc123'),
    time_us: fc.integer({ min: 1, max: 2 ** 52 }),
    kind: fc.constant('identity'),
    identity: fc.record({ did: fc.constant('did:plc:abc123'), handle: fc.constantFrom('alice.example.com', undefined), seq: fc.nat(), time: fc.constant('2026-11-20T00:00:00Z') }, { requiredKeys: ['did', 'seq', 'time'] }),
  }),
  fc.record({
    did: fc.constant('did:plc:abc123'),
    time_us: fc.integer({ min: 1, max: 2 ** 52 }),
    kind: fc.constant('account'),
    account: fc.record({ did: fc.constant('did:plc:abc123'), active: fc.boolean(), status: fc.constantFrom('takendown', undefined), seq: fc.nat(), time: fc.constant('2026-11-20T00:00:00Z') }, { requiredKeys: ['did', 'active', 'seq', 'time'] }),
  }),
);

/** A valid envelope with one field (at any depth of the envelope) replaced, removed, or a field added. */
const mutatedEnvelope = fc.tuple(validEnvelope, fc.nat(), fc.nat(), hostileValue, fc.constantFrom('replace', 'delete', 'add')).map(([envelope, a, b, value, how]) => {
  const copy = JSON.parse(JSON.stringify(envelope)) as Record<string, unknown>;
  const inner = ['commit', 'identity', 'account'].find((k) => isObj(copy[k]));
  const target = a % 2 === 0 || !inner ? copy : (copy[inner] as Record<string, unknown>);
  const keys = Object.keys(target);
  const key = how === 'add' ? ['__proto__', 'constructor', 'seq', 'cursor', 'extra'][b % 5]! : keys[b % keys.length]!;
  if (how === 'delete') delete target[key];
  else Object.defineProperty(target, key, { value, enumerable: true, configurable: true, writable: true });
  return copy;
});

describe('hostile Jetstream events', () => {
  it('parseJetstreamEvent never throws, whatever the frame', () => {
    const frame = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      hostileString,
      fc.jsonValue().map((v) => JSON.stringify(v) ?? ''),
      mutatedEnvelope.map((v) => JSON.stringify(v)),
      fc.integer({ min: 1, max: 200_000 }).map((n) => `{"did":"did:plc:abc","time_us":1,"kind":${'['.repeat(n)}${']'.repeat(n)}}`),
      fc.integer({ min: 1, max: 200_000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
      fc.constantFrom('\ufeff{}', '{"did":"did:plc:a","did":"did:plc:b"}', '{"__proto__":{"did":"did:plc:abc","time_us":1,"kind":"account"}}', '{"time_us":1e400}', '\u0000'),
    );
    fc.assert(
      fc.property(frame, fc.constantFrom(64, 1024, 1 << 20), (raw, maxBytes) => {
        const result = parseJetstreamEvent(raw, maxBytes);
        expect(typeof result.ok).toBe('boolean');
        if (!result.ok) expect(result.detail.length).toBeLessThan(1000);
      }),
      { numRuns: RUNS * 4 },
    );
  });

  it('accepts exactly the envelopes the format allows: never one it should refuse', () => {
    fc.assert(
      fc.property(fc.oneof(validEnvelope, mutatedEnvelope, fc.jsonValue({ maxDepth: 3 })), (value) => {
        const raw = JSON.stringify(value);
        const result = parseJetstreamEvent(raw, 1 << 20);
        expect(result.ok, raw.slice(0, 500)).toBe(acceptable(JSON.parse(raw)));
      }),
      { numRuns: RUNS * 10 },
    );
  });

  it('refuses frames over the size limit, counting UTF-8 bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 400 }), (text) => {
        const raw = JSON.stringify({ did: 'did:plc:abc', time_us: 1, kind: 'commit', commit: { rev: 'x', operation: 'create', collection: 'app.bsky.feed.post', rkey: 'self', cid: 'b', record: { text } } });
        const limit = Buffer.byteLength(raw) - 1;
        const result = parseJetstreamEvent(raw, limit);
        expect(result).toMatchObject({ ok: false, reason: 'oversized' });
        expect(parseJetstreamEvent(raw, limit + 1).ok).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});
