// Jetstream v1's subscriber protocol: the /subscribe query parameters, the
// subscriber-sourced `options_update` message, and the filters they produce.
// Rules follow bluesky-social/jetstream (pkg/server): prefixes end in ".*",
// everything else must be a full NSID; at most 100 collections and 10,000 DIDs;
// maxMessageSizeBytes that is empty, negative or not a number means "no limit";
// a cursor that is not an integer is refused.

/** A refused request or message; `message` is the plain-text reason sent to the client. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

export const MAX_WANTED_COLLECTIONS = 100;
export const MAX_WANTED_DIDS = 10_000;

// atproto syntax, as indigo's syntax.ParseNSID / ParseDID check it.
const NSID = /^[a-zA-Z]([a-zA-Z0-9-]{0,62}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,62}[a-zA-Z0-9])?)+\.[a-zA-Z]([a-zA-Z0-9]{0,62})?$/;
/** The part before ".*" of a prefix: one or more complete NSID segments. */
const NSID_PREFIX = /^[a-zA-Z]([a-zA-Z0-9-]{0,62}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,62}[a-zA-Z0-9])?)*$/;
const DID = /^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$/;

/** wantedCollections: exact NSIDs and ".*" prefixes. */
export class CollectionFilter {
  constructor(
    readonly exact: ReadonlySet<string>,
    /** Prefixes with their trailing '*' removed (so "app.bsky." for "app.bsky.*"). */
    readonly prefixes: readonly string[],
  ) {}

  matches(collection: string): boolean {
    if (this.exact.has(collection)) return true;
    for (const prefix of this.prefixes) if (collection.startsWith(prefix)) return true;
    return false;
  }
}

export interface SubscriberFilters {
  /** undefined: every collection. */
  collections: CollectionFilter | undefined;
  /** undefined: every DID. */
  dids: ReadonlySet<string> | undefined;
  /** 0: no limit. */
  maxMessageSizeBytes: number;
}

export interface SubscribeRequest {
  filters: SubscriberFilters;
  /** Unix µs; undefined = live tail. */
  cursor: number | undefined;
  requireHello: boolean;
}

/** Jetstream's ParseMaxMessageSizeBytes: anything not a non-negative integer is 0 (no limit). */
export function parseMaxMessageSize(value: unknown): number {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 ? value : 0;
  if (typeof value !== 'string' || !/^[+-]?\d+$/.test(value)) return 0;
  const n = Number(value);
  return n > 0 ? n : 0;
}

export function parseFilters(wantedCollections: readonly string[], wantedDids: readonly string[], maxMessageSizeBytes: number): SubscriberFilters {
  let collections: CollectionFilter | undefined;
  if (wantedCollections.length > 0) {
    const exact = new Set<string>();
    const prefixes = new Set<string>();
    for (const wanted of wantedCollections) {
      if (wanted.endsWith('.*')) {
        const base = wanted.slice(0, -2);
        if (!NSID_PREFIX.test(base)) throw new ProtocolError(`invalid subscriber options: invalid collection prefix: ${wanted}`);
        prefixes.add(`${base}.`);
      } else if (wanted.length <= 317 && NSID.test(wanted)) {
        exact.add(wanted);
      } else {
        const hint = wanted.includes('*') ? ' (a prefix must end with ".*" after complete segments, e.g. app.bsky.graph.*)' : '';
        throw new ProtocolError(`invalid subscriber options: invalid collection: ${wanted}${hint}`);
      }
    }
    const count = exact.size + prefixes.size;
    if (count > MAX_WANTED_COLLECTIONS) {
      throw new ProtocolError(`invalid subscriber options: too many wanted collections (${count}, at most ${MAX_WANTED_COLLECTIONS})`);
    }
    collections = new CollectionFilter(exact, [...prefixes]);
  }
  let dids: Set<string> | undefined;
  if (wantedDids.length > 0) {
    dids = new Set();
    for (const did of wantedDids) {
      if (did.length > 2048 || !DID.test(did)) throw new ProtocolError(`invalid subscriber options: invalid did: ${did.slice(0, 100)}`);
      dids.add(did);
    }
    if (dids.size > MAX_WANTED_DIDS) throw new ProtocolError(`invalid subscriber options: too many wanted DIDs (${dids.size}, at most ${MAX_WANTED_DIDS})`);
  }
  return { collections, dids, maxMessageSizeBytes };
}

const INT64_MAX = 9_223_372_036_854_775_807n;

/**
 * Validates a /subscribe request before the upgrade. Throws ProtocolError with the
 * reason to answer with HTTP 400.
 */
export function parseSubscribeRequest(query: URLSearchParams, headers: Record<string, string | string[] | undefined>): SubscribeRequest {
  const encoding = headers['socket-encoding'];
  const zstdHeader = (Array.isArray(encoding) ? encoding.join(',') : (encoding ?? '')).includes('zstd');
  if (query.get('compress') === 'true' || zstdHeader) {
    throw new ProtocolError(
      'compression is not supported by this replay server (Jetstream would send zstd binary frames with its custom dictionary); connect without compress=true / Socket-Encoding: zstd',
    );
  }
  let cursor: number | undefined;
  const rawCursor = query.get('cursor');
  if (rawCursor !== null && rawCursor !== '') {
    if (!/^[+-]?\d+$/.test(rawCursor) || BigInt(rawCursor) > INT64_MAX || BigInt(rawCursor) < -INT64_MAX - 1n) {
      throw new ProtocolError(`invalid cursor: ${rawCursor.slice(0, 100)}`);
    }
    cursor = Number(rawCursor);
  }
  return {
    filters: parseFilters(query.getAll('wantedCollections'), query.getAll('wantedDids'), parseMaxMessageSize(query.get('maxMessageSizeBytes') ?? '')),
    cursor,
    requireHello: query.get('requireHello') === 'true',
  };
}

export type ClientMessage = { type: 'options_update'; filters: SubscriberFilters } | { type: 'ignored'; messageType: string };

const isStringArray = (value: unknown): value is string[] => Array.isArray(value) && value.every((v) => typeof v === 'string');

/**
 * A subscriber-sourced text message. Unknown types are ignored; a message that is
 * not JSON, or an options_update whose payload does not fit, throws: Jetstream
 * disconnects such a client.
 */
export function parseClientMessage(text: string): ClientMessage {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch (error) {
    throw new ProtocolError(`failed to unmarshal subscriber sourced message: ${(error as Error).message}`);
  }
  if (message === null) return { type: 'ignored', messageType: '' };
  if (typeof message !== 'object' || Array.isArray(message)) throw new ProtocolError('failed to unmarshal subscriber sourced message: not an object');
  const { type, payload } = message as { type?: unknown; payload?: unknown };
  if (type !== undefined && type !== null && typeof type !== 'string') throw new ProtocolError('failed to unmarshal subscriber sourced message: type is not a string');
  if (type !== 'options_update') return { type: 'ignored', messageType: typeof type === 'string' ? type : '' };

  if (payload === undefined) throw new ProtocolError('failed to unmarshal subscriber options update: missing payload');
  const options = (payload ?? {}) as { wantedCollections?: unknown; wantedDids?: unknown; maxMessageSizeBytes?: unknown };
  if (typeof options !== 'object' || Array.isArray(options)) throw new ProtocolError('failed to unmarshal subscriber options update: payload is not an object');
  const collections = options.wantedCollections ?? [];
  const dids = options.wantedDids ?? [];
  if (!isStringArray(collections)) throw new ProtocolError('failed to unmarshal subscriber options update: wantedCollections must be an array of strings');
  if (!isStringArray(dids)) throw new ProtocolError('failed to unmarshal subscriber options update: wantedDids must be an array of strings');
  const size = options.maxMessageSizeBytes ?? 0;
  if (typeof size !== 'number' || !Number.isInteger(size)) throw new ProtocolError('failed to unmarshal subscriber options update: maxMessageSizeBytes must be an integer');
  try {
    return { type: 'options_update', filters: parseFilters(collections, dids, parseMaxMessageSize(size)) };
  } catch (error) {
    throw new ProtocolError(`failed to parse subscriber options: ${(error as Error).message}`);
  }
}
