// The Parquet tables: every table's columns, types and natural key, declared once.
// The writer creates its staging tables and appends rows from these declarations,
// compaction deduplicates by `key`, the API and the tests query the same names.
//
// Storage is most of the cost of keeping the firehose, so columns that can be
// derived are not stored: a record's AT URI is at://<author_did>/<collection>/<rkey>
// (`uriSql` builds it; the query views expose it as `uri`), and posts keep their
// text once, in `text`, not again inside `record`. The record CIDs of likes,
// reposts, follows and blocks are not kept either: 36 incompressible bytes a row,
// a third of those tables, for records whose every field is already a column.

export type ColumnType = 'VARCHAR' | 'BIGINT' | 'BOOLEAN' | 'TIMESTAMP' | 'VARCHAR[]' | 'JSON';

export interface Column {
  name: string;
  type: ColumnType;
  description: string;
}

export interface TableSpec {
  name: TableName;
  description: string;
  /** The one collection the table holds; undefined when rows carry a `collection` column. */
  collection?: string;
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

// Columns every commit-derived table starts with, in this order.
const RECORD_ID: readonly Column[] = [
  col('author_did', 'VARCHAR', 'DID of the repository that wrote the record'),
  col('rkey', 'VARCHAR', 'record key'),
  col('rev', 'VARCHAR', 'repository revision (TID) of the commit'),
  col('operation', 'VARCHAR', 'create or update'),
];
const CID = col('cid', 'VARCHAR', 'CID of the record version');
const TIME_US = col('time_us', 'BIGINT', 'Jetstream time of the event, unix microseconds (partitioning key)');
const CREATED_AT = col('created_at', 'TIMESTAMP', "record's client-declared createdAt (UTC); NULL when malformed");
const RECORD = col('record', 'JSON', 'the raw record as received');

const SUBJECT_RECORD: readonly Column[] = [
  ...RECORD_ID,
  col('subject_uri', 'VARCHAR', 'AT URI of the liked or reposted record'),
  col('subject_cid', 'VARCHAR', 'CID of the liked or reposted record'),
  col('via_uri', 'VARCHAR', 'AT URI of the repost through which it was seen, when given'),
  CREATED_AT,
  TIME_US,
];
const SUBJECT_DID: readonly Column[] = [...RECORD_ID, col('subject_did', 'VARCHAR', 'DID of the followed or blocked account'), CREATED_AT, TIME_US];

const COMMIT_KEY = ['author_did', 'rkey', 'rev'] as const;
const COLLECTION_COMMIT_KEY = ['author_did', 'collection', 'rkey', 'rev'] as const;

export const TABLES: Record<TableName, TableSpec> = {
  posts: {
    name: 'posts',
    description: 'app.bsky.feed.post creates and updates',
    collection: 'app.bsky.feed.post',
    key: COMMIT_KEY,
    columns: [
      ...RECORD_ID,
      CID,
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
      col('record', 'JSON', "the raw record without its text field, which is the text column: json_merge_patch(record, json_object('text', text)) restores it"),
    ],
  },
  likes: { name: 'likes', description: 'app.bsky.feed.like creates and updates', collection: 'app.bsky.feed.like', key: COMMIT_KEY, columns: SUBJECT_RECORD },
  reposts: { name: 'reposts', description: 'app.bsky.feed.repost creates and updates', collection: 'app.bsky.feed.repost', key: COMMIT_KEY, columns: SUBJECT_RECORD },
  follows: { name: 'follows', description: 'app.bsky.graph.follow creates and updates', collection: 'app.bsky.graph.follow', key: COMMIT_KEY, columns: SUBJECT_DID },
  blocks: { name: 'blocks', description: 'app.bsky.graph.block creates and updates', collection: 'app.bsky.graph.block', key: COMMIT_KEY, columns: SUBJECT_DID },
  profiles: {
    name: 'profiles',
    description: 'app.bsky.actor.profile creates and updates',
    collection: 'app.bsky.actor.profile',
    key: COMMIT_KEY,
    columns: [
      ...RECORD_ID,
      CID,
      col('display_name', 'VARCHAR', 'displayName'),
      col('description', 'VARCHAR', 'profile description'),
      CREATED_AT,
      TIME_US,
      RECORD,
    ],
  },
  deletes: {
    name: 'deletes',
    description: 'tombstones: every commit delete, of any collection',
    key: COLLECTION_COMMIT_KEY,
    columns: [
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
    key: COLLECTION_COMMIT_KEY,
    columns: [
      col('author_did', 'VARCHAR', 'DID of the repository'),
      col('collection', 'VARCHAR', 'collection NSID'),
      col('rkey', 'VARCHAR', 'record key'),
      col('rev', 'VARCHAR', 'repository revision (TID) of the commit'),
      col('operation', 'VARCHAR', 'create or update'),
      CID,
      TIME_US,
      RECORD,
    ],
  },
};

/** Tables whose rows are records (they have an AT URI); identities and accounts are not. */
export function hasRecordUri(table: TableName): boolean {
  return table !== 'identities' && table !== 'accounts';
}

/**
 * SQL for the AT URI of a row of a record table, from its stored columns.
 * `alias` qualifies the columns (e.g. 'p' for p.author_did).
 */
export function uriSql(table: TableName, alias?: string): string {
  if (!hasRecordUri(table)) throw new Error(`rows of ${table} are not records`);
  const c = (name: string) => (alias ? `${alias}.${name}` : name);
  const collection = TABLES[table].collection;
  return collection
    ? `('at://' || ${c('author_did')} || '/${collection}/' || ${c('rkey')})`
    : `('at://' || ${c('author_did')} || '/' || ${c('collection')} || '/' || ${c('rkey')})`;
}

/** Index of a column in a table's rows. */
export function columnIndex(table: TableName, column: string): number {
  const index = TABLES[table].columns.findIndex((c) => c.name === column);
  if (index < 0) throw new Error(`table ${table} has no column ${column}`);
  return index;
}

// The term index of a compacted posts file, declared once: the writer builds it
// when it compacts an hour (services/writer/term-index.ts), the search reads it to
// skip the hours and rows that cannot match (services/api/term-index.ts). One row
// per distinct term of the file's post texts; where the file lives: layout.ts.
//
// A term is a maximal run of word characters of the lowercased text: letters,
// digits and combining marks ([\pL\pN]+ alone is not closed under RE2's case
// folding: U+0345, a mark, folds to ι, so a case-insensitive match could straddle
// two [\pL\pN] runs). Characters of scripts written without spaces (Chinese,
// Japanese, Thai, ...) separate terms instead of joining them: a whole sentence
// would otherwise be one term, so the dictionary would hold one term per sentence
// and no query word could ever be looked up by it. Searches whose words are all in
// those scripts read the posts instead (services/api/term-index.ts).
//
// The search needs a term's rows only while they are few: past maxPostings rows,
// reading those rows costs as much as scanning the hour, so the index keeps only
// the count (and the dictionary stays small enough to read in full for each search).

const WORD_CHARACTERS = '\\pL\\pN\\pM';
const UNSPACED_SCRIPTS = '\\p{Han}\\p{Hiragana}\\p{Katakana}\\x{30FC}\\x{FF70}\\p{Thai}\\p{Lao}\\p{Khmer}\\p{Myanmar}';

export interface IndexColumn {
  name: string;
  type: 'VARCHAR' | 'UINTEGER' | 'UINTEGER[]';
  description: string;
}

export const TERM_INDEX = {
  description: 'the distinct terms of the texts of one compacted posts file, with the rows that hold each rare one',
  columns: [
    { name: 'term', type: 'VARCHAR', description: 'a term of the lowercased text (see termSplitSql); rows are sorted by term' },
    { name: 'n', type: 'UINTEGER', description: 'how many rows of the posts file hold the term' },
    { name: 'row_ids', type: 'UINTEGER[]', description: 'those rows (file_row_number in the posts file), ascending; NULL when n > maxPostings' },
  ] as readonly IndexColumn[],
  /** A term's rows are kept when at most this many; the search fetches at most this many candidates per file and word. */
  maxPostings: 256,
  /** RE2 class bodies of the characters terms are made of, and of those that nevertheless separate terms. */
  wordCharacters: WORD_CHARACTERS,
  unspacedScripts: UNSPACED_SCRIPTS,
} as const;

/**
 * SQL splitting a text expression into its terms: the lowercased text cut at every
 * run of non-word (or unspaced-script) characters. Like string_split_regex, the
 * list starts (ends) with '' when the text starts (ends) with a separator, which
 * tells the search which of its words are whole at one side.
 */
export function termSplitSql(textSql: string): string {
  return `string_split_regex(lower(${textSql}), '(?:[^${WORD_CHARACTERS}]|[${UNSPACED_SCRIPTS}])+')`;
}
