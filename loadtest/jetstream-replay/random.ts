// Deterministic randomness for the generator. Every decision about event `i` is
// drawn from its own small PRNG seeded by hash(seed, i, purpose), so any event —
// or any single fact about it (its type, its author, its record key) — can be
// recomputed later from its index alone, without replaying the events before it.
// That is what lets the timeline drop old frames and regenerate them on demand.

/** Final mixer of MurmurHash3: a cheap, well-spread 32-bit permutation. */
export function mix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash of (seed, index, purpose); indexes above 2^32 fold their high part in. */
export function hash3(seed: number, index: number, purpose: number): number {
  const high = Math.floor(index / 4_294_967_296);
  let h = mix32(seed ^ 0x9e3779b9);
  h = mix32(h ^ (index >>> 0));
  h = mix32(h ^ Math.imul(high + 1, 0x27d4eb2f));
  return mix32(h ^ Math.imul(purpose + 1, 0x165667b1));
}

/** Uniform float in [0, 1) from one hash, for one-shot decisions that need no stream. */
export function unit(seed: number, index: number, purpose: number): number {
  return hash3(seed, index, purpose) / 4_294_967_296;
}

/** mulberry32: tiny, fast, good enough for synthetic traffic (not for cryptography). */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  static for(seed: number, index: number, purpose: number): Rng {
    return new Rng(hash3(seed, index, purpose));
  }

  /** Uniform 32-bit unsigned integer. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return this.next() / 4_294_967_296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** Uniform integer in [min, max] (both inclusive). */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  chance(probability: number): boolean {
    return this.float() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** `length` characters drawn uniformly from `alphabet` (32 symbols: 6 per draw). */
  chars32(alphabet: string, length: number): string {
    let out = '';
    let bits = 0;
    let pool = 0;
    for (let i = 0; i < length; i++) {
      if (bits < 5) {
        pool = this.next();
        bits = 32;
      }
      out += alphabet[pool & 31];
      pool >>>= 5;
      bits -= 5;
    }
    return out;
  }
}

/** A categorical distribution sampled by a uniform float; weights need not sum to 1. */
export class Weighted<T> {
  private readonly cumulative: number[] = [];
  readonly values: readonly T[];

  constructor(entries: readonly (readonly [T, number])[]) {
    this.values = entries.map(([value]) => value);
    let sum = 0;
    for (const [, weight] of entries) this.cumulative.push((sum += weight));
    for (let i = 0; i < this.cumulative.length; i++) this.cumulative[i]! /= sum;
  }

  /** The value whose cumulative band holds `u` (u in [0, 1)). */
  at(u: number): T {
    const c = this.cumulative;
    let lo = 0;
    let hi = c.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (u < c[mid]!) hi = mid;
      else lo = mid + 1;
    }
    return this.values[lo]!;
  }

  sample(rng: Rng): T {
    return this.at(rng.float());
  }
}

/**
 * A Zipf-like rank in [0, n): a power law with a flattened head, so the busiest
 * account is busy (about 1% of events) without one account dominating the stream.
 * Inverse CDF of p(k) ∝ 1/(k + a), continuous approximation.
 */
export function zipfRank(u: number, n: number, flatten = 8): number {
  const rank = Math.floor(flatten * (Math.pow(n / flatten + 1, u) - 1));
  return Math.min(n - 1, Math.max(0, rank));
}
