// Opaque keyset cursors: the position (time_us, author, rkey) of the last result of a
// page, plus a fingerprint of the query, so a cursor cannot be replayed against
// different filters (which would silently skip or repeat results).

import { createHash } from 'node:crypto';
import { badRequest } from './errors.ts';

export interface CursorPosition {
  timeUs: number;
  did: string;
  rkey: string;
}

/** A cursor: where the previous page ended, and the window of the first page. */
export interface PageCursor extends CursorPosition {
  startUs: number;
  endUs: number;
}

export function queryFingerprint(filters: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify(filters)).digest('base64url').slice(0, 12);
}

export function encodeCursor(cursor: PageCursor, fingerprint: string): string {
  return Buffer.from(JSON.stringify({ t: cursor.timeUs, d: cursor.did, r: cursor.rkey, s: cursor.startUs, e: cursor.endUs, f: fingerprint })).toString('base64url');
}

export function decodeCursor(cursor: string, fingerprint: string): PageCursor {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badRequest('cursor is not valid: pass next_cursor from a previous response unchanged');
  }
  const { t, d, r, s, e, f } = (value ?? {}) as Record<string, unknown>;
  const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
  if (!isTime(t) || !isTime(s) || !isTime(e) || typeof d !== 'string' || typeof r !== 'string' || typeof f !== 'string') {
    throw badRequest('cursor is not valid: pass next_cursor from a previous response unchanged');
  }
  if (f !== fingerprint) throw badRequest('cursor belongs to a different query: keep the same filters while paging');
  return { timeUs: t, did: d, rkey: r, startUs: s, endUs: e };
}
