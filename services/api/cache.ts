// A brief Redis cache of identical read queries (same route, same query string).
// Researchers re-run the same search while refining others; the cache saves the
// repeats. It is an optimisation only: when Redis is slow or down, queries run.

import { createHash } from 'node:crypto';
import type { Redis } from '../shared/redis.ts';

/** Cache calls never wait longer than this for Redis. */
const REDIS_BUDGET_MS = 50;

export class ResponseCache {
  hits = 0;
  misses = 0;

  constructor(
    private readonly redis: Redis | undefined,
    private readonly prefix: string,
    private readonly ttlSeconds: number,
  ) {}

  key(route: string, query: unknown): string {
    const digest = createHash('sha256').update(`${route}?${JSON.stringify(query)}`).digest('base64url');
    return `${this.prefix}:api:cache:${digest}`;
  }

  async get<T>(key: string): Promise<T | undefined> {
    if (!this.redis || this.ttlSeconds === 0 || this.redis.status !== 'ready') return undefined;
    const value = await withBudget(this.redis.get(key));
    if (typeof value === 'string') {
      this.hits += 1;
      return JSON.parse(value) as T;
    }
    this.misses += 1;
    return undefined;
  }

  async set(key: string, value: unknown): Promise<void> {
    if (!this.redis || this.ttlSeconds === 0 || this.redis.status !== 'ready') return;
    await withBudget(this.redis.set(key, JSON.stringify(value), 'EX', this.ttlSeconds));
  }
}

async function withBudget<T>(promise: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), REDIS_BUDGET_MS)));
  try {
    return await Promise.race([promise.catch(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
