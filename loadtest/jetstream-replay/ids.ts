// atproto identifiers as they appear on the wire: TIDs (record keys and revs),
// CIDs (record and blob hashes) and did:plc identifiers. Only their textual shape
// matters here; the bytes behind them are random.

import type { Rng } from './random.ts';

/** base32-sortable alphabet of TIDs: lexical order equals numeric order. */
const SORTABLE = '234567abcdefghijklmnopqrstuvwxyz';
/** RFC 4648 base32, lower case: the multibase alphabet of CIDs and did:plc. */
export const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * A TID: 53 bits of microseconds since the epoch then a 10-bit clock id, as 13
 * base32-sortable characters (atproto TID spec). Built without BigInt: the 11
 * leading characters hold the timestamp, the last 2 the clock id.
 */
export function tid(timeUs: number, clockId: number): string {
  let t = Math.max(0, Math.floor(timeUs));
  let head = '';
  for (let i = 0; i < 11; i++) {
    head = SORTABLE[t % 32]! + head;
    t = Math.floor(t / 32);
  }
  return head + SORTABLE[(clockId >>> 5) & 31]! + SORTABLE[clockId & 31]!;
}

/** The timestamp (µs) inside a TID; the inverse of tid() for tests. */
export function tidTime(value: string): number {
  let t = 0;
  for (let i = 0; i < 11; i++) t = t * 32 + SORTABLE.indexOf(value[i]!);
  return t;
}

/** CIDv1 dag-cbor sha2-256 as Jetstream prints a record's cid: "bafyrei" + 52 characters. */
export function recordCid(rng: Rng): string {
  return `bafyrei${rng.chars32(BASE32, 52)}`;
}

/** CIDv1 raw sha2-256, the shape of blob references: "bafkrei" + 52 characters. */
export function blobCid(rng: Rng): string {
  return `bafkrei${rng.chars32(BASE32, 52)}`;
}

/** did:plc: + 24 base32 characters. */
export function plcDid(rng: Rng): string {
  return `did:plc:${rng.chars32(BASE32, 24)}`;
}

/** ISO 8601 with milliseconds, as clients write createdAt. */
export function isoTime(timeUs: number): string {
  return new Date(Math.floor(timeUs / 1000)).toISOString();
}
