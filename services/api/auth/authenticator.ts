// Resolves the key a request presents, for the auth plugin. A valid key is trusted
// for API_KEY_CACHE_MS (2 s by default) without asking Redis again, so a revoked key
// stops working everywhere within that time, whichever API process it reaches. Its
// last use is written back at most once a minute.

import { createHash } from 'node:crypto';
import type { ApiKeyRecord, ApiKeyStore, Verification } from './keys.ts';

const TOUCH_EVERY_MS = 60_000;
const MAX_CACHED = 10_000;

export class AuthUnavailableError extends Error {
  constructor(cause: unknown) {
    super('the key store (Redis) did not answer', { cause });
    this.name = 'AuthUnavailableError';
  }
}

export class Authenticator {
  private readonly cache = new Map<string, { record: ApiKeyRecord; until: number }>();
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly store: ApiKeyStore,
    private readonly cacheMs: number,
    private readonly onTouchError: (error: unknown) => void = () => undefined,
  ) {}

  async authenticate(presented: string): Promise<Verification> {
    // The cache is keyed by the key's hash: the secret itself is never kept.
    const digest = createHash('sha256').update(presented).digest('base64url');
    const now = Date.now();
    const cached = this.cache.get(digest);
    if (cached && cached.until > now && !(cached.record.expires_at && Date.parse(cached.record.expires_at) <= now)) {
      this.touch(cached.record.id, now);
      return { ok: true, record: cached.record };
    }
    let result: Verification;
    try {
      result = await this.store.verify(presented, new Date(now));
    } catch (error) {
      throw new AuthUnavailableError(error);
    }
    if (result.ok) {
      if (this.cacheMs > 0) {
        if (this.cache.size >= MAX_CACHED) this.cache.clear();
        this.cache.set(digest, { record: result.record, until: now + this.cacheMs });
      }
      this.touch(result.record.id, now);
    } else {
      this.cache.delete(digest);
    }
    return result;
  }

  private touch(id: string, now: number): void {
    if ((this.touched.get(id) ?? 0) + TOUCH_EVERY_MS > now) return;
    if (this.touched.size >= MAX_CACHED) this.touched.clear();
    this.touched.set(id, now);
    this.store.touch(id, new Date(now)).catch(this.onTouchError);
  }
}
