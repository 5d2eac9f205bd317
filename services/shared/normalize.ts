// Jetstream event -> one row of one table. Total over any record shape: a field of
// an unexpected type becomes NULL (the raw record keeps the original), so a valid
// envelope is always stored and never stalls a batch.

import { COLLECTIONS, type CommitEvent, type JetstreamEvent } from './jetstream.ts';
import type { TableName } from './tables.ts';

/** A cell value: TIMESTAMP cells hold unix microseconds, JSON cells hold JSON text. */
export type Cell = string | number | boolean | null | readonly string[];
export type Row = Cell[];

export interface NormalizedRow {
  table: TableName;
  row: Row;
}

type Json = Record<string, unknown>;

const EMBED_KINDS: Record<string, string> = {
  'app.bsky.embed.images': 'images',
  'app.bsky.embed.video': 'video',
  'app.bsky.embed.external': 'external',
  'app.bsky.embed.record': 'record',
  'app.bsky.embed.recordWithMedia': 'recordWithMedia',
  'app.bsky.embed.gallery': 'gallery',
};
const MEDIA_KINDS: ReadonlySet<string> = new Set(['images', 'video', 'gallery']);

const TABLE_OF_COLLECTION: Record<string, TableName> = {
  [COLLECTIONS.post]: 'posts',
  [COLLECTIONS.like]: 'likes',
  [COLLECTIONS.repost]: 'reposts',
  [COLLECTIONS.follow]: 'follows',
  [COLLECTIONS.block]: 'blocks',
  [COLLECTIONS.profile]: 'profiles',
};

/** The table an event is stored in. */
export function tableOf(event: JetstreamEvent): TableName {
  switch (event.kind) {
    case 'identity':
      return 'identities';
    case 'account':
      return 'accounts';
    case 'commit':
      if (event.commit.operation === 'delete') return 'deletes';
      return TABLE_OF_COLLECTION[event.commit.collection] ?? 'other';
  }
}

export function normalize(event: JetstreamEvent): NormalizedRow {
  const table = tableOf(event);
  switch (event.kind) {
    case 'identity': {
      const { did, handle, seq, time } = event.identity;
      return { table, row: [did, str(handle)?.toLowerCase() ?? null, seq, parseTimestamp(time), event.time_us] };
    }
    case 'account': {
      const { did, active, status, seq, time } = event.account;
      return { table, row: [did, active, str(status), seq, parseTimestamp(time), event.time_us] };
    }
    case 'commit':
      return { table, row: commitRow(table, event) };
  }
}

function commitRow(table: TableName, event: CommitEvent): Row {
  const { did, time_us: timeUs } = event;
  const { collection, rkey, rev, operation, cid } = event.commit;
  if (table === 'deletes') return [did, collection, rkey, rev, timeUs];

  const record: Json = event.commit.record ?? {};
  const id: Row = [did, rkey, rev, operation];
  const createdAt = parseTimestamp(record.createdAt);
  switch (table) {
    case 'posts':
      return [...id, str(cid), ...postColumns(record, createdAt, timeUs)];
    case 'likes':
    case 'reposts': {
      const subject = asObject(record.subject);
      const via = asObject(record.via);
      return [...id, str(subject?.uri), str(subject?.cid), str(via?.uri), createdAt, timeUs];
    }
    case 'follows':
    case 'blocks':
      return [...id, str(record.subject), createdAt, timeUs];
    case 'profiles':
      return [...id, str(cid), str(record.displayName), str(record.description), createdAt, timeUs, JSON.stringify(record)];
    default:
      return [did, collection, rkey, rev, operation, str(cid), timeUs, JSON.stringify(record)];
  }
}

function postColumns(record: Json, createdAt: number | null, timeUs: number): Row {
  const reply = asObject(record.reply);
  const embed = asObject(record.embed);
  const embedType = str(embed?.$type);
  const embedKind = embed ? (embedType !== null ? (EMBED_KINDS[embedType] ?? 'other') : 'other') : null;

  let quoteUri: string | null = null;
  let media: Json | undefined;
  if (embedKind === 'record') quoteUri = str(asObject(embed?.record)?.uri);
  if (embedKind === 'recordWithMedia') {
    quoteUri = str(asObject(asObject(embed?.record)?.record)?.uri);
    media = asObject(embed?.media);
  }
  const mediaKind = media ? EMBED_KINDS[str(media.$type) ?? ''] : embedKind;
  const hasMedia = mediaKind !== null && mediaKind !== undefined && MEDIA_KINDS.has(mediaKind);

  const hashtags = new Set<string>();
  const mentions = new Set<string>();
  const links = new Set<string>();
  for (const facet of asArray(record.facets)) {
    for (const feature of asArray(asObject(facet)?.features)) {
      const f = asObject(feature);
      switch (f?.$type) {
        case 'app.bsky.richtext.facet#tag': {
          const tag = str(f.tag);
          if (tag) hashtags.add(normalizeTag(tag));
          break;
        }
        case 'app.bsky.richtext.facet#mention': {
          const did = str(f.did);
          if (did) mentions.add(did);
          break;
        }
        case 'app.bsky.richtext.facet#link': {
          const uri = str(f.uri);
          if (uri) links.add(uri);
          break;
        }
      }
    }
  }
  for (const tag of asArray(record.tags)) {
    const value = str(tag);
    if (value) hashtags.add(normalizeTag(value));
  }
  const external = asObject((media ?? embed)?.external);
  const externalUri = str(external?.uri);
  if (externalUri) links.add(externalUri);

  const labels: string[] = [];
  for (const label of asArray(asObject(record.labels)?.values)) {
    const val = str(asObject(label)?.val);
    if (val) labels.push(val);
  }

  // The text is stored once, in its own column (see tables.ts).
  const text = str(record.text);
  let rest = record;
  if (typeof record.text === 'string') {
    const { text: _text, ...withoutText } = record;
    rest = withoutText;
  }
  return [
    text,
    stringList(record.langs),
    createdAt,
    timeUs,
    str(asObject(reply?.root)?.uri),
    str(asObject(reply?.parent)?.uri),
    quoteUri,
    embedKind,
    hasMedia,
    [...hashtags],
    [...mentions],
    [...links],
    labels,
    JSON.stringify(rest),
  ];
}

/** Hashtags compare case-insensitively and may be written with a leading '#'. */
export function normalizeTag(tag: string): string {
  return (tag.startsWith('#') ? tag.slice(1) : tag).toLowerCase();
}

function asObject(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

function asArray(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

/**
 * A string field, or null. Lone UTF-16 surrogates (legal in JSON as \\udXXX escapes)
 * become U+FFFD, so every string the writer stores is valid UTF-8.
 */
function str(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  return value.isWellFormed() ? value : value.toWellFormed();
}

function stringList(value: unknown): string[] {
  return asArray(value).flatMap((v) => str(v) ?? []);
}

// RFC 3339 with an optional fraction of any length; the zone is Z or ±HH:MM.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * An RFC 3339 timestamp as unix microseconds (sub-millisecond digits kept), or
 * null when it is not a real instant: Date.parse would roll 2026-02-31 over into
 * March, so every field is range-checked here.
 */
export function parseTimestamp(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const m = RFC3339.exec(value);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  if (year < 1 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) return null;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day); // setUTCFullYear, unlike Date.UTC, takes years below 100 as they are
  if (date.getUTCDate() !== day) return null; // 31 April, 29 February of a common year
  const offsetMinutes = m[8] ? 0 : (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
  const ms = date.getTime() + ((hour * 60 + minute - offsetMinutes) * 60 + Math.min(second, 59)) * 1000;
  return ms * 1000 + Number(((m[7] ?? '') + '000000').slice(0, 6));
}
