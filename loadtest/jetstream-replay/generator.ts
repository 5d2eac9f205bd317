// Seeded generator of realistic Jetstream traffic. Event i is a pure function of
// (seed, i, its time_us, the time_us of the earlier events it points at): every
// decision is drawn from hash(seed, i, purpose) (see random.ts), so the timeline
// can forget old frames and rebuild them exactly, and two runs with one seed send
// the same events in the same order (only the stamped times differ).
//
// Shapes follow production Jetstream (../../../shared/fixtures/jetstream): the
// envelope's key order, records with their keys sorted (Go marshals the decoded
// CBOR map that way) except blobs (a Go struct: $type, ref, mimeType, size), and
// '&', '<', '>' escaped as \u0026... like Go's encoder. Sizes are calibrated on
// the fixture: likes ~530 bytes, posts ~830, follows ~400.

import { recordUri } from '../../services/shared/jetstream.ts';
import { blobCid, isoTime, plcDid, recordCid, tid } from './ids.ts';
import { Rng, Weighted, hash3, unit, zipfRank } from './random.ts';
import type { EventSource, FrameMeta, HistoryView, SourceFrame } from './source.ts';
import {
  EMOJI,
  HASHTAGS,
  JA_PARTICLES,
  LINK_SITES,
  MUSIC,
  NAME_STEMS,
  SELF_LABELS,
  VOCABULARY,
  type Language,
} from './vocabulary.ts';

export { EMOJI, HASHTAGS, LANGUAGES, VOCABULARY, type Language } from './vocabulary.ts';

export type MixName = 'plan' | 'network' | 'posts';
export type EventType = 'post' | 'like' | 'repost' | 'follow' | 'block' | 'profile' | 'other' | 'delete' | 'identity' | 'account';

/**
 * Shares of each event type, in percent.
 * plan: the product's planned day (2.3M posts, 2.1M likes, 3.7M follows = 89.5%,
 * the rest as listed in the brief). network: today's real firehose (~70% likes).
 */
export const MIXES: Readonly<Record<MixName, Readonly<Record<EventType, number>>>> = {
  plan: { post: 25.41, like: 23.2, follow: 40.89, repost: 5, delete: 3, block: 1, profile: 0.5, other: 0.5, identity: 0.3, account: 0.2 },
  network: { like: 70, post: 12, follow: 7, repost: 6, delete: 3, block: 0.5, profile: 0.3, other: 0.9, identity: 0.2, account: 0.1 },
  /** Posts only: for the query benchmark, which needs a day of posts and nothing else. */
  posts: { post: 100, like: 0, follow: 0, repost: 0, delete: 0, block: 0, profile: 0, other: 0, identity: 0, account: 0 },
};

/** Faults injected at `invalidRatio`, in equal shares. */
export const INVALID_TYPES = ['malformed_json', 'missing_did', 'bad_time_us', 'unknown_kind', 'commit_without_rkey', 'oversized'] as const;
export type InvalidType = (typeof INVALID_TYPES)[number];

/** Collections of the `other` bucket: low-volume records the pipeline stores without a table of their own. */
export const OTHER_COLLECTIONS = ['app.bsky.graph.list', 'app.bsky.graph.listitem', 'fm.teal.alpha.actor.status', 'app.bsky.actor.status'] as const;

export interface GeneratorOptions {
  seed?: number;
  mix?: MixName;
  /** Share of events replaced by an invalid frame, 0..1. */
  invalidRatio?: number;
  /** Size of the account pool (DIDs). */
  accounts?: number;
}

// Purposes: each independent decision about event i has its own hash stream.
const P = {
  invalid: 1,
  invalidType: 2,
  type: 3,
  author: 4,
  clock: 5,
  cid: 6,
  body: 7,
  target: 8,
  other: 9,
  reply: 10,
  did: 11,
  handle: 12,
} as const;

/** A PDS commits a little before Jetstream stamps the event (the fixture shows ~0.5 s). */
const REV_LAG_US = 450_000;
const SEQ_BASE = 31_527_000_000;
const HOUR_US = 3_600_000_000;
const DAY_US = 24 * HOUR_US;
/** Frames above this are refused by the ingester; oversized faults exceed it. */
const OVERSIZED_BYTES = 1_048_576 + 65_536;
/** How far back a reference scans for an event of the wanted type before inventing an older one. */
const MAX_SCAN = 64;

const POST = 'app.bsky.feed.post';
const LIKE = 'app.bsky.feed.like';
const REPOST = 'app.bsky.feed.repost';
const FOLLOW = 'app.bsky.graph.follow';
const BLOCK = 'app.bsky.graph.block';
const PROFILE = 'app.bsky.actor.profile';

const COLLECTION_OF: Partial<Record<EventType, string>> = { post: POST, like: LIKE, repost: REPOST, follow: FOLLOW, block: BLOCK, profile: PROFILE };

const LANGS = new Weighted<Language>([
  ['en', 45],
  ['ja', 18],
  ['pt', 10],
  ['de', 6],
  ['es', 6],
  ['ko', 5],
  ['fr', 5],
  ['ru', 5],
]);
const EMBEDS = new Weighted<'none' | 'images' | 'external' | 'record' | 'video' | 'recordWithMedia'>([
  ['none', 58],
  ['images', 20],
  ['external', 8],
  ['record', 8],
  ['video', 3],
  ['recordWithMedia', 3],
]);
const OTHER = new Weighted<(typeof OTHER_COLLECTIONS)[number]>([
  ['app.bsky.graph.list', 30],
  ['app.bsky.graph.listitem', 30],
  ['fm.teal.alpha.actor.status', 25],
  ['app.bsky.actor.status', 15],
]);
/** What an account event says when the account is not active. */
const ACCOUNT_STATUS = new Weighted<string>([
  ['deactivated', 60],
  ['takendown', 15],
  ['deleted', 20],
  ['suspended', 5],
]);
/** Collections of records deleted that were created before the replayed history began. */
const OLD_DELETES = new Weighted<string>([
  [LIKE, 45],
  [FOLLOW, 25],
  [POST, 20],
  [REPOST, 8],
  [BLOCK, 2],
]);
const ASPECT_RATIOS = [
  [4000, 3000],
  [3011, 4000],
  [1080, 1080],
  [1920, 1080],
  [889, 889],
  [1170, 2532],
] as const;

// Grapheme counts of every token, computed once: text length is bounded in graphemes (≤ 300).
const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
function graphemeCount(text: string): number {
  let n = 0;
  for (const _ of segmenter.segment(text)) n++;
  return n;
}
const GRAPHEMES = new Map<string, number>();
for (const words of Object.values(VOCABULARY)) for (const word of words) GRAPHEMES.set(word, graphemeCount(word));
for (const token of [...EMOJI, ...JA_PARTICLES, ...HASHTAGS.map((tag) => `#${tag}`)]) GRAPHEMES.set(token, graphemeCount(token));
/** Printable ASCII (handles, links): one grapheme per character, no segmenter needed. */
const ASCII = /^[\x20-\x7e]*$/;
const graphemesOf = (token: string): number => GRAPHEMES.get(token) ?? (ASCII.test(token) ? token.length : graphemeCount(token));
/** ASCII-only English words: safe in URLs and handles. */
const URL_WORDS = VOCABULARY.en.filter((w) => /^[a-z]{4,}$/.test(w));

/** com.atproto.repo.strongRef. */
interface RecordRef {
  cid: string;
  uri: string;
}

interface Facet {
  features: Record<string, unknown>[];
  index: { byteEnd: number; byteStart: number };
}

/** Text assembled piece by piece, tracking UTF-8 byte offsets for facets and graphemes for the 300 limit. */
class RichText {
  text = '';
  bytes = 0;
  graphemes = 0;
  readonly facets: Facet[] = [];

  append(piece: string, graphemes: number): void {
    this.text += piece;
    this.bytes += Buffer.byteLength(piece, 'utf8');
    this.graphemes += graphemes;
  }

  facet(piece: string, feature: Record<string, unknown>): void {
    const byteStart = this.bytes;
    this.append(piece, graphemesOf(piece));
    this.facets.push({ features: [feature], index: { byteEnd: this.bytes, byteStart } });
  }
}

/** JSON as Go's encoder writes it: HTML-significant characters and U+2028/9 escaped. */
export function goJson(value: unknown): string {
  const json = JSON.stringify(value);
  return /[<>&\u2028\u2029]/.test(json) ? json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : json;
}

function blob(rng: Rng, mimeType: string, minSize: number, maxSize: number): Record<string, unknown> {
  return { $type: 'blob', ref: { $link: blobCid(rng) }, mimeType, size: rng.range(minSize, maxSize) };
}

function aspectRatio(rng: Rng): { height: number; width: number } {
  const [width, height] = rng.pick(ASPECT_RATIOS);
  return { height, width };
}

let oversizedFiller: string | undefined;
/** ~1.1 MiB of vocabulary, built once. */
function filler(): string {
  if (!oversizedFiller) {
    const block = Object.values(VOCABULARY).flat().join(' ');
    oversizedFiller = block.repeat(Math.ceil(OVERSIZED_BYTES / Buffer.byteLength(block)) + 1);
  }
  return oversizedFiller;
}

export class EventGenerator implements EventSource {
  readonly name: string;
  readonly length = Infinity;
  readonly seed: number;
  readonly mix: MixName;
  readonly invalidRatio: number;
  readonly accounts: number;
  private readonly types: Weighted<EventType>;
  private readonly dids = new Map<number, string>();

  constructor(options: GeneratorOptions = {}) {
    this.seed = (options.seed ?? 1) >>> 0;
    this.mix = options.mix ?? 'plan';
    this.invalidRatio = options.invalidRatio ?? 0;
    this.accounts = options.accounts ?? 50_000;
    if (!(this.invalidRatio >= 0 && this.invalidRatio <= 1)) throw new RangeError(`invalidRatio must be within 0..1, got ${this.invalidRatio}`);
    if (!Number.isInteger(this.accounts) || this.accounts < 2) throw new RangeError(`accounts must be an integer >= 2, got ${this.accounts}`);
    const mix = MIXES[this.mix];
    if (!mix) throw new RangeError(`unknown mix ${JSON.stringify(options.mix)}`);
    this.types = new Weighted(Object.entries(mix) as [EventType, number][]);
    this.name = `generator(seed=${this.seed}, mix=${this.mix}${this.invalidRatio > 0 ? `, invalid=${this.invalidRatio}` : ''})`;
  }

  // ---- Facts about any event index, each from its own hash: cheap to recompute ----

  /** The fault injected at index i, if any. */
  invalidTypeOf(index: number): InvalidType | undefined {
    if (this.invalidRatio <= 0 || unit(this.seed, index, P.invalid) >= this.invalidRatio) return undefined;
    return INVALID_TYPES[hash3(this.seed, index, P.invalidType) % INVALID_TYPES.length]!;
  }

  /** The type event i has (invalid events keep a type, but it is not what is sent). */
  typeOf(index: number): EventType {
    return this.types.at(unit(this.seed, index, P.type));
  }

  private isValidType(index: number, type: EventType): boolean {
    return this.typeOf(index) === type && this.invalidTypeOf(index) === undefined;
  }

  private otherOf(index: number): (typeof OTHER_COLLECTIONS)[number] {
    return OTHER.at(unit(this.seed, index, P.other));
  }

  /** Whether event i created a record with a TID key that a later delete may remove. */
  private isDeletable(index: number): boolean {
    if (this.invalidTypeOf(index) !== undefined) return false;
    const type = this.typeOf(index);
    if (type === 'other') {
      const collection = this.otherOf(index);
      return collection === 'app.bsky.graph.list' || collection === 'app.bsky.graph.listitem';
    }
    return type === 'post' || type === 'like' || type === 'repost' || type === 'follow' || type === 'block';
  }

  private collectionOf(index: number): string {
    const type = this.typeOf(index);
    return type === 'other' ? this.otherOf(index) : COLLECTION_OF[type]!;
  }

  /** Account number of event i's author: Zipf-like, a few accounts are very busy. */
  private authorOf(index: number): number {
    return zipfRank(unit(this.seed, index, P.author), this.accounts);
  }

  didOfAccount(account: number): string {
    let did = this.dids.get(account);
    if (did === undefined) {
      did = plcDid(Rng.for(this.seed, account, P.did));
      this.dids.set(account, did);
    }
    return did;
  }

  handleOfAccount(account: number): string {
    const h = hash3(this.seed, account, P.handle);
    const stem = NAME_STEMS[h % NAME_STEMS.length]!;
    return (h >>> 8) % 100 < 85 ? `${stem}${account.toString(36)}.bsky.social` : `${stem}-${account.toString(36)}.com`;
  }

  /** When the client wrote event i's record: shortly before the commit, sometimes long before. */
  private clientTimeOf(index: number, timeUs: number): number {
    const h = hash3(this.seed, index, P.clock);
    // 90% within 3 s of the commit; the rest were written offline up to ~10 minutes earlier.
    return timeUs - REV_LAG_US - (h % 100 < 90 ? (h >>> 7) % 3_000_000 : (h >>> 7) % 600_000_000);
  }

  /** rkey of the record event i created: a TID from the client's clock. */
  private rkeyOf(index: number, timeUs: number): string {
    return tid(this.clientTimeOf(index, timeUs), hash3(this.seed, index, P.clock) & 1023);
  }

  private revOf(index: number, timeUs: number): string {
    return tid(timeUs - REV_LAG_US, hash3(this.seed, index, P.clock) & 1023);
  }

  private cidOf(index: number): string {
    return recordCid(Rng.for(this.seed, index, P.cid));
  }

  private refOf(index: number, history: HistoryView): RecordRef {
    const did = this.didOfAccount(this.authorOf(index));
    // Keys sorted, as Jetstream prints a strongRef: cid before uri.
    return { cid: this.cidOf(index), uri: recordUri(did, this.collectionOf(index), this.rkeyOf(index, history.timeOf(index))) };
  }

  /**
   * An earlier event matching `wanted`, preferring recent ones (log-uniform
   * distance), or undefined when none is found near the chosen point.
   */
  private findEarlier(index: number, rng: Rng, wanted: (j: number) => boolean): number | undefined {
    if (index <= 0) return undefined;
    const distance = Math.max(1, Math.floor(Math.exp(rng.float() * Math.log(index + 1))));
    for (let j = index - Math.min(distance, index), k = 0; j >= 0 && k < MAX_SCAN; j--, k++) if (wanted(j)) return j;
    return undefined;
  }

  /** A record created before the replayed history began. */
  private oldRef(rng: Rng, timeUs: number, collection: string, maxAgeUs = 30 * DAY_US): RecordRef {
    const did = this.didOfAccount(zipfRank(rng.float(), this.accounts));
    const rkey = tid(timeUs - rng.range(HOUR_US, maxAgeUs), rng.int(1024));
    return { cid: recordCid(rng), uri: recordUri(did, collection, rkey) };
  }

  /** A post to like, repost, quote or reply to: earlier in this history (60%) or older. */
  private postTarget(index: number, timeUs: number, rng: Rng, history: HistoryView): RecordRef {
    if (rng.chance(0.6)) {
      const j = this.findEarlier(index, rng, (k) => this.isValidType(k, 'post'));
      if (j !== undefined) return this.refOf(j, history);
    }
    return this.oldRef(rng, timeUs, POST);
  }

  /** reply {root, parent} of post i, or undefined; the root is the parent's root, recursively. */
  private replyOf(index: number, timeUs: number, history: HistoryView, depth = 0): { parent: RecordRef; root: RecordRef } | undefined {
    const rng = Rng.for(this.seed, index, P.reply);
    if (!rng.chance(0.3)) return undefined;
    // The depth cap only guards the stack: a thread 200 in-history replies deep has odds of ~0.2^200.
    const j = depth < 200 && rng.chance(0.65) ? this.findEarlier(index, rng, (k) => this.isValidType(k, 'post')) : undefined;
    if (j === undefined) {
      const parent = this.oldRef(rng, timeUs, POST, 2 * DAY_US);
      return { parent, root: rng.chance(0.5) ? parent : this.oldRef(rng, timeUs - 2 * DAY_US, POST, 5 * DAY_US) };
    }
    const parent = this.refOf(j, history);
    const root = this.replyOf(j, history.timeOf(j), history, depth + 1)?.root ?? parent;
    return { parent, root };
  }

  // ---- Frames ----

  frame(index: number, timeUs: number, history: HistoryView): SourceFrame {
    const fault = this.invalidTypeOf(index);
    if (fault) return this.invalidFrame(index, timeUs, history, fault);
    const type = this.typeOf(index);
    switch (type) {
      case 'identity':
        return this.identity(index, timeUs);
      case 'account':
        return this.account(index, timeUs);
      case 'delete':
        return this.delete(index, timeUs, history);
      default:
        return this.create(index, timeUs, history, type);
    }
  }

  private identity(index: number, timeUs: number): SourceFrame {
    const rng = Rng.for(this.seed, index, P.body);
    const account = this.authorOf(index);
    const did = this.didOfAccount(account);
    const time = isoTime(timeUs - rng.range(100_000, 900_000));
    const identity = rng.chance(0.85) ? { did, handle: this.handleOfAccount(account), seq: SEQ_BASE + index, time } : { did, seq: SEQ_BASE + index, time };
    return { text: goJson({ did, time_us: timeUs, kind: 'identity', identity }), meta: { valid: true, kind: 'identity', did } };
  }

  private account(index: number, timeUs: number): SourceFrame {
    const rng = Rng.for(this.seed, index, P.body);
    const did = this.didOfAccount(this.authorOf(index));
    const time = isoTime(timeUs - rng.range(100_000, 900_000));
    const seq = SEQ_BASE + index;
    // Field order of the Go struct (indigo SyncSubscribeRepos_Account): active, did, seq, status, time.
    const account = rng.chance(0.7) ? { active: true, did, seq, time } : { active: false, did, seq, status: ACCOUNT_STATUS.sample(rng), time };
    return { text: goJson({ did, time_us: timeUs, kind: 'account', account }), meta: { valid: true, kind: 'account', did } };
  }

  private delete(index: number, timeUs: number, history: HistoryView): SourceFrame {
    const rng = Rng.for(this.seed, index, P.target);
    let did: string;
    let collection: string;
    let rkey: string;
    const j = rng.chance(0.75) ? this.findEarlier(index, rng, (k) => this.isDeletable(k)) : undefined;
    if (j !== undefined) {
      did = this.didOfAccount(this.authorOf(j));
      collection = this.collectionOf(j);
      rkey = this.rkeyOf(j, history.timeOf(j));
    } else {
      did = this.didOfAccount(this.authorOf(index));
      collection = OLD_DELETES.sample(rng);
      rkey = tid(timeUs - rng.range(DAY_US, 400 * DAY_US), rng.int(1024));
    }
    const commit = { rev: this.revOf(index, timeUs), operation: 'delete', collection, rkey };
    return {
      text: goJson({ did, time_us: timeUs, kind: 'commit', commit }),
      meta: { valid: true, kind: 'commit', did, collection, operation: 'delete' },
    };
  }

  private create(index: number, timeUs: number, history: HistoryView, type: EventType): SourceFrame {
    const account = this.authorOf(index);
    const did = this.didOfAccount(account);
    const collection = this.collectionOf(index);
    const rng = Rng.for(this.seed, index, P.body);
    let operation = 'create';
    let rkey: string | undefined;
    const clientTime = this.clientTimeOf(index, timeUs);
    let record: Record<string, unknown>;
    switch (type) {
      case 'post':
        record = this.post(index, timeUs, rng, history, clientTime);
        break;
      case 'like':
      case 'repost':
        record = this.likeOrRepost(index, timeUs, rng, history, collection, clientTime);
        break;
      case 'follow':
      case 'block':
        record = { $type: collection, createdAt: this.createdAt(rng, clientTime), subject: this.otherAccountDid(rng, account) };
        break;
      case 'profile':
        operation = rng.chance(0.85) ? 'update' : 'create';
        rkey = 'self';
        record = this.profile(rng, timeUs);
        break;
      default: {
        const other = this.other(index, timeUs, rng, collection, account);
        record = other.record;
        operation = other.operation;
        rkey = other.rkey;
      }
    }
    const commit = {
      rev: this.revOf(index, timeUs),
      operation,
      collection,
      rkey: rkey ?? this.rkeyOf(index, timeUs),
      record,
      cid: this.cidOf(index),
    };
    return { text: goJson({ did, time_us: timeUs, kind: 'commit', commit }), meta: { valid: true, kind: 'commit', did, collection, operation } };
  }

  /** createdAt is the client's clock: near the record key's time, occasionally malformed or in the future. */
  private createdAt(rng: Rng, clientTimeUs: number): string {
    const r = rng.float();
    if (r < 0.002) return isoTime(clientTimeUs + rng.range(1, 400) * DAY_US); // a client clock in the future
    if (r < 0.003) return isoTime(clientTimeUs).replace(/\.\d{3}Z$/, '+00:00'); // valid, another format
    if (r < 0.004) return isoTime(clientTimeUs).replace('T', ' ').replace('Z', ''); // malformed: no 'T', no zone
    return isoTime(clientTimeUs + rng.range(-200_000, 1_500_000));
  }

  private otherAccountDid(rng: Rng, self: number): string {
    const account = zipfRank(rng.float(), this.accounts);
    return this.didOfAccount(account === self ? (account + 1) % this.accounts : account);
  }

  private likeOrRepost(index: number, timeUs: number, rng: Rng, history: HistoryView, collection: string, clientTime: number): Record<string, unknown> {
    const subject = this.postTarget(index, timeUs, rng, history);
    const record: Record<string, unknown> = { $type: collection, createdAt: this.createdAt(rng, clientTime), subject };
    // `via`: liked or reposted through someone's repost (the fixture has ~20%).
    if (rng.chance(0.18)) {
      const j = this.findEarlier(index, rng, (k) => this.isValidType(k, 'repost'));
      record.via = j !== undefined ? this.refOf(j, history) : this.oldRef(rng, timeUs, REPOST, 2 * DAY_US);
    }
    return record;
  }

  private profile(rng: Rng, timeUs: number): Record<string, unknown> {
    const lang = LANGS.sample(rng);
    const record: Record<string, unknown> = { $type: PROFILE, avatar: blob(rng, 'image/jpeg', 20_000, 900_000) };
    if (rng.chance(0.6)) record.banner = blob(rng, 'image/jpeg', 50_000, 1_500_000);
    if (rng.chance(0.3)) record.createdAt = isoTime(timeUs - rng.range(0, 400 * DAY_US));
    record.description = this.words(rng, lang, rng.range(4, 24));
    const stem = rng.pick(NAME_STEMS);
    record.displayName = `${stem[0]!.toUpperCase()}${stem.slice(1)}${rng.chance(0.3) ? ` ${rng.pick(EMOJI)}` : ''}`;
    return record;
  }

  private other(index: number, timeUs: number, rng: Rng, collection: string, account: number): { record: Record<string, unknown>; operation: string; rkey?: string } {
    const clientTime = this.clientTimeOf(index, timeUs);
    switch (collection) {
      case 'app.bsky.graph.list':
        return {
          operation: 'create',
          record: {
            $type: collection,
            createdAt: this.createdAt(rng, clientTime),
            description: this.words(rng, 'en', rng.range(3, 15)),
            name: this.words(rng, LANGS.sample(rng), rng.range(1, 4)),
            purpose: rng.chance(0.8) ? 'app.bsky.graph.defs#curatelist' : 'app.bsky.graph.defs#modlist',
          },
        };
      case 'app.bsky.graph.listitem':
        return {
          operation: 'create',
          record: {
            $type: collection,
            createdAt: this.createdAt(rng, clientTime),
            list: recordUri(this.didOfAccount(account), 'app.bsky.graph.list', tid(timeUs - rng.range(HOUR_US, 90 * DAY_US), rng.int(1024))),
            subject: this.otherAccountDid(rng, account),
          },
        };
      case 'fm.teal.alpha.actor.status': {
        const played = timeUs - rng.range(60_000_000, 8 * HOUR_US);
        const track = rng.int(MUSIC.tracks.length);
        return {
          operation: 'update',
          rkey: 'self',
          record: {
            $type: collection,
            expiry: isoTime(timeUs + 600_000_000),
            item: {
              artists: [{ artistName: MUSIC.artists[track]! }],
              duration: null,
              playedTime: isoTime(played),
              releaseName: MUSIC.tracks[track]!,
              submissionClientAgent: 'multi-scrobbler/0.14.1',
              trackName: MUSIC.tracks[track]!,
            },
            time: isoTime(timeUs - REV_LAG_US),
          },
        };
      }
      default:
        return {
          operation: 'update',
          rkey: 'self',
          record: { $type: collection, createdAt: this.createdAt(rng, clientTime), durationMinutes: rng.pick([30, 60, 120, 240]), status: 'app.bsky.actor.status#live' },
        };
    }
  }

  /** `count` vocabulary words of one language, for descriptions and alt text. */
  private words(rng: Rng, lang: Language, count: number): string {
    const list = VOCABULARY[lang];
    const out: string[] = [];
    for (let i = 0; i < count; i++) out.push(rng.pick(list));
    return out.join(lang === 'ja' ? '' : ' ');
  }

  private langs(rng: Rng): Language[] {
    if (rng.chance(0.04)) return [];
    const langs = [LANGS.sample(rng)];
    if (rng.chance(0.07)) {
      for (const extra of [LANGS.sample(rng), rng.chance(0.2) ? LANGS.sample(rng) : undefined]) {
        if (extra && !langs.includes(extra)) langs.push(extra);
      }
    }
    return langs;
  }

  private post(index: number, timeUs: number, rng: Rng, history: HistoryView, clientTime: number): Record<string, unknown> {
    const langs = this.langs(rng);
    const lang = langs[0] ?? LANGS.sample(rng);
    const embedKind = EMBEDS.sample(rng);
    const reply = this.replyOf(index, timeUs, history);

    // Link: shown shortened in the text (as the Bluesky app does), full URI in the facet.
    let link: { uri: string; display: string; title: string; description: string } | undefined;
    if (embedKind === 'external' ? rng.chance(0.6) : rng.chance(0.07)) link = this.link(rng);
    const external = embedKind === 'external' ? (link ?? this.link(rng)) : undefined;

    let embed: Record<string, unknown> | undefined;
    switch (embedKind) {
      case 'images':
        embed = this.images(rng, lang);
        break;
      case 'video':
        embed = this.video(rng, lang);
        break;
      case 'external': {
        const card: Record<string, unknown> = { description: external!.description };
        if (rng.chance(0.7)) card.thumb = blob(rng, 'image/jpeg', 20_000, 400_000);
        card.title = external!.title;
        card.uri = external!.uri;
        embed = { $type: 'app.bsky.embed.external', external: card };
        break;
      }
      case 'record':
        embed = { $type: 'app.bsky.embed.record', record: this.postTarget(index, timeUs, rng, history) };
        break;
      case 'recordWithMedia':
        embed = {
          $type: 'app.bsky.embed.recordWithMedia',
          media: rng.chance(0.8) ? this.images(rng, lang) : this.video(rng, lang),
          record: { $type: 'app.bsky.embed.record', record: this.postTarget(index, timeUs, rng, history) },
        };
        break;
      default:
        embed = undefined;
    }

    const text = new RichText();
    // Some posts are only an embed: empty text, no facets.
    if (!(embed && rng.chance(0.08))) this.compose(rng, lang, text, link);

    // Keys in sorted order, as Jetstream prints records.
    const record: Record<string, unknown> = { $type: POST, createdAt: this.createdAt(rng, clientTime) };
    if (embed) record.embed = embed;
    if (text.facets.length > 0) record.facets = text.facets;
    if (rng.chance(0.01)) record.labels = { $type: 'com.atproto.label.defs#selfLabels', values: [{ val: rng.pick(SELF_LABELS) }] };
    if (langs.length > 0) record.langs = langs;
    if (reply) record.reply = { parent: reply.parent, root: reply.root };
    record.text = text.text;
    return record;
  }

  private link(rng: Rng): { uri: string; display: string; title: string; description: string } {
    const site = rng.pick(LINK_SITES);
    const id = rng.chars32('ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_', 11);
    const word = rng.pick(URL_WORDS);
    const uri = `https://${site.host}${site.path(id, word)}`;
    const bare = uri.slice('https://'.length);
    const display = bare.length > 30 ? `${bare.slice(0, 27)}...` : bare;
    const title = this.words(rng, 'en', rng.range(3, 9));
    const description = rng.chance(0.2) ? '' : this.words(rng, 'en', rng.range(6, 24));
    return { uri, display, title: `${title[0]!.toUpperCase()}${title.slice(1)}`, description };
  }

  private images(rng: Rng, lang: Language): Record<string, unknown> {
    const r = rng.float();
    const count = r < 0.7 ? 1 : r < 0.85 ? 2 : r < 0.92 ? 3 : 4;
    const images: Record<string, unknown>[] = [];
    for (let i = 0; i < count; i++) {
      const mime = rng.chance(0.85) ? 'image/jpeg' : rng.chance(0.5) ? 'image/png' : 'image/webp';
      images.push({
        alt: rng.chance(0.55) ? '' : this.words(rng, lang, rng.range(3, 14)),
        aspectRatio: aspectRatio(rng),
        image: blob(rng, mime, 40_000, 2_000_000),
      });
    }
    return { $type: 'app.bsky.embed.images', images };
  }

  private video(rng: Rng, lang: Language): Record<string, unknown> {
    const embed: Record<string, unknown> = { $type: 'app.bsky.embed.video' };
    if (rng.chance(0.3)) embed.alt = this.words(rng, lang, rng.range(3, 12));
    embed.aspectRatio = aspectRatio(rng);
    embed.video = blob(rng, 'video/mp4', 500_000, 60_000_000);
    return embed;
  }

  /**
   * Post text of at most 300 graphemes: optional leading mentions, vocabulary
   * words with some emoji and punctuation, an optional link, trailing hashtags.
   */
  private compose(rng: Rng, lang: Language, text: RichText, link: { uri: string; display: string } | undefined): void {
    const r = rng.float();
    // Length class: mostly short posts, a tail of long ones up to the 300 limit.
    const target = r < 0.5 ? rng.range(12, 80) : r < 0.85 ? rng.range(80, 200) : rng.range(200, 300);

    const mentions: { account: number; label: string }[] = [];
    if (rng.chance(0.08)) {
      for (let n = rng.range(1, 2); n > 0; n--) {
        const account = zipfRank(rng.float(), this.accounts);
        mentions.push({ account, label: `@${this.handleOfAccount(account)}` });
      }
    }
    const tags: string[] = [];
    if (rng.chance(0.18)) {
      for (let n = rng.range(1, 3); n > 0; n--) {
        const tag = rng.pick(HASHTAGS);
        if (!tags.includes(tag)) tags.push(tag);
      }
    }

    // Reserve room for the facets (each with a separating space) before filling with words.
    const cost = (piece: string) => graphemesOf(piece) + 1;
    let reserved = mentions.reduce((sum, m) => sum + cost(m.label), 0) + (link ? cost(link.display) : 0);
    while (tags.length > 0 && reserved + tags.reduce((sum, t) => sum + cost(`#${t}`), 0) > target) tags.pop();
    reserved += tags.reduce((sum, t) => sum + cost(`#${t}`), 0);
    const budget = Math.max(0, target - reserved);

    for (const mention of mentions) {
      text.facet(mention.label, { $type: 'app.bsky.richtext.facet#mention', did: this.didOfAccount(mention.account) });
      text.append(' ', 1);
    }
    this.fillWords(rng, lang, text, text.graphemes + budget);
    if (link) {
      if (text.text.length > 0 && !text.text.endsWith(' ')) text.append(rng.chance(0.5) ? ' ' : '\n', 1);
      text.facet(link.display, { $type: 'app.bsky.richtext.facet#link', uri: link.uri });
    }
    if (tags.length > 0) {
      if (text.text.length > 0 && !text.text.endsWith(' ')) text.append(rng.chance(0.6) ? ' ' : '\n', 1);
      tags.forEach((tag, i) => {
        if (i > 0) text.append(' ', 1);
        text.facet(`#${tag}`, { $type: 'app.bsky.richtext.facet#tag', tag });
      });
    }
    // Never end on the separator left after mentions.
    if (text.text.endsWith(' ')) {
      text.text = text.text.slice(0, -1);
      text.bytes -= 1;
      text.graphemes -= 1;
    }
  }

  private fillWords(rng: Rng, lang: Language, text: RichText, limit: number): void {
    const list = VOCABULARY[lang];
    const spaced = lang !== 'ja';
    let sentence = 0;
    let sentenceTarget = rng.range(4, 12);
    let first = true;
    for (;;) {
      const token = rng.chance(0.06) ? rng.pick(EMOJI) : rng.pick(list);
      const separator = first || !spaced ? '' : ' ';
      const cost = graphemesOf(token) + separator.length;
      if (text.graphemes + cost > limit) break;
      text.append(separator + token, cost);
      first = false;
      if (!spaced && rng.chance(0.5) && text.graphemes + 1 <= limit) text.append(rng.pick(JA_PARTICLES), 1);
      if (++sentence >= sentenceTarget && text.graphemes + 1 <= limit) {
        text.append(spaced ? rng.pick(['.', '!', '?', '.']) : rng.pick(['。', '！', '。']), 1);
        sentence = 0;
        sentenceTarget = rng.range(4, 12);
        if (rng.chance(0.15) && text.graphemes + 2 <= limit) {
          text.append('\n\n', 2);
          first = true;
        }
      }
    }
  }

  private invalidFrame(index: number, timeUs: number, history: HistoryView, fault: InvalidType): SourceFrame {
    const rng = Rng.for(this.seed, index, P.body);
    const did = this.didOfAccount(this.authorOf(index));
    const rkey = this.rkeyOf(index, timeUs);
    const like = {
      rev: this.revOf(index, timeUs),
      operation: 'create',
      collection: LIKE,
      rkey,
      record: { $type: LIKE, createdAt: this.createdAt(rng, timeUs - REV_LAG_US), subject: this.postTarget(index, timeUs, rng, history) },
      cid: this.cidOf(index),
    };
    const meta: FrameMeta = { valid: false, invalidType: fault };
    let text: string;
    switch (fault) {
      case 'malformed_json': {
        // A frame cut short, as a broken proxy would deliver it.
        const whole = goJson({ did, time_us: timeUs, kind: 'commit', commit: like });
        text = whole.slice(0, Math.floor(whole.length * (0.3 + 0.6 * rng.float())));
        break;
      }
      case 'missing_did':
        text = goJson({ time_us: timeUs, kind: 'commit', commit: like });
        Object.assign(meta, { kind: 'commit', collection: LIKE });
        break;
      case 'bad_time_us': {
        const bad = [String(timeUs), -timeUs, timeUs + 0.5][rng.int(3)];
        text = goJson({ did, time_us: bad, kind: 'commit', commit: like });
        Object.assign(meta, { kind: 'commit', did, collection: LIKE });
        break;
      }
      case 'unknown_kind':
        text = goJson({ did, time_us: timeUs, kind: 'sync', sync: { did, rev: like.rev, seq: SEQ_BASE + index, time: isoTime(timeUs - REV_LAG_US) } });
        Object.assign(meta, { kind: 'sync', did });
        break;
      case 'commit_without_rkey': {
        const { rkey: _rkey, ...commit } = like;
        text = goJson({ did, time_us: timeUs, kind: 'commit', commit });
        Object.assign(meta, { kind: 'commit', did, collection: LIKE });
        break;
      }
      case 'oversized': {
        // A well-formed post whose text alone exceeds the 1 MiB frame limit.
        const start = rng.int(1000);
        const record = { $type: POST, createdAt: isoTime(timeUs - REV_LAG_US), langs: ['en'], text: filler().slice(start, start + OVERSIZED_BYTES) };
        const commit = { rev: like.rev, operation: 'create', collection: POST, rkey, record, cid: like.cid };
        text = goJson({ did, time_us: timeUs, kind: 'commit', commit });
        Object.assign(meta, { kind: 'commit', did, collection: POST, operation: 'create' });
        break;
      }
    }
    return { text, meta };
  }
}

/**
 * `count` frames with synthetic times (start + i * step µs), without a server:
 * for tests, benchmarks and fixtures.
 */
export function generateFrames(options: GeneratorOptions, count: number, startUs = 1_783_175_888_000_000, stepUs = 2_000): SourceFrame[] {
  const generator = new EventGenerator(options);
  const history: HistoryView = { timeOf: (j) => startUs + j * stepUs };
  const frames: SourceFrame[] = [];
  for (let i = 0; i < count; i++) frames.push(generator.frame(i, history.timeOf(i), history));
  return frames;
}
