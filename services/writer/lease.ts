// Single-active-writer lease with a fencing token.
//
// One writer at a time owns the consumer group's work; others wait as standbys.
// One writer already turns the peak firehose into Parquet many times over on one
// VM, and a single owner makes recovery simple: when it takes over, every pending
// entry is an orphan of a dead or fenced predecessor. The token is checked inside
// the scripts that record a batch and acknowledge it (stream-consumer.ts), so a
// paused former leader (GC, frozen VM) that wakes up cannot acknowledge anything.

import { randomUUID } from 'node:crypto';
import type { Redis } from '../shared/redis.ts';

// Takes the lease if it is free, or if it already holds our token: a SET whose reply
// was lost (Redis went away after executing it) leaves the lease ours in Redis while
// we believe the attempt failed, and SET NX alone would then wait out the whole TTL.
const ACQUIRE_SCRIPT = `
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
const RENEW_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

interface LeaseCommands {
  bpeLeaseAcquire(key: string, token: string, ttlMs: number): Promise<number>;
  bpeLeaseRenew(key: string, token: string, ttlMs: number): Promise<number>;
  bpeLeaseRelease(key: string, token: string): Promise<number>;
}

export class Lease {
  readonly token = randomUUID();
  private validUntil = 0;
  private renewTimer: NodeJS.Timeout | undefined;
  private readonly redis: Redis & LeaseCommands;

  constructor(
    redis: Redis,
    readonly key: string,
    private readonly ttlMs: number,
    private readonly onLost: () => void,
  ) {
    redis.defineCommand('bpeLeaseAcquire', { numberOfKeys: 1, lua: ACQUIRE_SCRIPT });
    redis.defineCommand('bpeLeaseRenew', { numberOfKeys: 1, lua: RENEW_SCRIPT });
    redis.defineCommand('bpeLeaseRelease', { numberOfKeys: 1, lua: RELEASE_SCRIPT });
    this.redis = redis as Redis & LeaseCommands;
  }

  /** True while the last successful acquire or renewal is recent enough to trust. */
  get held(): boolean {
    return Date.now() < this.validUntil;
  }

  async tryAcquire(): Promise<boolean> {
    const started = Date.now();
    if ((await this.redis.bpeLeaseAcquire(this.key, this.token, this.ttlMs)) !== 1) return false;
    this.extend(started);
    this.renewTimer = setInterval(() => void this.renew(), Math.max(100, Math.floor(this.ttlMs / 3)));
    this.renewTimer.unref();
    return true;
  }

  /** The holder currently recorded in Redis (for logs). */
  async holder(): Promise<string | null> {
    return this.redis.get(this.key);
  }

  async release(): Promise<void> {
    clearInterval(this.renewTimer);
    this.renewTimer = undefined;
    this.validUntil = 0;
    await this.redis.bpeLeaseRelease(this.key, this.token);
  }

  private async renew(): Promise<void> {
    const started = Date.now();
    try {
      if ((await this.redis.bpeLeaseRenew(this.key, this.token, this.ttlMs)) === 1) {
        this.extend(started);
        return;
      }
      this.lose();
    } catch {
      // Redis unreachable: the lease is still ours until validUntil; the next renewal retries.
      if (!this.held) this.lose();
    }
  }

  /** Trust the lease a little less than its TTL, measured from when the request was sent. */
  private extend(sentAt: number): void {
    this.validUntil = sentAt + this.ttlMs - Math.min(1000, this.ttlMs / 10);
  }

  /** Once per lease: renewals queued while Redis was unreachable may all fail together. */
  private lose(): void {
    if (this.renewTimer === undefined) return;
    clearInterval(this.renewTimer);
    this.renewTimer = undefined;
    this.validUntil = 0;
    this.onLost();
  }
}
