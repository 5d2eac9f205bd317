// The Parquet tables: every table's columns, types and natural key, declared once.
// The writer creates its staging tables and appends rows from these declarations,
// compaction deduplicates by `key`, the API and the tests query the same names.

export type ColumnType = 'VARCHAR' | 'BIGINT' | 'BOOLEAN' | 'TIMESTAMP' | 'VARCHAR[]' | 'JSON';

export interface Column {
  name: string;
  type: ColumnType;
  description: string;
}

export interface TableSpec {
  name: TableName;
  description: string;
  columns: readonly Column[];
  /** Columns that identify one event's row; a replayed event has the same key. */
  key: readonly string[];
}

export const TABLE_NAMES = [
  'posts',
  'likes',
  'reposts',
  'follows',
  'blocks',
  'profiles',
  'deletes',
  'identities',
  'accounts',
  'other',
] as const;
export type TableName = (typeof TABLE_NAMES)[number];

const col = (name: string, type: ColumnType, description: string): Column => ({ name, type, description });

// Columns every commit-derived table shares, in this order, at the start of the row.
const COMMIT_COLUMNS: readonly Column[] = [
  col('uri', 'VARCHAR', 'AT URI of the record: at://<did>/<collection>/<rkey>'),
  col('cid', 'VARCHAR', 'CID of the record version'),
  col('author_did', 'VARCHAR', 'DID of the repository that wrote the record'),
  col('rkey', 'VARCHAR', 'record key'),
  col('rev', 'VARCHAR', 'repository revision (TID) of the commit'),
  col('operation', 'VARCHAR', 'create or update'),
];
const TIME_US = col('time_us', 'BIGINT', 'Jetstream time of the event, unix microseconds (partitioning key)');
const CREATED_AT = col('created_at', 'TIMESTAMP', "record's client-declared createdAt (UTC); NULL when malformed");

const SUBJECT_RECORD: readonly Column[] = [
  col('subject_uri', 'VARCHAR', 'AT URI of the liked or reposted record'),
  col('subject_cid', 'VARCHAR', 'CID of the liked or reposted record'),
  col('via_uri', 'VARCHAR', 'AT URI of the repost through which it was seen, when given'),
  CREATED_AT,
  TIME_US,
];
const SUBJECT_DID: readonly Column[] = [col('subject_did', 'VARCHAR', 'DID of the followed or blocked account'), CREATED_AT, TIME_US];

const COMMIT_KEY = ['uri', 'rev'] as const;

export const TABLES: Record<TableName, TableSpec> = {
  posts: {
    name: 'posts',
    description: 'app.bsky.feed.post creates and updates',
    key: COMMIT_KEY,
    columns: [
      ...COMMIT_COLUMNS,
      col('text', 'VARCHAR', 'post text (may be empty when the post has an embed)'),
      col('langs', 'VARCHAR[]', 'declared languages (BCP-47), at most 3'),
      CREATED_AT,
      TIME_US,
      col('reply_root_uri', 'VARCHAR', 'AT URI of the thread root when the post is a reply'),
      col('reply_parent_uri', 'VARCHAR', 'AT URI of the parent when the post is a reply'),
      col('quote_uri', 'VARCHAR', 'AT URI of the quoted record (record or recordWithMedia embed)'),
      col('embed_kind', 'VARCHAR', 'images, video, external, record, recordWithMedia, gallery or other; NULL without embed'),
      col('has_media', 'BOOLEAN', 'true when the post embeds images, a video or a gallery'),
      col('hashtags', 'VARCHAR[]', 'hashtags from #tag facets and the tags field, lowercased, without #, distinct'),
      col('mentions', 'VARCHAR[]', 'DIDs mentioned through #mention facets, distinct'),
      col('links', 'VARCHAR[]', 'URIs from #link facets and the external embed, distinct'),
      col('labels', 'VARCHAR[]', 'self-labels (labels.values[].val)'),
      col('record', 'JSON', 'the raw record as received'),
    ],
  },
  likes: {
    name: 'likes',
    description: 'app.bsky.feed.like creates and updates',
    key: COMMIT_KEY,
    columns: [...COMMIT_COLUMNS, ...SUBJECT_RECORD],
  },
  reposts: {
    name: 'reposts',
    description: 'app.bsky.feed.repost creates and updates',
    key: COMMIT_KEY,
    columns: [...COMMIT_COLUMNS, ...SUBJECT_RECORD],
  },
  follows: {
    name: 'follows',
    description: 'app.bsky.graph.follow creates and updates',
    key: COMMIT_KEY,
    columns: [...COMMIT_COLUMNS, ...SUBJECT_DID],
  },
  blocks: {
    name: 'blocks',
    description: 'app.bsky.graph.block creates and updates',
    key: COMMIT_KEY,
    columns: [...COMMIT_COLUMNS, ...SUBJECT_DID],
  },
  profiles: {
    name: 'profiles',
    description: 'app.bsky.actor.profile creates and updates',
    key: COMMIT_KEY,
    columns: [
      ...COMMIT_COLUMNS,
      col('display_name', 'VARCHAR', 'displayName'),
      col('description', 'VARCHAR', 'profile description'),
      CREATED_AT,
      TIME_US,
      col('record', 'JSON', 'the raw record as received'),
    ],
  },
  deletes: {
    name: 'deletes',
    description: 'tombstones: every commit delete, of any collection',
    key: COMMIT_KEY,
    columns: [
      col('uri', 'VARCHAR', 'AT URI of the deleted record'),
      col('author_did', 'VARCHAR', 'DID of the repository'),
      col('collection', 'VARCHAR', 'collection NSID of the deleted record'),
      col('rkey', 'VARCHAR', 'record key'),
      col('rev', 'VARCHAR', 'repository revision (TID) of the commit'),
      TIME_US,
    ],
  },
  identities: {
    name: 'identities',
    description: 'identity events: a DID and its current handle',
    key: ['did', 'seq'],
    columns: [
      col('did', 'VARCHAR', 'account DID'),
      col('handle', 'VARCHAR', 'handle, lowercased; NULL when the event carries none'),
      col('seq', 'BIGINT', 'relay sequence number'),
      col('time', 'TIMESTAMP', 'relay time of the identity change; NULL when malformed'),
      TIME_US,
    ],
  },
  accounts: {
    name: 'accounts',
    description: 'account events: hosting status changes',
    key: ['did', 'seq'],
    columns: [
      col('did', 'VARCHAR', 'account DID'),
      col('active', 'BOOLEAN', 'whether the account is active'),
      col('status', 'VARCHAR', 'takendown, suspended, deleted, deactivated, ... when inactive'),
      col('seq', 'BIGINT', 'relay sequence number'),
      col('time', 'TIMESTAMP', 'relay time of the status change; NULL when malformed'),
      TIME_US,
    ],
  },
  other: {
    name: 'other',
    description: 'creates and updates of collections without a table of their own',
    key: COMMIT_KEY,
    columns: [
      col('uri', 'VARCHAR', 'AT URI of the record'),
      col('cid', 'VARCHAR', 'CID of the record version'),
      col('author_did', 'VARCHAR', 'DID of the repository'),
      col('collection', 'VARCHAR', 'collection NSID'),
      col('rkey', 'VARCHAR', 'record key'),
      col('rev', 'VARCHAR', 'repository revision (TID) of the commit'),
      col('operation', 'VARCHAR', 'create or update'),
      TIME_US,
      col('record', 'JSON', 'the raw record as received'),
    ],
  },
};

/** Index of a column in a table's rows. */
export function columnIndex(table: TableName, column: string): number {
  const index = TABLES[table].columns.findIndex((c) => c.name === column);
  if (index < 0) throw new Error(`table ${table} has no column ${column}`);
  return index;
}
