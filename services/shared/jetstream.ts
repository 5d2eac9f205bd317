// Jetstream v1 wire format: the event envelope, its validation, and the identity
// used to deduplicate replayed events.
//
// Reference: the bluesky-social/jetstream README ("Example events") and
// ../shared/NOTES.md. Unknown fields are tolerated (newer servers add `seq`,
// `cursor`); a record's contents are never validated here beyond "is an object":
// the writer's normalizers are total over any record shape and the raw record
// is kept, so a strange but well-enveloped event is stored, not dropped.

export type CommitOperation = 'create' | 'update' | 'delete';

export interface CommitEvent {
  did: string;
  time_us: number;
  kind: 'commit';
  commit: {
    rev: string;
    operation: CommitOperation;
    collection: string;
    rkey: string;
    record?: Record<string, unknown>;
    cid?: string;
  };
}

export interface IdentityEvent {
  did: string;
  time_us: number;
  kind: 'identity';
  identity: { did: string; handle?: string; seq: number; time: string };
}

export interface AccountEvent {
  did: string;
  time_us: number;
  kind: 'account';
  account: { did: string; active: boolean; status?: string; seq: number; time: string };
}

export type JetstreamEvent = CommitEvent | IdentityEvent | AccountEvent;
export type EventKind = JetstreamEvent['kind'];

/** Why an event was refused; each reason is a label value of the dead-letter metric. */
export type RejectReason =
  | 'oversized'
  | 'invalid_json'
  | 'not_an_object'
  | 'invalid_did'
  | 'invalid_time_us'
  | 'unknown_kind'
  | 'invalid_commit'
  | 'invalid_identity'
  | 'invalid_account';

export type ParseResult =
  | { ok: true; event: JetstreamEvent }
  | { ok: false; reason: RejectReason; detail: string };

// did:method:identifier, per the atproto DID spec (at most 2 KiB).
const DID = /^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$/;
// NSID: reversed domain authority then a name segment (atproto NSID spec, relaxed on case).
const NSID = /^[a-zA-Z]([a-zA-Z0-9-]{0,62})?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,62})?)+\.[a-zA-Z][a-zA-Z0-9]{0,62}$/;
// Record key: 1-512 characters of a restricted set, never "." or ".." (atproto record-key spec).
const RKEY = /^[a-zA-Z0-9._:~-]{1,512}$/;
const OPERATIONS: ReadonlySet<string> = new Set(['create', 'update', 'delete']);

/** The largest time_us accepted: year 2100, far beyond any honest clock, inside 2^53. */
const MAX_TIME_US = 4_102_444_800_000_000;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isDid(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 2048 && DID.test(value);
}

function isSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function reject(reason: RejectReason, detail: string): ParseResult {
  return { ok: false, reason, detail };
}

/**
 * Parses one Jetstream text frame. Never throws: every refusal carries a reason
 * (for the dead-letter stream and its metric) and a human-readable detail.
 */
export function parseJetstreamEvent(raw: string, maxBytes: number): ParseResult {
  // String length is a lower bound of the UTF-8 size; the exact size is only
  // computed for frames near the limit, keeping the hot path cheap.
  if (raw.length > maxBytes || (raw.length * 3 > maxBytes && Buffer.byteLength(raw) > maxBytes)) {
    return reject('oversized', `frame of ${Buffer.byteLength(raw)} bytes exceeds ${maxBytes}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    return reject('invalid_json', (error as Error).message);
  }
  return validateJetstreamEvent(value);
}

/** Validates an already-parsed value as a Jetstream event envelope. */
export function validateJetstreamEvent(value: unknown): ParseResult {
  if (!isObject(value)) return reject('not_an_object', 'event is not a JSON object');
  if (!isDid(value.did)) return reject('invalid_did', 'missing or malformed did');
  const timeUs = value.time_us;
  if (typeof timeUs !== 'number' || !Number.isSafeInteger(timeUs) || timeUs <= 0 || timeUs > MAX_TIME_US) {
    return reject('invalid_time_us', 'time_us must be a positive integer of microseconds');
  }
  switch (value.kind) {
    case 'commit':
      return validateCommit(value);
    case 'identity':
      return validateIdentity(value);
    case 'account':
      return validateAccount(value);
    default:
      // Only a string is quoted back: serialising an arbitrary value (a deeply nested
      // array) could itself throw, and this function never throws.
      return reject('unknown_kind', typeof value.kind === 'string' ? `unknown kind ${JSON.stringify(value.kind.slice(0, 40))}` : `kind is ${value.kind === null ? 'null' : typeof value.kind}, not a string`);
  }
}

function validateCommit(value: Record<string, unknown>): ParseResult {
  const commit = value.commit;
  if (!isObject(commit)) return reject('invalid_commit', 'commit is missing');
  const { rev, operation, collection, rkey, record, cid } = commit;
  if (typeof rev !== 'string' || rev.length === 0 || rev.length > 64) return reject('invalid_commit', 'missing or malformed rev');
  if (typeof operation !== 'string' || !OPERATIONS.has(operation)) return reject('invalid_commit', 'operation must be create, update or delete');
  if (typeof collection !== 'string' || collection.length > 317 || !NSID.test(collection)) {
    return reject('invalid_commit', 'missing or malformed collection');
  }
  if (typeof rkey !== 'string' || !RKEY.test(rkey) || rkey === '.' || rkey === '..') return reject('invalid_commit', 'missing or malformed rkey');
  if (operation !== 'delete') {
    if (!isObject(record)) return reject('invalid_commit', `${operation} without a record object`);
    if (typeof cid !== 'string' || cid.length === 0 || cid.length > 256) return reject('invalid_commit', `${operation} without a cid`);
  }
  return { ok: true, event: value as unknown as CommitEvent };
}

function validateIdentity(value: Record<string, unknown>): ParseResult {
  const identity = value.identity;
  if (!isObject(identity)) return reject('invalid_identity', 'identity is missing');
  if (!isDid(identity.did)) return reject('invalid_identity', 'identity.did is malformed');
  if (identity.handle !== undefined && (typeof identity.handle !== 'string' || identity.handle.length > 253)) {
    return reject('invalid_identity', 'identity.handle is malformed');
  }
  if (!isSeq(identity.seq)) return reject('invalid_identity', 'identity.seq must be a non-negative integer');
  if (typeof identity.time !== 'string') return reject('invalid_identity', 'identity.time is missing');
  return { ok: true, event: value as unknown as IdentityEvent };
}

function validateAccount(value: Record<string, unknown>): ParseResult {
  const account = value.account;
  if (!isObject(account)) return reject('invalid_account', 'account is missing');
  if (!isDid(account.did)) return reject('invalid_account', 'account.did is malformed');
  if (typeof account.active !== 'boolean') return reject('invalid_account', 'account.active must be a boolean');
  if (account.status !== undefined && typeof account.status !== 'string') return reject('invalid_account', 'account.status is malformed');
  if (!isSeq(account.seq)) return reject('invalid_account', 'account.seq must be a non-negative integer');
  if (typeof account.time !== 'string') return reject('invalid_account', 'account.time is missing');
  return { ok: true, event: value as unknown as AccountEvent };
}

/**
 * The identity of an event across replays: Jetstream redelivers the same event
 * after a cursor rewind or an instance switch, with the same content. Commits are
 * identified by (did, collection, rkey, rev) — one commit (rev) may touch several
 * records — and identity/account events by (did, seq).
 */
export function eventKey(event: JetstreamEvent): string {
  switch (event.kind) {
    case 'commit':
      return `c|${event.did}|${event.commit.collection}|${event.commit.rkey}|${event.commit.rev}`;
    case 'identity':
      return `i|${event.did}|${event.identity.seq}`;
    case 'account':
      return `a|${event.did}|${event.account.seq}`;
  }
}

/** The AT URI of a commit's record. */
export function recordUri(did: string, collection: string, rkey: string): string {
  return `at://${did}/${collection}/${rkey}`;
}

/** The collections the pipeline models in their own table, by their NSID. */
export const COLLECTIONS = {
  post: 'app.bsky.feed.post',
  like: 'app.bsky.feed.like',
  repost: 'app.bsky.feed.repost',
  follow: 'app.bsky.graph.follow',
  block: 'app.bsky.graph.block',
  profile: 'app.bsky.actor.profile',
} as const;
