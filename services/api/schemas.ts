// JSON schemas of the API: validation, serialization and the OpenAPI document
// come from these, and nothing else validates input.

export const HANDLE_PATTERN = '^@?([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$';
export const DID_PATTERN = '^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$';
export const RKEY_PATTERN = '^[a-zA-Z0-9._:~-]{1,512}$';

/** Filters shared by search, export and the stats windows. */
export const windowProperties = {
  start: { type: 'string', format: 'date-time', description: 'window start (ISO 8601, inclusive); default: end minus the default window (24 h)' },
  end: { type: 'string', format: 'date-time', description: 'window end (ISO 8601, exclusive); default: now' },
} as const;

export const postFilterProperties = {
  text: { type: 'string', minLength: 1, maxLength: 500, description: 'case-insensitive substring of the post text; % and _ are plain characters' },
  exact: { type: 'boolean', default: false, description: 'true: case-sensitive whole-phrase match of text' },
  username: {
    type: 'string',
    maxLength: 2048,
    anyOf: [{ pattern: HANDLE_PATTERN }, { pattern: DID_PATTERN }],
    description: 'author: a handle (alice.bsky.social, resolved through identity events) or a DID',
  },
  lang: { type: 'string', pattern: '^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{1,8}){0,3}$', description: 'declared language, BCP 47; en also matches en-US' },
  hashtag: { type: 'string', minLength: 1, maxLength: 200, pattern: '^#?[^\\s#]+$', description: 'hashtag, with or without #, case-insensitive' },
  has_media: { type: 'boolean', description: 'only posts with (true) or without (false) images, video or a gallery' },
  is_reply: { type: 'boolean', description: 'only replies (true) or only top-level posts (false)' },
  ...windowProperties,
} as const;

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
