// The API load mix: what a crowd of researchers asks the Post Explorer API, and
// what a correct answer to each question looks like. Declared once, here, and
// used by both load generators:
//
// - the k6 scripts (loadtest/k6/), through loadtest/k6/lib/mix.js, which
//   `npm run loadtest:k6-build` compiles from this file (a test fails when the
//   compiled copy is stale);
// - `npm run loadtest:api` (autocannon, loadtest/lib/api-load.ts).
//
// So this file must stay runnable by k6's JavaScript runtime: no imports, no
// Node or browser APIs, nothing but plain language features.
//
// A session is one researcher: it picks the next question by weight, remembers
// the cursor of its last search (to ask for the next page) and the posts it has
// seen (to open one), and checks each answer against the question: every result
// matches the filters, results come newest first, pages continue each other,
// exports have the promised columns, stats are consistent.

/** Every kind of question, with its share of the mix (percent) and its endpoint. */
export const QUERY_KINDS = {
  search_word: { weight: 18, endpoint: 'search', description: 'a common word, sometimes with a language, media or reply filter, over 1 to 24 hours' },
  search_phrase: { weight: 5, endpoint: 'search', description: 'a rare word or a two-word phrase, sometimes exact (case-sensitive, whole phrase)' },
  search_syntax: {
    weight: 8,
    endpoint: 'search',
    description: 'Bluesky\'s search syntax (q): words with lang:, a "phrase", -exclusions, #hashtags, from: with since:/until:, mentions:, domain:',
  },
  search_filters: { weight: 10, endpoint: 'search', description: 'no text: a language with media and reply filters' },
  search_hashtag: { weight: 10, endpoint: 'search', description: 'a popular hashtag, sometimes with a language' },
  author: { weight: 14, endpoint: 'search', description: "one author's posts over the day (by DID or handle)" },
  page: { weight: 12, endpoint: 'search', description: 'the next page of the previous search (its next_cursor)' },
  post: { weight: 4, endpoint: 'post', description: 'one post seen in earlier results' },
  stats_timeseries: { weight: 7, endpoint: 'stats', description: 'rows per table per hour or day' },
  stats_hashtags: { weight: 7, endpoint: 'stats', description: 'the most used hashtags of a window' },
  export: { weight: 5, endpoint: 'export', description: 'CSV, NDJSON or Parquet export of a hashtag, an author or (q) a word in a language, up to 5,000 rows' },
} as const;

export type QueryKind = keyof typeof QUERY_KINDS;
export type Endpoint = (typeof QUERY_KINDS)[QueryKind]['endpoint'];
export const KIND_NAMES = Object.keys(QUERY_KINDS) as QueryKind[];
export const ENDPOINTS: readonly Endpoint[] = ['search', 'export', 'stats', 'post'];

/**
 * A researcher reads the answer (a page of posts, a chart) before asking again:
 * a pause drawn uniformly from this range (seconds) after every answer, mean
 * 10 s, so 150 researchers ask about 15 questions a second. Each also starts
 * at a random moment of the first pause, so they do not all click at once.
 * Within the production quotas: about 6 requests and 0.3 exports a minute per
 * key (limits: 120 requests a minute, 10 exports per 10 minutes).
 */
export const THINK_TIME_SECONDS = { min: 5, max: 15 } as const;

export function thinkTimeSeconds(random: Random, range: { min: number; max: number } = THINK_TIME_SECONDS): number {
  return range.min + random() * (range.max - range.min);
}

/** Pass/fail limits, the same for k6 thresholds and the Node load generator. */
export const LIMITS = {
  /** Share of requests that may fail (status not 2xx, timeout, connection error). */
  errorRate: 0.01,
  /** p95 of search requests (every kind whose endpoint is search), ms. */
  searchP95Ms: 2_000,
  /** p95 of exports, ms. */
  exportP95Ms: 10_000,
  /** Share of content checks that must pass. */
  checkRate: 0.99,
} as const;

/** Words by language: common in real posts and in the replay generator's vocabulary. */
export const WORDS: Readonly<Record<string, readonly string[]>> = {
  en: ['coffee', 'today', 'people', 'love', 'morning', 'weekend', 'garden', 'music', 'think', 'finally', 'election', 'podcast', 'library', 'sunset', 'amazing', 'tonight'],
  ja: ['今日', '猫', 'ラーメン', '東京', '映画', '音楽', '写真', '天気'],
  pt: ['hoje', 'praia', 'futebol', 'trabalho', 'obrigado', 'saudade', 'gente', 'cidade'],
  de: ['heute', 'Kaffee', 'Wetter', 'Arbeit', 'Wochenende', 'Fahrrad', 'Musik', 'Katze'],
  es: ['hoy', 'playa', 'trabajo', 'gracias', 'fiesta', 'familia', 'libro', 'noche'],
  ko: ['오늘', '커피', '고양이', '음악', '영화', '친구', '사진', '주말'],
  fr: ['merci', 'travail', 'soleil', 'fromage', 'musée', 'voyage', 'famille', 'livre'],
  ru: ['сегодня', 'кофе', 'музыка', 'погода', 'работа', 'друг', 'книга', 'город'],
};

/** Rare words and phrases: few or no posts match, so the whole window is scanned (the worst case). */
export const RARE_TERMS: readonly string[] = [
  'snollygoster', 'quockerwodger', 'frabjous', 'xylograph', 'zebracorn',
  'lighthouse keeper', 'sourdough starter', 'morning coffee', 'rainstorm tonight', 'telescope garden',
];

export const LANGUAGES: readonly string[] = ['en', 'ja', 'pt', 'de', 'es', 'ko', 'fr', 'ru'];

/** Sites posts link to, for domain: (in real posts and in the replay generator's links). */
export const DOMAINS: readonly string[] = ['youtube.com', 'github.com', 'en.wikipedia.org', 'theguardian.com', 'bbc.co.uk', 'substack.com'];

/** Hashtags to use until the API's own list is known (discovery replaces them). */
export const DEFAULT_HASHTAGS: readonly string[] = ['art', 'bluesky', 'booksky', 'photography', 'music'];

export interface MixWindow {
  /** ISO 8601, inclusive. */
  start: string;
  /** ISO 8601, exclusive. */
  end: string;
}

/** What the mix draws from: the window and what discovery found in the data. */
export interface MixData {
  window: MixWindow;
  hashtags: string[];
  /** Authors as the API accepts them: DIDs, or handles when the API knows them. */
  authors: string[];
  /** The DID of each author named by a handle (to check mentions: answers). */
  authorDids: Record<string, string>;
  /** did/rkey of posts, for post lookups before a session has seen any. */
  posts: string[];
}

export interface MixRequest {
  kind: QueryKind;
  endpoint: Endpoint;
  /** Path and query string, to append to the base URL. */
  path: string;
  /** The filters asked for, to check the answer against. */
  expect: Expectation;
}

export interface Expectation {
  start: string;
  end: string;
  /** The q parameter asked (the search syntax); what it means is in the fields below. */
  q?: string;
  /** q's words: each one in the text, case-insensitively. */
  words?: string[];
  /** q's phrase: its words in order, whitespace between them, case-insensitively. */
  phrase?: string;
  /** q's exclusions: none in the text. */
  excluded?: string[];
  /** q's domain: a link to that host. */
  domain?: string;
  /** q's mentions: the DID mentioned. */
  mentions?: string;
  text?: string;
  exact?: boolean;
  lang?: string;
  hashtag?: string;
  author?: string;
  hasMedia?: boolean;
  isReply?: boolean;
  limit?: number;
  format?: 'csv' | 'ndjson' | 'parquet';
  /** post: the URI asked for. */
  uri?: string;
  /** page: newest indexed_at allowed (the last result of the previous page). */
  notAfter?: string;
  interval?: 'hour' | 'day';
}

export interface CheckResult {
  name: string;
  ok: boolean;
}

/** A random source returning [0, 1): Math.random in k6, a seeded one in Node. */
export type Random = () => number;

/** A small seeded generator (mulberry32), so a Node run can be repeated. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(random: Random, list: readonly T[]): T {
  return list[Math.floor(random() * list.length) % list.length]!;
}

function query(params: Record<string, string | number | boolean | undefined>): string {
  const parts: string[] = [];
  for (const key of Object.keys(params)) {
    const value = params[key];
    if (value !== undefined) parts.push(`${key}=${encodeURIComponent(String(value))}`);
  }
  return parts.join('&');
}

/** A window inside the data's: the whole of it (half the time), its last 6 hours, or its last hour. */
function subWindow(random: Random, window: MixWindow): MixWindow {
  const r = random();
  const endMs = Date.parse(window.end);
  const startMs = Date.parse(window.start);
  const hours = r < 0.5 ? 0 : r < 0.8 ? 6 : 1;
  if (hours === 0) return window;
  return { start: new Date(Math.max(startMs, endMs - hours * 3_600_000)).toISOString(), end: window.end };
}

/** The requests that find hashtags, authors and posts in the data (run once before the load). */
export function discoveryRequests(window: MixWindow): { name: 'hashtags' | 'authors'; path: string }[] {
  return [
    { name: 'hashtags', path: `/v1/stats/hashtags?${query({ start: window.start, end: window.end, limit: 30 })}` },
    { name: 'authors', path: `/v1/search?${query({ start: window.start, end: window.end, limit: 500 })}` },
    { name: 'authors', path: `/v1/search?${query({ start: window.start, end: window.end, text: 'the', limit: 500 })}` },
  ];
}

/** The mix data for a window, filled from the answers to discoveryRequests (bodies as text; failed ones as undefined). */
export function mixData(window: MixWindow, answers: { name: 'hashtags' | 'authors'; body: string | undefined }[]): MixData {
  const hashtags: string[] = [];
  const authorCount: Record<string, number> = {};
  const authorDids: Record<string, string> = {};
  const posts: string[] = [];
  for (const answer of answers) {
    if (!answer.body) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer.body);
    } catch {
      continue;
    }
    if (answer.name === 'hashtags') {
      for (const entry of (parsed as { hashtags?: { hashtag: string }[] }).hashtags ?? []) hashtags.push(entry.hashtag.replace(/^#/, ''));
    } else {
      for (const post of (parsed as { results?: PostLike[] }).results ?? []) {
        const author = post.username ?? post.author_did;
        authorCount[author] = (authorCount[author] ?? 0) + 1;
        authorDids[author] = post.author_did;
        const ref = postRef(post.uri);
        if (ref && posts.length < 200) posts.push(ref);
      }
    }
  }
  const authors = Object.keys(authorCount).sort((a, b) => authorCount[b]! - authorCount[a]!).slice(0, 100);
  return { window, hashtags: hashtags.length > 0 ? hashtags : DEFAULT_HASHTAGS.slice(), authors, authorDids, posts };
}

interface PostLike {
  uri: string;
  author_did: string;
  username?: string | null;
  text?: string | null;
  indexed_at: string;
  langs?: string[];
  hashtags?: string[];
  mentions?: string[];
  links?: string[];
  has_media?: boolean;
  is_reply?: boolean;
}

/** did/rkey of an at://did/app.bsky.feed.post/rkey URI. */
function postRef(uri: string): string | undefined {
  const match = /^at:\/\/([^/]+)\/app\.bsky\.feed\.post\/([^/]+)$/.exec(uri);
  return match ? `${match[1]}/${match[2]}` : undefined;
}

/** One researcher's sequence of questions. */
export class MixSession {
  private lastSearch: { path: string; expect: Expectation; cursor: string; lastIndexedAt: string } | undefined;
  private readonly seen: string[] = [];
  private readonly totalWeight: number;

  constructor(
    private readonly data: MixData,
    private readonly random: Random = Math.random,
  ) {
    this.totalWeight = KIND_NAMES.reduce((sum, kind) => sum + QUERY_KINDS[kind].weight, 0);
  }

  /** The next question, drawn by weight. */
  next(): MixRequest {
    let r = this.random() * this.totalWeight;
    for (const kind of KIND_NAMES) {
      r -= QUERY_KINDS[kind].weight;
      if (r < 0) return this.request(kind);
    }
    return this.request('search_word');
  }

  /**
   * A question of a given kind. A page needs a previous search with a next
   * cursor and a post lookup needs a known post: without one, it is a word search.
   */
  request(kind: QueryKind): MixRequest {
    const random = this.random;
    const data = this.data;
    const make = (k: QueryKind, path: string, expect: Expectation): MixRequest => ({ kind: k, endpoint: QUERY_KINDS[k].endpoint, path, expect });
    const search = (k: QueryKind, filters: Expectation) => {
      const limit = filters.limit ?? pick(random, [20, 50, 50, 100]);
      const path = `/v1/search?${query({
        text: filters.text,
        exact: filters.exact ? true : undefined,
        username: filters.author,
        lang: filters.lang,
        hashtag: filters.hashtag,
        has_media: filters.hasMedia,
        is_reply: filters.isReply,
        start: filters.start,
        end: filters.end,
        limit,
      })}`;
      return make(k, path, { ...filters, limit });
    };
    switch (kind) {
      case 'search_word': {
        const lang = pick(random, LANGUAGES);
        const w = subWindow(random, data.window);
        const r = random();
        return search(kind, {
          ...w,
          text: pick(random, WORDS[lang]!),
          lang: r < 0.4 ? lang : undefined,
          hasMedia: r >= 0.4 && r < 0.55 ? true : undefined,
          isReply: r >= 0.55 && r < 0.65 ? false : undefined,
        });
      }
      case 'search_phrase': {
        const term = pick(random, RARE_TERMS);
        return search(kind, { ...subWindow(random, data.window), text: term, exact: random() < 0.3 ? true : undefined });
      }
      case 'search_syntax': {
        // q carries every filter, since:/until: included: start and end are sent only when q has no window.
        const w = subWindow(random, data.window);
        const lang = pick(random, LANGUAGES);
        const r = random();
        const ask = (q: string, filters: Expectation, ownWindow = false) => {
          const limit = pick(random, [20, 50, 50, 100]);
          const path = `/v1/search?${query({ q, start: ownWindow ? undefined : filters.start, end: ownWindow ? undefined : filters.end, limit })}`;
          return make(kind, path, { ...filters, q, limit });
        };
        if (r < 0.3) {
          const [a, b] = [pick(random, WORDS[lang]!), pick(random, WORDS[lang]!)];
          return ask(`${a} ${b} lang:${lang}`, { ...w, words: [a, b], lang });
        }
        if (r < 0.42) {
          const phrase = pick(random, RARE_TERMS.filter((t) => t.indexOf(' ') > 0));
          return ask(`"${phrase}"`, { ...w, phrase });
        }
        if (r < 0.6) {
          const [a, b] = [pick(random, WORDS.en!), pick(random, WORDS.en!)];
          return ask(`${a} -${b}`, { ...w, words: [a], excluded: a === b ? [] : [b] });
        }
        if (r < 0.72) {
          const tag = pick(random, data.hashtags);
          return ask(`#${tag} -the`, { ...w, hashtag: tag, excluded: ['the'] });
        }
        if (r < 0.84 && data.authors.length > 0) {
          const author = pick(random, data.authors);
          return ask(`from:${author} since:${w.start} until:${w.end}`, { ...w, author }, true);
        }
        if (r < 0.92 && data.authors.length > 0) {
          const author = pick(random, data.authors);
          return ask(`mentions:${author}`, { ...w, mentions: data.authorDids[author] ?? author });
        }
        const domain = pick(random, DOMAINS);
        return ask(`domain:${domain}`, { ...w, domain });
      }
      case 'search_filters': {
        const r = random();
        return search(kind, {
          ...subWindow(random, data.window),
          lang: pick(random, LANGUAGES),
          hasMedia: r < 0.5 ? true : r < 0.7 ? false : undefined,
          isReply: r < 0.3 ? true : r > 0.8 ? false : undefined,
        });
      }
      case 'search_hashtag':
        return search(kind, { ...subWindow(random, data.window), hashtag: pick(random, data.hashtags), lang: random() < 0.3 ? pick(random, LANGUAGES) : undefined });
      case 'author':
        if (data.authors.length === 0) return this.request('search_word');
        return search(kind, { ...data.window, author: pick(random, data.authors) });
      case 'page': {
        const last = this.lastSearch;
        if (!last) return this.request('search_word');
        const path = `${last.path}&cursor=${encodeURIComponent(last.cursor)}`;
        return make('page', path, { ...last.expect, notAfter: last.lastIndexedAt });
      }
      case 'post': {
        const pool = this.seen.length > 0 ? this.seen : data.posts;
        if (pool.length === 0) return this.request('search_word');
        const ref = pick(random, pool);
        const [did, rkey] = ref.split('/') as [string, string];
        return make('post', `/v1/posts/${encodeURIComponent(did)}/${encodeURIComponent(rkey)}`, { ...data.window, uri: `at://${did}/app.bsky.feed.post/${rkey}` });
      }
      case 'stats_timeseries': {
        const interval = random() < 0.7 ? 'hour' : 'day';
        return make(kind, `/v1/stats/timeseries?${query({ start: data.window.start, end: data.window.end, interval })}`, { ...data.window, interval });
      }
      case 'stats_hashtags': {
        const w = subWindow(random, data.window);
        const limit = pick(random, [10, 20, 50]);
        return make(kind, `/v1/stats/hashtags?${query({ start: w.start, end: w.end, limit })}`, { ...w, limit });
      }
      case 'export': {
        const f = random();
        const format = f < 0.5 ? 'csv' : f < 0.8 ? 'ndjson' : 'parquet';
        const limit = pick(random, [1000, 2000, 5000]);
        const r = random();
        let filters: Expectation;
        if (r < 0.4) filters = { ...subWindow(random, data.window), hashtag: pick(random, data.hashtags) };
        else if (r < 0.7 && data.authors.length > 0) filters = { ...data.window, author: pick(random, data.authors) };
        else {
          const lang = pick(random, LANGUAGES);
          const word = pick(random, WORDS[lang]!);
          filters = { ...subWindow(random, data.window), q: `${word} lang:${lang}`, words: [word], lang };
        }
        const path = `/v1/export?${query({
          q: filters.q,
          username: filters.author,
          lang: filters.q === undefined ? filters.lang : undefined,
          hashtag: filters.hashtag,
          start: filters.start,
          end: filters.end,
          format,
          limit,
        })}`;
        return make(kind, path, { ...filters, format, limit });
      }
    }
  }

  /** Checks an answer, and remembers what later questions need (cursor, posts seen). */
  observe(request: MixRequest, status: number, body: string, headers: Record<string, string | string[] | undefined> = {}): CheckResult[] {
    const checks = checkAnswer(request, status, body, headers);
    if (status === 200 && request.endpoint === 'search') {
      const parsed = parseJson(body) as { results?: PostLike[]; meta?: { next_cursor?: string | null } } | undefined;
      const results = parsed?.results ?? [];
      for (const post of results.slice(0, 5)) {
        const ref = postRef(post.uri);
        if (ref) this.seen.push(ref);
      }
      if (this.seen.length > 50) this.seen.splice(0, this.seen.length - 50);
      const cursor = parsed?.meta?.next_cursor;
      const path = request.kind === 'page' ? request.path.replace(/&cursor=[^&]*$/, '') : request.path;
      this.lastSearch = cursor && results.length > 0 ? { path, expect: { ...request.expect, notAfter: undefined }, cursor, lastIndexedAt: results[results.length - 1]!.indexed_at } : undefined;
    }
    return checks;
  }
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/** The host of a link as domain: compares it: lowercased, without "www." or a port. */
function linkHost(link: string): string | undefined {
  const match = /^[a-z][a-z0-9+.-]*:\/\/(?:[^/?#@]*@)?(?:www\.)?([^/?#:]*)/.exec(link.toLowerCase());
  return match ? match[1] : undefined;
}

/** A phrase's words in order with whitespace between them (the API also wants whole words: a looser check). */
function hasPhrase(text: string, phrase: string): boolean {
  const words = phrase.split(/\s+/).map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(words.join('\\s+'), 'i').test(text);
}

function langMatches(langs: readonly string[] | undefined, lang: string): boolean {
  const wanted = lang.toLowerCase();
  return (langs ?? []).some((l) => l.toLowerCase() === wanted || l.toLowerCase().startsWith(`${wanted}-`));
}

/** Whether a post satisfies the filters of a question. */
export function postMatches(post: PostLike, expect: Expectation): boolean {
  const t = Date.parse(post.indexed_at);
  if (!(t >= Date.parse(expect.start) && t < Date.parse(expect.end))) return false;
  const text = post.text ?? '';
  if (expect.text !== undefined) {
    if (expect.exact ? !text.includes(expect.text) : !text.toLowerCase().includes(expect.text.toLowerCase())) return false;
  }
  for (const word of expect.words ?? []) if (!text.toLowerCase().includes(word.toLowerCase())) return false;
  for (const word of expect.excluded ?? []) if (text.toLowerCase().includes(word.toLowerCase())) return false;
  if (expect.phrase !== undefined && !hasPhrase(text, expect.phrase)) return false;
  if (expect.domain !== undefined && !(post.links ?? []).some((link) => linkHost(link) === expect.domain)) return false;
  if (expect.mentions !== undefined && (post.mentions ?? []).indexOf(expect.mentions) < 0) return false;
  if (expect.lang !== undefined && !langMatches(post.langs, expect.lang)) return false;
  if (expect.hashtag !== undefined && !(post.hashtags ?? []).some((h) => h.toLowerCase() === expect.hashtag!.toLowerCase())) return false;
  if (expect.author !== undefined) {
    const author = expect.author.replace(/^@/, '').toLowerCase();
    if (post.author_did.toLowerCase() !== author && (post.username ?? '').toLowerCase() !== author) return false;
  }
  if (expect.hasMedia !== undefined && post.has_media !== expect.hasMedia) return false;
  if (expect.isReply !== undefined && post.is_reply !== expect.isReply) return false;
  return true;
}

function newestFirst(posts: readonly PostLike[]): boolean {
  for (let i = 1; i < posts.length; i++) if (Date.parse(posts[i]!.indexed_at) > Date.parse(posts[i - 1]!.indexed_at)) return false;
  return true;
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string {
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() === name) {
      const value = headers[key];
      return Array.isArray(value) ? value.join(', ') : (value ?? '');
    }
  }
  return '';
}

/** The export's CSV header line (services/api/routes/export.ts EXPORT_COLUMNS). */
export const EXPORT_CSV_HEADER =
  'uri,author_did,username,timestamp,indexed_at,text,langs,hashtags,mentions,links,labels,is_reply,reply_root_uri,reply_parent_uri,quote_uri,embed_kind,has_media';

/**
 * Checks of one answer, named by endpoint so that k6 aggregates them the same
 * way for every request of a kind ("search: results match the filters").
 */
export function checkAnswer(request: MixRequest, status: number, body: string, headers: Record<string, string | string[] | undefined> = {}): CheckResult[] {
  const e = request.endpoint;
  const expect = request.expect;
  const checks: CheckResult[] = [{ name: `${e}: status 200`, ok: status === 200 }];
  if (status !== 200) return checks;
  if (e === 'export') {
    const lines = body.split(/\r?\n/).filter((line) => line.length > 0);
    checks.push({ name: 'export: is an attachment', ok: /attachment/.test(header(headers, 'content-disposition')) });
    if (expect.format === 'parquet') {
      // A Parquet file starts (and ends) with its magic bytes; its rows are checked by the API's own tests.
      checks.push({ name: 'export: a Parquet file', ok: body.slice(0, 4) === 'PAR1' && /parquet/.test(header(headers, 'content-type')) });
    } else if (expect.format === 'csv') {
      checks.push({ name: 'export: CSV header', ok: lines[0] === EXPORT_CSV_HEADER });
      // Rows may hold quoted newlines: count rows as lines that start a record (a URI).
      const rows = lines.filter((line) => line.startsWith('at://')).length;
      checks.push({ name: 'export: at most limit rows', ok: rows <= (expect.limit ?? Infinity) });
    } else {
      let ok = lines.length <= (expect.limit ?? Infinity);
      for (const line of lines) {
        const post = parseJson(line) as PostLike | undefined;
        if (!post || typeof post.uri !== 'string' || !postMatches(post, expect)) {
          ok = false;
          break;
        }
      }
      checks.push({ name: 'export: NDJSON rows match the filters', ok });
    }
    return checks;
  }
  const parsed = parseJson(body);
  checks.push({ name: `${e}: JSON body`, ok: parsed !== undefined && parsed !== null && typeof parsed === 'object' });
  if (!parsed || typeof parsed !== 'object') return checks;
  if (e === 'search') {
    const { results, meta } = parsed as { results?: PostLike[]; meta?: { count?: number; next_cursor?: string | null } };
    const list = Array.isArray(results) ? results : undefined;
    checks.push({ name: 'search: results and meta', ok: !!list && !!meta && meta.count === list.length && list.length <= (expect.limit ?? Infinity) });
    if (!list) return checks;
    checks.push({ name: 'search: results match the filters', ok: list.every((post) => postMatches(post, expect)) });
    checks.push({ name: 'search: newest first', ok: newestFirst(list) });
    if (request.kind === 'page' && expect.notAfter) {
      const limit = Date.parse(expect.notAfter);
      checks.push({ name: 'search: a page continues the previous one', ok: list.every((post) => Date.parse(post.indexed_at) <= limit) });
    }
  } else if (e === 'post') {
    checks.push({ name: 'post: the post asked for', ok: (parsed as PostLike).uri === expect.uri });
  } else if (request.kind === 'stats_timeseries') {
    const { series, totals } = parsed as { series?: { bucket: string; counts: Record<string, number> }[]; totals?: Record<string, number> };
    let ok = Array.isArray(series) && !!totals && typeof totals === 'object';
    if (ok) {
      const sums: Record<string, number> = {};
      for (const bucket of series!) for (const table of Object.keys(bucket.counts)) sums[table] = (sums[table] ?? 0) + bucket.counts[table]!;
      ok = Object.keys(totals!).every((table) => (sums[table] ?? 0) === totals![table]);
    }
    checks.push({ name: 'stats: series add up to the totals', ok });
  } else {
    const list = (parsed as { hashtags?: { hashtag: string; count: number }[] }).hashtags;
    let ok = Array.isArray(list) && list.length <= (expect.limit ?? Infinity);
    if (ok) for (let i = 1; i < list!.length; i++) if (list![i]!.count > list![i - 1]!.count) ok = false;
    checks.push({ name: 'stats: hashtags by count, most used first', ok });
  }
  return checks;
}
