import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { eventKey, parseJetstreamEvent, type JetstreamEvent } from '../services/shared/jetstream.ts';
import { normalize, parseTimestamp, tableOf } from '../services/shared/normalize.ts';
import { TABLES, TABLE_NAMES, columnIndex, uriSql, type TableName } from '../services/shared/tables.ts';

const FIXTURE = new URL('./fixtures/jetstream-production-sample.jsonl', import.meta.url);
const fixtureEvents = readFileSync(FIXTURE, 'utf8')
  .split('\n')
  .filter((line) => line.trim())
  .map((line) => {
    const parsed = parseJetstreamEvent(line, 1 << 20);
    if (!parsed.ok) throw new Error(`fixture line rejected: ${parsed.reason}`);
    return parsed.event;
  });

const base = { did: 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa', time_us: 1_783_175_888_085_434 };
function commit(collection: string, operation: 'create' | 'update' | 'delete', record?: Record<string, unknown>): JetstreamEvent {
  return {
    ...base,
    kind: 'commit',
    commit: { rev: '3mptbypluud2a', operation, collection, rkey: '3mptbyplj5d2a', ...(record ? { record, cid: 'bafyreiabc' } : {}) },
  };
}
function cell(table: TableName, row: unknown[], column: string): unknown {
  return row[columnIndex(table, column)];
}

describe('table mapping', () => {
  const cases: [string, 'create' | 'update' | 'delete', TableName][] = [
    ['app.bsky.feed.post', 'create', 'posts'],
    ['app.bsky.feed.post', 'update', 'posts'],
    ['app.bsky.feed.post', 'delete', 'deletes'],
    ['app.bsky.feed.like', 'create', 'likes'],
    ['app.bsky.feed.like', 'delete', 'deletes'],
    ['app.bsky.feed.repost', 'create', 'reposts'],
    ['app.bsky.feed.repost', 'delete', 'deletes'],
    ['app.bsky.graph.follow', 'create', 'follows'],
    ['app.bsky.graph.follow', 'delete', 'deletes'],
    ['app.bsky.graph.block', 'create', 'blocks'],
    ['app.bsky.graph.block', 'delete', 'deletes'],
    ['app.bsky.actor.profile', 'create', 'profiles'],
    ['app.bsky.actor.profile', 'update', 'profiles'],
    ['app.bsky.actor.profile', 'delete', 'deletes'],
    ['app.bsky.graph.list', 'create', 'other'],
    ['fm.teal.alpha.actor.status', 'update', 'other'],
    ['fm.teal.alpha.actor.status', 'delete', 'deletes'],
  ];
  it.each(cases)('%s %s -> %s', (collection, operation, table) => {
    const event = commit(collection, operation, operation === 'delete' ? undefined : { $type: collection, createdAt: '2026-07-04T14:38:08.999Z' });
    expect(tableOf(event)).toBe(table);
    const normalized = normalize(event);
    expect(normalized.table).toBe(table);
    expect(normalized.row).toHaveLength(TABLES[table].columns.length);
    expect(cell(table, normalized.row, 'time_us')).toBe(base.time_us);
    expect(cell(table, normalized.row, 'rkey')).toBe('3mptbyplj5d2a');
  });

  it('identity and account events go to their tables', () => {
    const identity = normalize({ ...base, kind: 'identity', identity: { did: base.did, handle: 'Alice.BSKY.social', seq: 7, time: '2026-07-04T14:38:07.877Z' } });
    expect(identity.table).toBe('identities');
    expect(cell('identities', identity.row, 'handle')).toBe('alice.bsky.social');
    expect(cell('identities', identity.row, 'time')).toBe(Date.parse('2026-07-04T14:38:07.877Z') * 1000);
    const account = normalize({ ...base, kind: 'account', account: { did: base.did, active: false, status: 'takendown', seq: 8, time: 'x' } });
    expect(account.table).toBe('accounts');
    expect(cell('accounts', account.row, 'status')).toBe('takendown');
    expect(cell('accounts', account.row, 'time')).toBeNull();
  });

  it('a delete is a tombstone carrying the author, collection and record key', () => {
    const { table, row } = normalize(commit('app.bsky.feed.post', 'delete'));
    expect(table).toBe('deletes');
    expect(cell(table, row, 'author_did')).toBe(base.did);
    expect(cell(table, row, 'collection')).toBe('app.bsky.feed.post');
    expect(cell(table, row, 'rkey')).toBe('3mptbyplj5d2a');
  });

  it('record URIs are derived, not stored: uriSql rebuilds them for every record table', () => {
    expect(uriSql('posts', 'p')).toBe("('at://' || p.author_did || '/app.bsky.feed.post/' || p.rkey)");
    expect(uriSql('other')).toBe("('at://' || author_did || '/' || collection || '/' || rkey)");
    expect(() => uriSql('identities')).toThrow();
  });

  it('every table has exactly the columns its normalizer fills, and a key made of its columns', () => {
    for (const name of TABLE_NAMES) {
      for (const key of TABLES[name].key) expect(() => columnIndex(name, key)).not.toThrow();
    }
  });
});

describe('post normalization', () => {
  const text = '#Café time ☕ with @alice.test see https://example.com/x';
  const bytes = (s: string) => Buffer.byteLength(s);
  const record = {
    $type: 'app.bsky.feed.post',
    text,
    langs: ['fr', 'en', 42],
    createdAt: '2026-07-04T14:38:06.240123Z',
    facets: [
      { index: { byteStart: 0, byteEnd: bytes('#Café') }, features: [{ $type: 'app.bsky.richtext.facet#tag', tag: 'Café' }] },
      { index: { byteStart: 0, byteEnd: 1 }, features: [{ $type: 'app.bsky.richtext.facet#mention', did: 'did:plc:alice' }] },
      { index: { byteStart: 0, byteEnd: 1 }, features: [{ $type: 'app.bsky.richtext.facet#link', uri: 'https://example.com/x' }] },
      'garbage',
      { features: 'not an array' },
    ],
    tags: ['#café', 'Extra'],
    reply: { root: { uri: 'at://did:plc:r/app.bsky.feed.post/1', cid: 'c' }, parent: { uri: 'at://did:plc:p/app.bsky.feed.post/2', cid: 'c' } },
    embed: {
      $type: 'app.bsky.embed.recordWithMedia',
      record: { $type: 'app.bsky.embed.record', record: { uri: 'at://did:plc:q/app.bsky.feed.post/3', cid: 'c' } },
      media: { $type: 'app.bsky.embed.images', images: [] },
    },
    labels: { $type: 'com.atproto.label.defs#selfLabels', values: [{ val: 'nudity' }] },
  };
  const { table, row } = normalize(commit('app.bsky.feed.post', 'create', record));

  it('extracts text, langs, reply, quote, media, facets and labels', () => {
    expect(table).toBe('posts');
    expect(cell(table, row, 'text')).toBe(text);
    expect(cell(table, row, 'langs')).toEqual(['fr', 'en']);
    expect(cell(table, row, 'created_at')).toBe(Date.parse('2026-07-04T14:38:06.240Z') * 1000 + 123);
    expect(cell(table, row, 'reply_root_uri')).toBe('at://did:plc:r/app.bsky.feed.post/1');
    expect(cell(table, row, 'reply_parent_uri')).toBe('at://did:plc:p/app.bsky.feed.post/2');
    expect(cell(table, row, 'quote_uri')).toBe('at://did:plc:q/app.bsky.feed.post/3');
    expect(cell(table, row, 'embed_kind')).toBe('recordWithMedia');
    expect(cell(table, row, 'has_media')).toBe(true);
    expect(cell(table, row, 'hashtags')).toEqual(['café', 'extra']);
    expect(cell(table, row, 'mentions')).toEqual(['did:plc:alice']);
    expect(cell(table, row, 'links')).toEqual(['https://example.com/x']);
    expect(cell(table, row, 'labels')).toEqual(['nudity']);
    // The text lives in its own column only; the record keeps everything else.
    const { text: _text, ...withoutText } = record;
    expect(JSON.parse(cell(table, row, 'record') as string)).toEqual(withoutText);
  });

  it('survives any record shape: wrong types become NULL or empty, never an exception', () => {
    const weird = [{}, { text: 5, langs: 'en', facets: {}, embed: 'x', reply: [], labels: null, tags: {} }, { embed: { $type: 9 } }];
    for (const r of weird) {
      const out = normalize(commit('app.bsky.feed.post', 'create', r));
      expect(out.row).toHaveLength(TABLES.posts.columns.length);
    }
    const out = normalize(commit('app.bsky.feed.post', 'create', { embed: { $type: 'app.bsky.embed.somethingNew' } }));
    expect(cell('posts', out.row, 'embed_kind')).toBe('other');
    expect(cell('posts', out.row, 'has_media')).toBe(false);
  });
});

describe('timestamps', () => {
  it.each([
    ['2026-07-04T14:38:06.240Z', Date.parse('2026-07-04T14:38:06.240Z') * 1000],
    ['2026-07-04T14:38:06Z', Date.parse('2026-07-04T14:38:06Z') * 1000],
    ['2026-07-04T16:38:06.5+02:00', Date.parse('2026-07-04T14:38:06.500Z') * 1000],
    ['2026-07-04T14:38:06.1234567Z', Date.parse('2026-07-04T14:38:06.123Z') * 1000 + 456],
    ['2026-02-31T00:00:00Z', null],
    ['yesterday', null],
    ['2026-07-04', null],
    [12345, null],
  ])('%s', (input, expected) => {
    expect(parseTimestamp(input)).toBe(expected);
  });
});

describe('real production events', () => {
  it('all 152 fixture events validate and land in the expected tables', () => {
    const counts: Partial<Record<TableName, number>> = {};
    for (const event of fixtureEvents) {
      const { table, row } = normalize(event);
      expect(row).toHaveLength(TABLES[table].columns.length);
      counts[table] = (counts[table] ?? 0) + 1;
    }
    expect(fixtureEvents).toHaveLength(152);
    expect(counts).toEqual({ likes: 105, posts: 17, deletes: 4, reposts: 15, follows: 6, blocks: 1, other: 2, identities: 1, accounts: 1 });
  });

  it('keys are unique across the fixture (several records of one commit share a rev)', () => {
    const keys = new Set(fixtureEvents.map(eventKey));
    expect(keys.size).toBe(fixtureEvents.length);
  });

  it('facets of real posts become hashtags and links', () => {
    const rows = fixtureEvents.map(normalize).filter((r) => r.table === 'posts');
    const hashtags = rows.flatMap((r) => cell('posts', r.row, 'hashtags') as string[]);
    expect(hashtags).toContain('indierebellion');
    const links = rows.flatMap((r) => cell('posts', r.row, 'links') as string[]);
    expect(links).toContain('https://www.youtube.com/watch?v=V5lDo-jw8mA');
  });
});
