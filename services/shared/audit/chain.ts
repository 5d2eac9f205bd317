// The audit trail's entries and the hash chain that links them: what an entry holds,
// its canonical JSON and its hash, and how the next entry is sealed onto the last.
//
// Every entry holds the hash of the entry before it (`prev`) and its own hash over
// its canonical JSON (`hash`), so editing, removing or reordering an entry breaks
// the chain where it happened (verify.ts says where). The chain has three copies:
// the Redis stream, the primary (log.ts), and the daily files and Loki (mirror.ts).
// An intruder who controls one copy cannot quietly edit it: the other two, and the
// chain itself, disagree. The Redis users of the services may append to the stream
// but never delete from it or trim it by command (deploy/config/redis/acl.ts).

import { createHash } from 'node:crypto';

export const AUDIT_ACTIONS = ['auth_failure', 'key_created', 'key_revoked', 'key_rotated', 'export', 'admin', 'deploy'] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditActor {
  /** key: an API key (id and name); operator: someone at a shell; deployer: `npm run deploy`; anonymous: no valid key. */
  type: 'key' | 'operator' | 'anonymous' | 'deployer';
  id?: string;
  name?: string;
}

/** What a caller records. */
export interface AuditRecord {
  action: AuditAction;
  actor: AuditActor;
  /** The program that appended it: api, keys-cli, deploy-import. */
  source: string;
  /** The client's address, for requests. */
  ip?: string;
  details: Record<string, unknown>;
}

/** An entry of the chain. */
export interface AuditEntry extends AuditRecord {
  v: 1;
  /** 1, 2, 3, … without gaps. */
  seq: number;
  time: string;
  /** hash of the entry before (GENESIS for seq 1). */
  prev: string;
  /** sha256 of the entry's canonical JSON without this field. */
  hash: string;
}

export const GENESIS = '0'.repeat(64);

/** JSON with object keys sorted at every depth: one byte sequence per value, whatever the key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined && typeof v !== 'function')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function entryHash(entry: Omit<AuditEntry, 'hash'> | AuditEntry): string {
  const { hash: _hash, ...content } = entry as AuditEntry;
  return createHash('sha256').update(canonicalJson(content)).digest('hex');
}

/** The entry that follows `prev` (seq, hash) with this record. */
export function sealEntry(record: AuditRecord, seq: number, prev: string, time = new Date().toISOString()): AuditEntry {
  // Only JSON survives a round trip through the stream and the files: normalise now.
  const plain = JSON.parse(JSON.stringify(record)) as AuditRecord;
  const content = { v: 1 as const, seq, time, action: plain.action, actor: plain.actor, source: plain.source, ...(plain.ip ? { ip: plain.ip } : {}), details: plain.details ?? {}, prev };
  return { ...content, hash: entryHash(content) };
}

/** The chain head as stored in Redis (`<seq>:<hash>`, see keys.ts); none yet is seq 0 on GENESIS. */
export function parseHead(head: string | null): { seq: number; hash: string } {
  const match = /^(\d+):([0-9a-f]{64})$/.exec(head ?? '');
  return match ? { seq: Number(match[1]), hash: match[2]! } : { seq: 0, hash: GENESIS };
}
