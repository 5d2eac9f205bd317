// The replay generator: deterministic, valid, realistic. Every check runs on
// frames generated without a server (generateFrames stamps synthetic times).

import { describe, expect, it } from 'vitest';
import { eventKey, parseJetstreamEvent, validateJetstreamEvent, type JetstreamEvent } from '../services/shared/jetstream.ts';
import {
  EventGenerator,
  generateFrames,
  HASHTAGS,
  INVALID_TYPES,
  MIXES,
  VOCABULARY,
  type EventType,
  type MixName,
} from '../loadtest/jetstream-replay/generator.ts';
import { tidTime } from '../loadtest/jetstream-replay/ids.ts';

const MAX_EVENT_BYTES = 1_048_576;
const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
const graphemes = (text: string) => [...segmenter.segment(text)].length;

function parse(text: string): JetstreamEvent {
  const result = validateJetstreamEvent(JSON.parse(text));
  if (!result.ok) throw new Error(`invalid generated event (${result.reason}: ${result.detail}): ${text.slice(0, 300)}`);
  return result.event;
}

/** The generator's type of a valid event, read back from the event itself. */
function typeOf(event: JetstreamEvent): EventType {
  if (event.kind !== 'commit') return event.kind;
  if (event.commit.operation === 'delete') return 'delete';
  const byCollection: Record<string, EventType> = {
    'app.bsky.feed.post': 'post',
    'app.bsky.feed.like': 'like',
    'app.bsky.feed.repost': 'repost',
    'app.bsky.graph.follow': 'follow',
    'app.bsky.graph.block': 'block',
    'app.bsky.actor.profile': 'profile',
  };
  return byCollection[event.commit.collection] ?? 'other';
}

/** Records print their keys sorted (Go marshals the decoded CBOR map), except blobs (a Go struct). */
function expectSortedKeys(value: unknown, path = 'record'): void {
  if (Array.isArray(value)) return value.forEach((item, i) => expectSortedKeys(item, `${path}[${i}]`));
  if (typeof value !== 'object' || value === null) return;
  const keys = Object.keys(value);
  if ((value as { $type?: unknown }).$type === 'blob') {
    expect(keys, path).toEqual(['$type', 'ref', 'mimeType', 'size']);
    return;
  }
  expect(keys, path).toEqual([...keys].sort());
  for (const key of keys) expectSortedKeys((value as Record<string, unknown>)[key], `${path}.${key}`);
}

describe('replay generator', () => {
  it('is deterministic: same seed, same events by index; another seed, other events', () => {
    const a = generateFrames({ seed: 42, invalidRatio: 0.02 }, 3_000).map((f) => f.text);
    const b = generateFrames({ seed: 42, invalidRatio: 0.02 }, 3_000).map((f) => f.text);
    expect(b).toEqual(a);
    const c = generateFrames({ seed: 43, invalidRatio: 0.02 }, 3_000).map((f) => f.text);
    expect(c.filter((text, i) => text === a[i]).length).toBe(0);

    // Only the times differ when the same seed is stamped with other times.
    const shifted = generateFrames({ seed: 42 }, 500, 1_790_000_000_000_000, 7_000).map((f) => f.text);
    const base = generateFrames({ seed: 42 }, 500).map((f) => f.text);
    const skeleton = (text: string) => {
      const event = JSON.parse(text) as Record<string, unknown> & { commit?: { collection: string; operation: string } };
      return `${event.did as string}|${event.kind as string}|${event.commit?.collection}|${event.commit?.operation}`;
    };
    expect(shifted.map(skeleton)).toEqual(base.map(skeleton));

    // Any single event can be rebuilt from its index alone (the timeline relies on it).
    const generator = new EventGenerator({ seed: 42, invalidRatio: 0.02 });
    const history = { timeOf: (j: number) => 1_783_175_888_000_000 + j * 2_000 };
    for (const i of [0, 1, 999, 2_345, 2_999]) expect(generator.frame(i, history.timeOf(i), history).text).toBe(a[i]);
  });

  it('produces only valid events, in the real key order, with well-formed ids', () => {
    const frames = generateFrames({ seed: 1, mix: 'plan' }, 5_000).concat(generateFrames({ seed: 2, mix: 'network' }, 5_000));
    const keys = new Set<string>();
    for (const frame of frames) {
      expect(frame.meta.valid).toBe(true);
      expect(parseJetstreamEvent(frame.text, MAX_EVENT_BYTES).ok).toBe(true);
      const event = parse(frame.text);
      keys.add(eventKey(event));
      expect(event.did).toMatch(/^did:plc:[a-z2-7]{24}$/);
      expect(frame.meta.did).toBe(event.did);
      const raw = JSON.parse(frame.text) as Record<string, Record<string, unknown>>;
      expect(Object.keys(raw)).toEqual(['did', 'time_us', 'kind', event.kind]);
      if (event.kind === 'commit') {
        const { commit } = event;
        expect(frame.meta.collection).toBe(commit.collection);
        expect(commit.rev).toMatch(/^[2-7a-z]{13}$/);
        // The rev is the PDS commit time, a little before Jetstream's time_us.
        expect(event.time_us - tidTime(commit.rev)).toBeGreaterThan(0);
        expect(event.time_us - tidTime(commit.rev)).toBeLessThan(2_000_000);
        if (commit.operation === 'delete') {
          expect(Object.keys(raw.commit!)).toEqual(['rev', 'operation', 'collection', 'rkey']);
        } else {
          expect(Object.keys(raw.commit!)).toEqual(['rev', 'operation', 'collection', 'rkey', 'record', 'cid']);
          expect(commit.cid).toMatch(/^bafyrei[a-z2-7]{52}$/);
          expect(commit.record!.$type).toBe(commit.collection);
          expectSortedKeys(commit.record);
        }
        expect(commit.rkey === 'self' || /^[2-7a-z]{13}$/.test(commit.rkey)).toBe(true);
      } else if (event.kind === 'identity') {
        expect(Object.keys(raw.identity!)).toEqual(event.identity.handle === undefined ? ['did', 'seq', 'time'] : ['did', 'handle', 'seq', 'time']);
      } else {
        const expected = event.account.status === undefined ? ['active', 'did', 'seq', 'time'] : ['active', 'did', 'seq', 'status', 'time'];
        expect(Object.keys(raw.account!)).toEqual(expected);
      }
      // Go's encoder escapes these; a raw '&' would betray a non-Jetstream writer.
      expect(frame.text).not.toMatch(/[<>&]/);
    }
    // Every event has its own identity (the key the ingester deduplicates by).
    expect(keys.size).toBe(frames.length);
  });

  it('writes facets whose UTF-8 byte offsets slice out the exact #tag, @handle and link text', () => {
    const frames = generateFrames({ seed: 9, mix: 'plan' }, 12_000);
    const seen = { tag: 0, mention: 0, link: 0, nonAsciiTag: 0 };
    const generator = new EventGenerator({ seed: 9 });
    for (const frame of frames) {
      const event = parse(frame.text);
      if (event.kind !== 'commit' || event.commit.collection !== 'app.bsky.feed.post' || event.commit.operation !== 'create') continue;
      const record = event.commit.record as {
        text: string;
        langs?: string[];
        facets?: { features: { $type: string; tag?: string; did?: string; uri?: string }[]; index: { byteStart: number; byteEnd: number } }[];
      };
      expect(graphemes(record.text)).toBeLessThanOrEqual(300);
      expect(record.langs?.length ?? 0).toBeLessThanOrEqual(3);
      const bytes = Buffer.from(record.text, 'utf8');
      for (const facet of record.facets ?? []) {
        const slice = bytes.subarray(facet.index.byteStart, facet.index.byteEnd).toString('utf8');
        const feature = facet.features[0]!;
        switch (feature.$type) {
          case 'app.bsky.richtext.facet#tag':
            expect(slice).toBe(`#${feature.tag!}`);
            expect(HASHTAGS).toContain(feature.tag);
            seen.tag += 1;
            if (Buffer.byteLength(slice) !== slice.length) seen.nonAsciiTag += 1;
            break;
          case 'app.bsky.richtext.facet#mention':
            expect(slice).toMatch(/^@[a-z0-9.-]+$/);
            expect(feature.did).toMatch(/^did:plc:/);
            seen.mention += 1;
            break;
          case 'app.bsky.richtext.facet#link': {
            expect(feature.uri).toMatch(/^https:\/\//);
            // Shown shortened, as the Bluesky app does: "host/path..." is a prefix of the URI.
            expect(feature.uri!.slice('https://'.length).startsWith(slice.replace(/\.\.\.$/, ''))).toBe(true);
            seen.link += 1;
            break;
          }
          default:
            throw new Error(`unexpected facet ${feature.$type}`);
        }
      }
    }
    expect(seen.tag).toBeGreaterThan(100);
    expect(seen.nonAsciiTag).toBeGreaterThan(5);
    expect(seen.mention).toBeGreaterThan(50);
    expect(seen.link).toBeGreaterThan(50);
    expect(generator.handleOfAccount(3)).toMatch(/^[a-z0-9.-]+$/);
  });

  it('builds realistic posts: langs, replies, quotes, embeds, emoji, scripts, empty texts, labels', () => {
    const frames = generateFrames({ seed: 5, mix: 'plan' }, 20_000);
    const posts = frames
      .map((f) => parse(f.text))
      .filter((e) => e.kind === 'commit' && e.commit.collection === 'app.bsky.feed.post' && e.commit.operation === 'create')
      .map<Record<string, unknown>>((e) => (e.kind === 'commit' ? e.commit.record! : {}));
    const count = (predicate: (post: Record<string, unknown>) => boolean) => posts.filter(predicate).length;
    const embedType = (post: Record<string, unknown>) => (post.embed as { $type?: string } | undefined)?.$type;
    expect(posts.length).toBeGreaterThan(4_000);
    expect(count((p) => p.reply !== undefined) / posts.length).toBeGreaterThan(0.2);
    for (const type of ['images', 'video', 'external', 'record', 'recordWithMedia']) {
      expect(count((p) => embedType(p) === `app.bsky.embed.${type}`), type).toBeGreaterThan(posts.length * 0.01);
    }
    expect(count((p) => p.text === '' && p.embed !== undefined)).toBeGreaterThan(10);
    expect(count((p) => p.labels !== undefined)).toBeGreaterThan(5);
    expect(count((p) => p.langs === undefined)).toBeGreaterThan(20);
    expect(count((p) => ((p.langs as string[] | undefined)?.length ?? 0) >= 2)).toBeGreaterThan(50);
    expect(count((p) => /\p{Extended_Pictographic}/u.test(p.text as string))).toBeGreaterThan(200);
    for (const script of [/\p{Script=Han}/u, /\p{Script=Hiragana}/u, /\p{Script=Hangul}/u, /\p{Script=Cyrillic}/u]) {
      expect(count((p) => script.test(p.text as string)), String(script)).toBeGreaterThan(50);
    }
    expect(count((p) => graphemes(p.text as string) > 250)).toBeGreaterThan(50);
    const images = posts.flatMap((p) => (embedType(p) === 'app.bsky.embed.images' ? ((p.embed as { images: { alt: string }[] }).images) : []));
    expect(images.some((image) => image.alt.length > 0)).toBe(true);
    expect(images.some((image) => image.alt === '')).toBe(true);

    // Every text is made of the fixed vocabulary: a search for a word finds known posts.
    const vocabulary = new Set(Object.values(VOCABULARY).flat());
    const withLighthouse = count((p) => (p.text as string).split(/[\s.!?]+/).includes('lighthouse'));
    expect(withLighthouse).toBeGreaterThan(10);
    expect(vocabulary.has('lighthouse')).toBe(true);
  });

  it('points likes, reposts, replies and deletes at records created earlier in the history', () => {
    const events = generateFrames({ seed: 11, mix: 'network' }, 20_000).map((f) => parse(f.text));
    const created = new Map<string, number>(); // at-uri -> index
    const inHistory = { subjects: 0, deletes: 0, replies: 0 };
    const totals = { subjects: 0, deletes: 0, replies: 0 };
    events.forEach((event, i) => {
      if (event.kind !== 'commit') return;
      const { commit } = event;
      const uri = `at://${event.did}/${commit.collection}/${commit.rkey}`;
      if (commit.operation === 'delete') {
        totals.deletes += 1;
        if (created.has(uri)) inHistory.deletes += 1;
        return;
      }
      const record = commit.record as { subject?: unknown; reply?: { parent: { uri: string } } };
      if (commit.collection === 'app.bsky.feed.like' || commit.collection === 'app.bsky.feed.repost') {
        totals.subjects += 1;
        const subject = (record.subject as { uri: string }).uri;
        if (created.has(subject)) {
          inHistory.subjects += 1;
          expect(created.get(subject)!).toBeLessThan(i);
          expect(subject).toContain('/app.bsky.feed.post/');
        }
      }
      if (record.reply) {
        totals.replies += 1;
        if (created.has(record.reply.parent.uri)) inHistory.replies += 1;
      }
      if (commit.collection === 'app.bsky.graph.follow' || commit.collection === 'app.bsky.graph.block') {
        expect(record.subject).toMatch(/^did:plc:[a-z2-7]{24}$/);
        expect(record.subject).not.toBe(event.did);
      }
      if (commit.operation === 'create') created.set(uri, i);
    });
    expect(inHistory.subjects / totals.subjects).toBeGreaterThan(0.4);
    expect(inHistory.deletes / totals.deletes).toBeGreaterThan(0.5);
    expect(inHistory.replies / totals.replies).toBeGreaterThan(0.4);
  });

  it.each(['plan', 'network'] as MixName[])('holds the %s mix proportions and fixture-like sizes over 20k events', (mix) => {
    const frames = generateFrames({ seed: 3, mix }, 20_000);
    const counts: Partial<Record<EventType, number>> = {};
    const sizes: Partial<Record<EventType, number[]>> = {};
    for (const frame of frames) {
      const type = typeOf(parse(frame.text));
      counts[type] = (counts[type] ?? 0) + 1;
      (sizes[type] ??= []).push(Buffer.byteLength(frame.text));
    }
    for (const [type, percent] of Object.entries(MIXES[mix]) as [EventType, number][]) {
      const actual = ((counts[type] ?? 0) / frames.length) * 100;
      // Binomial noise over 20k draws is < 0.7 points at 3 sigma for the largest shares.
      expect(Math.abs(actual - percent), `${type}: ${actual.toFixed(2)}% vs ${percent}%`).toBeLessThan(Math.max(0.25, percent * 0.06));
    }
    const mean = (type: EventType) => sizes[type]!.reduce((a, b) => a + b, 0) / sizes[type]!.length;
    // Fixture: likes 529 bytes, posts 846, follows 394.
    expect(mean('like')).toBeGreaterThan(480);
    expect(mean('like')).toBeLessThan(590);
    expect(mean('post')).toBeGreaterThan(700);
    expect(mean('post')).toBeLessThan(1_000);
    expect(mean('follow')).toBeGreaterThan(370);
    expect(mean('follow')).toBeLessThan(420);
  });

  it('injects invalid events at the requested ratio, each refused by the ingester parser', () => {
    const frames = generateFrames({ seed: 8, invalidRatio: 0.05 }, 20_000);
    const invalid = frames.filter((f) => !f.meta.valid);
    // 1,000 expected; 3 sigma of Binomial(20k, 0.05) is ~92.
    expect(invalid.length).toBeGreaterThan(880);
    expect(invalid.length).toBeLessThan(1_120);
    const byType = new Map<string, number>();
    const reasons = new Map<string, string>();
    for (const frame of invalid) {
      byType.set(frame.meta.invalidType!, (byType.get(frame.meta.invalidType!) ?? 0) + 1);
      const parsed = parseJetstreamEvent(frame.text, MAX_EVENT_BYTES);
      expect(parsed.ok, frame.meta.invalidType).toBe(false);
      if (!parsed.ok) reasons.set(frame.meta.invalidType!, parsed.reason);
    }
    expect([...byType.keys()].sort()).toEqual([...INVALID_TYPES].sort());
    for (const count of byType.values()) expect(count).toBeGreaterThan(100);
    expect(Object.fromEntries(reasons)).toEqual({
      malformed_json: 'invalid_json',
      missing_did: 'invalid_did',
      bad_time_us: 'invalid_time_us',
      unknown_kind: 'unknown_kind',
      commit_without_rkey: 'invalid_commit',
      oversized: 'oversized',
    });
    // The valid ones are untouched.
    for (const frame of frames.filter((f) => f.meta.valid)) expect(parseJetstreamEvent(frame.text, MAX_EVENT_BYTES).ok).toBe(true);
  });
});
