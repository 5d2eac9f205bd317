// The search syntax parser (services/api/query-syntax.ts) on its own: the meaning of
// each token as palomar (Bluesky's search service) gives it, and, generated with
// fast-check, that any query made of valid tokens parses into exactly the filters
// it was made of, and that any query with one malformed token is a 400 naming that
// token, never another error. test/api-search-syntax.test.ts runs the same syntax
// against a real API over writer-made Parquet.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../services/api/errors.ts';
import { requiredTexts, termPattern } from '../services/api/post-query.ts';
import { MAX_TOKENS, parseBound, parseQuery, tokenize, type SearchQuery } from '../services/api/query-syntax.ts';

const us = (iso: string) => Date.parse(iso) * 1000;

/** The 400 a malformed query gets, or a failure naming what was thrown instead. */
function refusal(q: string): ApiError {
  try {
    parseQuery(q);
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw new Error('not an ApiError', { cause: error });
  }
  throw new Error(`accepted: ${JSON.stringify(q)}`);
}

/** The token a refusal names: the backticked text its message ends with. */
const namedToken = (error: ApiError) => /`([^`]*)`$/u.exec(error.message)?.[1];

describe('tokens, as palomar cuts them', () => {
  it.each([
    ['coffee  morning', ['coffee', 'morning']],
    ['  "morning coffee"  tea ', ['"morning coffee"', 'tea']],
    ['a\tb\nc\u3000d', ['a', 'b', 'c', 'd']], // any whitespace, the ideographic space included
    ['-"not this" x', ['-"not this"', 'x']],
    ['say"hello world"', ['say"hello world"']], // a quote anywhere opens a quoted part
    ['', []],
  ])('%j', (q, tokens) => {
    expect(tokenize(q)).toEqual(tokens);
  });
});

describe('what each token means', () => {
  const empty: SearchQuery = { include: [], exclude: [], mentions: [], hashtags: [], domains: [] };
  it.each<[string, Partial<SearchQuery>]>([
    ['coffee Morning', { include: [{ text: 'coffee', phrase: false }, { text: 'Morning', phrase: false }] }],
    ['"morning  coffee"', { include: [{ text: 'morning  coffee', phrase: true }] }],
    ['" padded "', { include: [{ text: 'padded', phrase: true }] }],
    ['-tea -"green tea" -from:x', { exclude: [{ text: 'tea', phrase: false }, { text: 'green tea', phrase: true }, { text: 'from:x', phrase: false }] }],
    ['#CoffeeTime #日本語', { hashtags: [{ value: 'coffeetime', token: '#CoffeeTime' }, { value: '日本語', token: '#日本語' }] }],
    ['from:Alice.bsky.social', { author: { value: 'alice.bsky.social', token: 'from:Alice.bsky.social' } }],
    ['from:@alice.bsky.social', { author: { value: 'alice.bsky.social', token: 'from:@alice.bsky.social' } }],
    ['from:did:plc:abc123', { author: { value: 'did:plc:abc123', token: 'from:did:plc:abc123' } }],
    ['did:plc:abc123', { author: { value: 'did:plc:abc123', token: 'did:plc:abc123' } }],
    [
      'mentions:bob.test to:carol.test @dave.test mentions:did:web:example.com',
      {
        mentions: [
          { value: 'bob.test', token: 'mentions:bob.test' },
          { value: 'carol.test', token: 'to:carol.test' },
          { value: 'dave.test', token: '@dave.test' },
          { value: 'did:web:example.com', token: 'mentions:did:web:example.com' },
        ],
      },
    ],
    ['@nodot', { include: [{ text: '@nodot', phrase: false }] }], // not a handle: a word, as in palomar
    ['lang:pt-BR', { lang: { value: 'pt-BR', token: 'lang:pt-BR' } }],
    ['since:2026-11-20', { since: { value: us('2026-11-20T00:00:00Z'), token: 'since:2026-11-20' } }],
    ['until:2026-11-20T05:30:00+01:00', { until: { value: us('2026-11-20T04:30:00Z'), token: 'until:2026-11-20T05:30:00+01:00' } }],
    ['domain:WWW.Example.COM domain:blog.example.com', { domains: [{ value: 'example.com', token: 'domain:WWW.Example.COM' }, { value: 'blog.example.com', token: 'domain:blog.example.com' }] }],
    // Unknown operators, capitalised operators and lone signs are plain words (palomar).
    ['10:30 re: From:alice.test - #', { include: ['10:30', 're:', 'From:alice.test', '-', '#'].map((text) => ({ text, phrase: false })) }],
  ])('%j', (q, expected) => {
    expect(parseQuery(q)).toEqual({ ...empty, ...expected });
  });

  it('since: is inclusive from midnight UTC; until: exclusive; real dates only', () => {
    expect(parseBound('2026-11-20')).toBe(us('2026-11-20T00:00:00.000Z'));
    expect(parseBound('2024-02-29')).toBe(us('2024-02-29T00:00:00Z'));
    expect(parseBound('2026-11-20T10:00:00.123Z')).toBe(us('2026-11-20T10:00:00.123Z'));
    for (const bad of ['2026-02-29', '2026-13-01', '2026-11-31', '2026-11-20T24:00:00Z', '2026-11-20T10:00:00', '20261120', '2026-1-2', 'yesterday', '']) {
      expect(parseBound(bad), bad).toBeUndefined();
    }
  });

  it.each([
    ['coffee "morning brew', '"morning brew', 'unterminated quote'],
    ['from:me', 'from:me', 'no signed-in Bluesky user'],
    ['mentions:me', 'mentions:me', 'no signed-in Bluesky user'],
    ['to:@me', 'to:@me', 'no signed-in Bluesky user'],
    ['from:', 'from:', 'takes a handle'],
    ['from:not_a_handle', 'from:not_a_handle', 'takes a handle'],
    ['did:nope', 'did:nope', 'not a DID'],
    ['lang:english!', 'lang:english!', 'language code'],
    ['lang:', 'lang:', 'language code'],
    ['since:2026-02-30', 'since:2026-02-30', 'takes a date'],
    ['until:tomorrow', 'until:tomorrow', 'takes a date'],
    ['domain:https://example.com/x', 'domain:https://example.com/x', 'host name'],
    ['domain:', 'domain:', 'host name'],
    ['https://example.com/page', 'https://example.com/page', 'search by URL is not supported'],
    ['say"hi"', 'say"hi"', 'must open and close a phrase'],
    ['"a""b"', '"a""b"', 'must open and close a phrase'],
    ['""', '""', 'empty phrase'],
    ['-"  "', '-"  "', 'empty phrase'],
    ['#a#b', '#a#b', 'hashtag'],
    ['from:a.test from:b.test', 'from:b.test', 'already given by `from:a.test`'],
    ['did:plc:x from:b.test', 'from:b.test', 'already given'],
    ['lang:en lang:fr', 'lang:fr', 'already given'],
    ['since:2026-11-01 since:2026-11-02', 'since:2026-11-02', 'already given'],
    ['since:2026-11-21 until:2026-11-21', 'until:2026-11-21', 'since: must be before until:'],
    [Array.from({ length: MAX_TOKENS + 1 }, (_, i) => `w${i}`).join(' '), `w${MAX_TOKENS}`, `at most ${MAX_TOKENS}`],
  ])('%j is refused, naming %j', (q, token, why) => {
    const error = refusal(q);
    expect(error.statusCode).toBe(400);
    expect(error.code).toBe('bad_request');
    expect(error.message).toContain(why);
    expect(namedToken(error)).toBe(token);
  });
});

describe('from the parsed query to conditions', () => {
  it('words and phrases a post must contain go to the term index with text=; exclusions never do', () => {
    const { include, exclude } = parseQuery('coffee "morning brew" -tea -"green tea"');
    expect(requiredTexts({ startUs: 0, endUs: 1, text: 'latte', include, exclude })).toEqual(['latte', 'coffee', 'morning brew']);
    expect(requiredTexts({ startUs: 0, endUs: 1, exclude })).toEqual([]);
  });

  it('a word is a quoted literal; a phrase is bounded by non-word characters, any whitespace between its words', () => {
    expect(termPattern({ text: 'a.b*', phrase: false })).toBe('(?i)\\Qa.b*\\E');
    expect(termPattern({ text: 'morning  coffee', phrase: true })).toBe('(?i)(^|[^\\pL\\pN_])\\Qmorning\\E[\\s\\p{Z}]+\\Qcoffee\\E($|[^\\pL\\pN_])');
  });
});

// ---- generated queries ------------------------------------------------------------

const letter = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789éßσ東京ラ'.split(''));
/** A plain word: no whitespace or quote, and nothing an operator or sign would claim. */
const plainWord = fc.tuple(letter, fc.string({ unit: fc.oneof(letter, fc.constantFrom('.', "'", '%', '_', '!', '?', '&', '(', ')', '+', '=', '@', '#', '-')), maxLength: 12 })).map(([a, b]) => a + b);
const phraseText = fc.array(plainWord, { minLength: 1, maxLength: 4 }).map((words) => words.join(' '));
const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/);
const handle = fc.tuple(label, label, fc.constantFrom('social', 'com', 'org', 'test')).map(([a, b, tld]) => `${a}.${b}.${tld}`);
const did = fc.oneof(fc.stringMatching(/^did:plc:[a-z2-7]{24}$/), label.map((l) => `did:web:${l}.example.com`));
const account = fc.oneof(handle, did);
const lang = fc.constantFrom('en', 'ja', 'pt-BR', 'zh-Hant-TW', 'fra');
const tag = fc.tuple(letter, fc.string({ unit: fc.oneof(letter, fc.constantFrom('_', '-', '.')), maxLength: 10 })).map(([a, b]) => a + b);
const day = fc.integer({ min: Date.UTC(2000, 0, 1) / 86_400_000, max: Date.UTC(2099, 11, 30) / 86_400_000 }).map((d) => new Date(d * 86_400_000));
const separator = fc.constantFrom(' ', '  ', '\t', '\n', '\u3000', ' \u00a0');

interface Part {
  token: string;
  apply(expected: SearchQuery): void;
}

const part: fc.Arbitrary<Part> = fc.oneof(
  plainWord.map((w) => ({ token: w, apply: (e: SearchQuery) => e.include.push({ text: w, phrase: false }) })),
  phraseText.map((p) => ({ token: `"${p}"`, apply: (e: SearchQuery) => e.include.push({ text: p, phrase: true }) })),
  plainWord.map((w) => ({ token: `-${w}`, apply: (e: SearchQuery) => e.exclude.push({ text: w, phrase: false }) })),
  phraseText.map((p) => ({ token: `-"${p}"`, apply: (e: SearchQuery) => e.exclude.push({ text: p, phrase: true }) })),
  tag.map((t) => ({ token: `#${t}`, apply: (e: SearchQuery) => e.hashtags.push({ value: t.toLowerCase(), token: `#${t}` }) })),
  fc.tuple(fc.constantFrom('mentions:', 'to:'), account).map(([op, a]) => ({
    token: `${op}${a}`,
    apply: (e: SearchQuery) => e.mentions.push({ value: a.startsWith('did:') ? a : a.toLowerCase(), token: `${op}${a}` }),
  })),
  fc.tuple(fc.constantFrom('@', 'mentions:@', 'to:@'), handle).map(([op, h]) => ({ token: `${op}${h}`, apply: (e: SearchQuery) => e.mentions.push({ value: h, token: `${op}${h}` }) })),
  fc.tuple(fc.constantFrom('', 'www.', 'WWW.'), handle).map(([www, host]) => ({
    token: `domain:${www}${host}`,
    apply: (e: SearchQuery) => e.domains.push({ value: host.toLowerCase(), token: `domain:${www}${host}` }),
  })),
);

/** Single-valued operators: each at most once. */
const singles = fc.record(
  {
    from: fc.tuple(fc.constantFrom('from:', 'from:@'), account),
    lang,
    window: fc.tuple(day, day, fc.boolean()).filter(([a, b]) => a.getTime() !== b.getTime()),
  },
  { requiredKeys: [] },
);

const validQuery = fc
  .tuple(fc.array(part, { maxLength: 12 }), singles)
  .chain(([parts, single]) => {
    const all: Part[] = [...parts];
    if (single.from) {
      const [op, a] = single.from;
      const token = op === 'from:@' && a.startsWith('did:') ? `from:${a}` : `${op}${a}`;
      all.push({ token, apply: (e) => (e.author = { value: a.startsWith('did:') ? a : a.toLowerCase(), token }) });
    }
    if (single.lang) all.push({ token: `lang:${single.lang}`, apply: (e) => (e.lang = { value: single.lang!, token: `lang:${single.lang}` }) });
    if (single.window) {
      const [a, b, withTime] = single.window;
      const [from, to] = a < b ? [a, b] : [b, a];
      const bound = (d: Date) => (withTime ? d.toISOString() : d.toISOString().slice(0, 10));
      all.push({ token: `since:${bound(from)}`, apply: (e) => (e.since = { value: from.getTime() * 1000, token: `since:${bound(from)}` }) });
      all.push({ token: `until:${bound(to)}`, apply: (e) => (e.until = { value: to.getTime() * 1000, token: `until:${bound(to)}` }) });
    }
    return fc.tuple(fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }), fc.array(separator, { minLength: all.length + 1, maxLength: all.length + 1 }));
  })
  .map(([parts, seps]) => {
    const expected: SearchQuery = { include: [], exclude: [], mentions: [], hashtags: [], domains: [] };
    for (const p of parts) p.apply(expected);
    return { q: seps[0] + parts.map((p, i) => p.token + seps[i + 1]).join(''), expected };
  });

/** One token that is wrong, and the reason in the message. */
const malformed = fc.oneof(
  phraseText.map((p) => `"${p}`), // unterminated: swallows the rest, so it goes last
  fc.constantFrom('from:me', 'mentions:me', 'to:me', 'from:', 'mentions:not a handle'.replace(/ /g, '_'), 'did:x', 'lang:e', 'lang:toolonglanguage'),
  fc.constantFrom('since:2026-02-30', 'until:2026-13-01', 'since:2026-11-20T25:00:00Z', 'until:2026-11-20T10:00:00', 'since:', 'until:soon'),
  fc.constantFrom('domain:', 'domain:http://x.com', 'domain:a..b', 'domain:-x.com', 'https://bsky.app/profile/x', 'http:x'),
  plainWord.map((w) => `${w}"x"`),
  fc.constantFrom('""', '-""', '"   "', '#a#b'),
);

describe('generated queries', () => {
  it('any query of valid tokens, in any order, with any whitespace, parses into exactly its filters', () => {
    fc.assert(
      fc.property(validQuery, ({ q, expected }) => {
        expect(parseQuery(q)).toEqual(expected);
      }),
      { numRuns: 400 },
    );
  });

  it('a query with one malformed token is a 400 naming that token, never another error', () => {
    fc.assert(
      fc.property(validQuery, malformed, fc.nat(), ({ q }, bad, at) => {
        const tokens = tokenize(q).filter((t) => !/^(from|did|since|until|lang):/.test(t)); // keep the malformed one the only problem
        const position = bad.startsWith('"') && !bad.endsWith('"') ? tokens.length : at % (tokens.length + 1);
        tokens.splice(position, 0, bad);
        const error = refusal(tokens.join(' '));
        expect(error.statusCode).toBe(400);
        expect(error.code).toBe('bad_request');
        expect(namedToken(error)).toBe(bad);
      }),
      { numRuns: 400 },
    );
  });

  it('no input makes the parser throw anything but a 400', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.oneof(fc.constantFrom('"', ':', '-', '#', '@', ' ', 'from', 'since', 'did', 'domain', 'lang', 'me'), fc.string({ maxLength: 3 })), maxLength: 60 }), (q) => {
        try {
          parseQuery(q);
        } catch (error) {
          expect(error).toBeInstanceOf(ApiError);
          expect((error as ApiError).statusCode).toBe(400);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
