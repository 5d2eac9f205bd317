// API keys: `bpe_<id>_<secret>`, shown once when created; Redis keeps only the
// sha256 of the whole key, with the key's name, scopes and times:
//
//   <prefix>:apikeys:<id>       hash: id name scopes hash created_at expires_at
//                               rotated_from rotated_to   (written by `npm run keys` only)
//   <prefix>:apikeys:index      set of ids (for listing without SCAN)
//   <prefix>:apikeys-revoked    hash: id -> when it was revoked (the CLI, or an admin over the API)
//   <prefix>:apikeys-lastuse    hash: id -> when it was last used (the API)
//
// The split is for least privilege (deploy/config/redis/acl.ts): the API may read
// key records but never write one, so a compromised API process cannot mint a key;
// it may only mark keys used or revoked.
//
// The id is public (it names the key in logs, the audit trail and `npm run keys --
// list`); the secret is 256 random bits, so a plain sha256 is the right hash (a slow
// password hash protects guessable secrets, which these are not). The presented
// key's hash is compared with the stored one in constant time.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from '../../shared/redis.ts';

export const SCOPES = ['search', 'export', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** What a key looks like: found by secret scanners (test/secrets.test.ts) as well as by the API. */
export const API_KEY_PATTERN = /bpe_[0-9a-f]{16}_[A-Za-z0-9_-]{43}/;
const KEY_SHAPE = /^bpe_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
export const KEY_NAME = /^[\w .@:-]{1,64}$/;

// A type alias, not an interface: the admin routes answer with these records, and
// their schema's type is an open object (`[key: string]: unknown`), which only a
// type alias matches (an interface has no implicit index signature).
export type ApiKeyRecord = {
  id: string;
  name: string;
  scopes: Scope[];
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
  /** A rotated key keeps working until then (the grace period of a planned rotation). */
  expires_at: string | null;
  rotated_from: string | null;
  rotated_to: string | null;
};

export type Verification =
  | { ok: true; record: ApiKeyRecord }
  | { ok: false; reason: 'unknown' | 'revoked'; id?: string };

export function parseScopes(text: string): Scope[] {
  const scopes = [...new Set(text.split(',').map((s) => s.trim()).filter(Boolean))];
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0 || scopes.length === 0) throw new Error(`scopes must be a comma-separated list of ${SCOPES.join(', ')}; got ${JSON.stringify(text)}`);
  return scopes as Scope[];
}

/** `text` with the secret part of anything shaped like an API key replaced (the public id is kept). */
export function redactKeys(text: string): string {
  return text.replace(new RegExp(API_KEY_PATTERN.source, 'g'), (key) => `${key.slice(0, 21)}[redacted]`);
}

/** The public id of a key-shaped string (no lookup). */
export function keyId(presented: string): string | undefined {
  return KEY_SHAPE.exec(presented)?.[1];
}

/**
 * The secret of a key-shaped string: all that follows `bpe_<id>_`. It is base64url, so
 * it may hold `_` itself (splitting the key on `_` keeps a fragment, or nothing).
 */
export function keySecret(presented: string): string | undefined {
  return KEY_SHAPE.exec(presented)?.[2];
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function toRecord(fields: Record<string, string>): ApiKeyRecord {
  const optional = (name: string) => (fields[name] ? fields[name] : null);
  return {
    id: fields.id ?? '',
    name: fields.name ?? '',
    scopes: (fields.scopes ?? '').split(',').filter((s): s is Scope => (SCOPES as readonly string[]).includes(s)),
    created_at: fields.created_at ?? '',
    last_used_at: null,
    revoked_at: null,
    expires_at: optional('expires_at'),
    rotated_from: optional('rotated_from'),
    rotated_to: optional('rotated_to'),
  };
}

export class ApiKeyStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private keyOf(id: string): string {
    return `${this.prefix}:apikeys:${id}`;
  }

  private get index(): string {
    return `${this.prefix}:apikeys:index`;
  }

  private get revoked(): string {
    return `${this.prefix}:apikeys-revoked`;
  }

  private get lastUse(): string {
    return `${this.prefix}:apikeys-lastuse`;
  }

  /** Creates a key; the returned `key` is the only time the secret exists outside the client. */
  async create(name: string, scopes: readonly Scope[], extra: { rotatedFrom?: string; now?: Date } = {}): Promise<{ key: string; record: ApiKeyRecord }> {
    if (!KEY_NAME.test(name)) throw new Error('a key name is 1 to 64 letters, digits, spaces or _ . @ : -');
    if (scopes.length === 0) throw new Error('a key needs at least one scope');
    const id = randomBytes(8).toString('hex');
    const key = `bpe_${id}_${randomBytes(32).toString('base64url')}`;
    const createdAt = (extra.now ?? new Date()).toISOString();
    const fields: Record<string, string> = {
      id,
      name,
      scopes: [...new Set(scopes)].join(','),
      hash: sha256(key).toString('hex'),
      created_at: createdAt,
      ...(extra.rotatedFrom ? { rotated_from: extra.rotatedFrom } : {}),
    };
    // HSETNX on the id first: 64 random bits never collide in practice, but a collision must not overwrite a key.
    const fresh = await this.redis.hsetnx(this.keyOf(id), 'id', id);
    if (fresh !== 1) throw new Error('key id collision; try again');
    await this.redis.multi().hset(this.keyOf(id), fields).sadd(this.index, id).exec();
    return { key, record: toRecord(fields) };
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const results = await this.redis.pipeline().hgetall(this.keyOf(id)).hget(this.revoked, id).hget(this.lastUse, id).exec();
    const [fields, revokedAt, lastUsedAt] = (results ?? []).map(([error, value]) => {
      if (error) throw error;
      return value;
    }) as [Record<string, string>, string | null, string | null];
    return fields.id ? { ...toRecord(fields), revoked_at: revokedAt ?? null, last_used_at: lastUsedAt ?? null } : undefined;
  }

  async list(): Promise<ApiKeyRecord[]> {
    const ids = (await this.redis.smembers(this.index)).sort();
    const [revoked, used] = await Promise.all([this.redis.hgetall(this.revoked), this.redis.hgetall(this.lastUse)]);
    const records = await Promise.all(ids.map(async (id) => toRecord(await this.redis.hgetall(this.keyOf(id)))));
    return records
      .filter((r) => r.id !== '')
      .map((r) => ({ ...r, revoked_at: revoked[r.id] ?? null, last_used_at: used[r.id] ?? null }))
      .sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
  }

  /** Revokes a key at once; revoking a revoked key changes nothing. */
  async revoke(id: string, now = new Date()): Promise<ApiKeyRecord> {
    const record = await this.get(id);
    if (!record) throw new Error(`no key ${id}`);
    if (record.revoked_at) return record;
    await this.redis.hsetnx(this.revoked, id, now.toISOString());
    return (await this.get(id))!;
  }

  /**
   * A new key with the same name and scopes. The old key is revoked at once, or,
   * with a grace period, expires when it ends (both clients can switch over).
   */
  async rotate(id: string, options: { graceSeconds?: number; now?: Date } = {}): Promise<{ key: string; record: ApiKeyRecord; old: ApiKeyRecord }> {
    const now = options.now ?? new Date();
    const old = await this.get(id);
    if (!old) throw new Error(`no key ${id}`);
    if (old.revoked_at) throw new Error(`key ${id} is revoked; create a new one instead`);
    const created = await this.create(old.name, old.scopes, { rotatedFrom: id, now });
    const grace = options.graceSeconds ?? 0;
    const updates: Record<string, string> = { rotated_to: created.record.id };
    if (grace > 0) updates.expires_at = new Date(now.getTime() + grace * 1000).toISOString();
    await this.redis.hset(this.keyOf(id), updates);
    if (grace === 0) await this.redis.hsetnx(this.revoked, id, now.toISOString());
    return { ...created, old: (await this.get(id))! };
  }

  /** Checks a presented key. Unknown and malformed keys cost one lookup at most and look alike to the caller. */
  async verify(presented: string, now = new Date()): Promise<Verification> {
    const id = keyId(presented);
    if (!id) return { ok: false, reason: 'unknown' };
    const results = await this.redis.pipeline().hgetall(this.keyOf(id)).hget(this.revoked, id).exec();
    const [fields, revokedAt] = (results ?? []).map(([error, value]) => {
      if (error) throw error;
      return value;
    }) as [Record<string, string>, string | null];
    const stored = Buffer.from(fields.hash ?? '', 'hex');
    const given = sha256(presented);
    // Constant time over the hash; a missing record compares against zeros of the same length.
    const equal = timingSafeEqual(given, stored.length === given.length ? stored : Buffer.alloc(given.length));
    if (!equal || !fields.id) return { ok: false, reason: 'unknown' };
    const record = { ...toRecord(fields), revoked_at: revokedAt ?? null };
    if (record.revoked_at || (record.expires_at && Date.parse(record.expires_at) <= now.getTime())) return { ok: false, reason: 'revoked', id };
    return { ok: true, record };
  }

  /** Records a use (the API calls this at most once a minute per key). */
  async touch(id: string, when = new Date()): Promise<void> {
    await this.redis.hset(this.lastUse, id, when.toISOString());
  }
}
