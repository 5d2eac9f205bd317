// JSON schemas of the API: validation, serialization and the OpenAPI document
// come from these, and nothing else validates input. The TypeScript types of
// what they accept and produce are derived from them (json-schema-to-ts), never
// written beside them, so a schema and its type cannot drift apart.

import type { FromSchema, JSONSchema } from 'json-schema-to-ts';

export const HANDLE_PATTERN = '^@?([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$';
export const DID_PATTERN = '^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$';
export const RKEY_PATTERN = '^[a-zA-Z0-9._:~-]{1,512}$';
export const LANG_PATTERN = '^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{1,8}){0,3}$';
export const HASHTAG_PATTERN = '^#?[^\\s#]+$';
export const HASHTAG_MAX_LENGTH = 200;

/** Filters shared by search, export and the stats windows. */
export const windowProperties = {
  start: { type: 'string', format: 'date-time', description: 'window start (ISO 8601, inclusive); default: end minus the default window (24 h)' },
  end: { type: 'string', format: 'date-time', description: 'window end (ISO 8601, exclusive); default: now' },
} as const;

/** Longest q: each of its (at most 32) tokens becomes a condition on every row read. */
export const QUERY_MAX_LENGTH = 1000;

export const postFilterProperties = {
  q: {
    type: 'string',
    minLength: 1,
    maxLength: QUERY_MAX_LENGTH,
    description:
      "Bluesky's search syntax (as its search service, palomar, reads it); every part must match, and q combines with the other " +
      'parameters the same way. Tokens are separated by whitespace outside double quotes. ' +
      'word: case-insensitive substring of the text, like the text parameter. ' +
      '"two words": a phrase, whole words in this order, case-insensitive. ' +
      '-word, -"two words": posts without it. ' +
      '#tag: the hashtag (case-insensitive). ' +
      'from:handle or from:DID (or a DID alone): the author. ' +
      'mentions:handle, to:handle, @handle (or a DID): posts mentioning that account. ' +
      'lang:xx: a declared language (en also matches en-US). ' +
      'since:YYYY-MM-DD (inclusive) and until:YYYY-MM-DD (exclusive), UTC midnight, or ISO 8601 date-times: the window, instead of start and end. ' +
      'domain:example.com: posts linking to that host (www. ignored, subdomains not included). ' +
      'Operator names are lowercase; any other name:value is a plain word. ' +
      'A malformed token is a 400 naming it: an unterminated quote, an invalid date, language, handle or host, from:me (no signed-in user here), ' +
      'a URL (not supported: use domain:), or a filter also given by its parameter (from: with username, lang: with lang, since: with start, until: with end).',
    examples: ['from:alice.bsky.social "morning coffee" -decaf lang:en since:2026-11-01 until:2026-11-08', '#booksky domain:bookshop.org'],
  },
  text: { type: 'string', minLength: 1, maxLength: 500, description: 'case-insensitive substring of the post text; % and _ are plain characters' },
  exact: { type: 'boolean', default: false, description: 'true: case-sensitive whole-phrase match of text' },
  username: {
    type: 'string',
    maxLength: 2048,
    anyOf: [{ pattern: HANDLE_PATTERN }, { pattern: DID_PATTERN }],
    description: 'author: a handle (alice.bsky.social, resolved through identity events) or a DID',
  },
  lang: { type: 'string', pattern: LANG_PATTERN, description: 'declared language, BCP 47; en also matches en-US' },
  hashtag: { type: 'string', minLength: 1, maxLength: HASHTAG_MAX_LENGTH, pattern: HASHTAG_PATTERN, description: 'hashtag, with or without #, case-insensitive' },
  has_media: { type: 'boolean', description: 'only posts with (true) or without (false) images, video or a gallery' },
  is_reply: { type: 'boolean', description: 'only replies (true) or only top-level posts (false)' },
  ...windowProperties,
} as const;

/**
 * Query parameters as a handler receives them: validated, with their defaults
 * filled in (Ajv's useDefaults, app.ts), so a parameter with a default is never
 * absent (json-schema-to-ts makes it required).
 */
type QueryOf<Properties extends Readonly<Record<string, JSONSchema>>> = FromSchema<{ type: 'object'; additionalProperties: false; properties: Properties }>;

/** The window parameters (start, end): stats routes take these alone. */
export type WindowQuery = QueryOf<typeof windowProperties>;

/** The post filters (search and export take these and parameters of their own). */
export type PostFilterQuery = QueryOf<typeof postFilterProperties>;

export const postSchema = {
  type: 'object',
  required: ['uri', 'author_did', 'username', 'text', 'timestamp', 'indexed_at', 'langs', 'hashtags', 'is_reply', 'has_media'],
  properties: {
    uri: { type: 'string', description: 'AT URI of the post' },
    author_did: { type: 'string' },
    username: { type: ['string', 'null'], description: 'the author\'s handle when known' },
    text: { type: ['string', 'null'] },
    timestamp: { type: 'string', format: 'date-time', description: 'createdAt as declared by the client (indexed_at when malformed)' },
    indexed_at: { type: 'string', format: 'date-time', description: 'when the network saw the post (Jetstream time)' },
    langs: { type: 'array', items: { type: 'string' } },
    hashtags: { type: 'array', items: { type: 'string' } },
    mentions: { type: 'array', items: { type: 'string' } },
    links: { type: 'array', items: { type: 'string' } },
    labels: { type: 'array', items: { type: 'string' } },
    is_reply: { type: 'boolean' },
    reply_root_uri: { type: ['string', 'null'] },
    reply_parent_uri: { type: ['string', 'null'] },
    quote_uri: { type: ['string', 'null'] },
    embed_kind: { type: ['string', 'null'], description: 'images, video, external, record, recordWithMedia, gallery or other' },
    has_media: { type: 'boolean' },
  },
} as const;
