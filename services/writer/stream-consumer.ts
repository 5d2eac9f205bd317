// The writer's side of the Redis stream: consumer-group reads, reclaiming orphans,
// batch manifests, and the fenced commit (XACK + manifest removal + trim).
//
// A batch's manifest (its stream IDs) is recorded before any of its files is
// written. If the writer dies between writing and acknowledging, the next leader
// rebuilds exactly that batch from the manifest: same entries, same rows, same
// file names, so the files are overwritten instead of duplicated. Entries pending
// without a manifest were never written and simply form new batches.

import type { Redis } from '../shared/redis.ts';
import type { RedisKeys } from '../shared/redis-keys.ts';

export interface StreamEntry {
  id: string;
  /** Field `e`: the raw Jetstream event; undefined when the entry lacks it. */
  payload: string | undefined;
}

export class LeaseLostError extends Error {
  constructor() {
    super('the writer lease is held by another writer');
    this.name = 'LeaseLostError';
  }
}

// KEYS: lease, manifests. ARGV: token, batch id, comma-separated ids.
const RECORD_MANIFEST_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1`;

// KEYS: lease, manifests, stream. ARGV: token, batch id, comma-separated ids, group.
// Acknowledges the batch and forgets its manifest in one step, then trims the
// stream below the oldest entry the group still needs: entries under both the
// oldest pending ID and the last delivered ID have all been acknowledged.
const COMMIT_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local stream, group = KEYS[3], ARGV[4]
local ids, acked = {}, 0
for id in string.gmatch(ARGV[3], '[^,]+') do
  ids[#ids + 1] = id
  if #ids == 500 then acked = acked + redis.call('XACK', stream, group, unpack(ids)); ids = {} end
end
if #ids > 0 then acked = acked + redis.call('XACK', stream, group, unpack(ids)) end
redis.call('HDEL', KEYS[2], ARGV[2])
local minId
local summary = redis.call('XPENDING', stream, group)
if summary[1] > 0 then
  minId = summary[2]
else
  for _, info in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    local fields = {}
    for i = 1, #info, 2 do fields[info[i]] = info[i + 1] end
    if fields['name'] == group then
      local ms, seq = string.match(fields['last-delivered-id'], '^(%d+)-(%d+)$')
      minId = ms .. '-' .. string.format('%.0f', tonumber(seq) + 1)
    end
  end
end
-- LIMIT 0: with ~ alone Redis evicts at most 100 nodes (10,000 entries) per call,
-- less than a batch: the stream would grow by the difference with every batch until
-- the ingester's backpressure stopped it for good (trimming happens only here).
if minId then redis.call('XTRIM', stream, 'MINID', '~', minId, 'LIMIT', 0) end
return acked`;

interface ConsumerCommands {
  bpeRecordManifest(lease: string, manifests: string, token: string, batchId: string, ids: string): Promise<number>;
  bpeCommit(lease: string, manifests: string, stream: string, token: string, batchId: string, ids: string, group: string): Promise<number>;
}

type RawEntry = [id: string, fields: string[] | null];

function toEntry([id, fields]: RawEntry): StreamEntry {
  let payload: string | undefined;
  if (fields) {
    for (let i = 0; i < fields.length; i += 2) {
      if (fields[i] === 'e') payload = fields[i + 1];
    }
  }
  return { id, payload };
}

export class StreamConsumer {
  private readonly redis: Redis & ConsumerCommands;

  /**
   * @param redis commands and scripts
   * @param blocking a separate connection for XREADGROUP BLOCK, which holds its connection while it waits
   */
  constructor(
    redis: Redis,
    private readonly blocking: Redis,
    private readonly keys: RedisKeys,
    readonly consumer: string,
  ) {
    redis.defineCommand('bpeRecordManifest', { numberOfKeys: 2, lua: RECORD_MANIFEST_SCRIPT });
    redis.defineCommand('bpeCommit', { numberOfKeys: 3, lua: COMMIT_SCRIPT });
    this.redis = redis as Redis & ConsumerCommands;
  }

  /** Creates the group (and the stream) if missing, starting from the stream's first entry. */
  async ensureGroup(): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', this.keys.stream, this.keys.writerGroup, '0', 'MKSTREAM');
    } catch (error) {
      if (!String((error as Error).message).includes('BUSYGROUP')) throw error;
    }
  }

  /** Entries never delivered to any consumer, waiting up to blockMs for the first. */
  async readNew(count: number, blockMs: number): Promise<StreamEntry[]> {
    const reply = (await this.blocking.xreadgroup(
      'GROUP', this.keys.writerGroup, this.consumer,
      'COUNT', count, 'BLOCK', blockMs,
      'STREAMS', this.keys.stream, '>',
    ));
    return reply?.[0]?.[1].map(toEntry) ?? [];
  }

  /** Pending entries of any consumer (orphans, when this writer holds the lease), from `start`. */
  async claimPending(start: string, count: number): Promise<{ next: string; entries: StreamEntry[] }> {
    const [next, raw] = (await this.redis.xautoclaim(this.keys.stream, this.keys.writerGroup, this.consumer, 0, start, 'COUNT', count)) as [
      string,
      RawEntry[],
      string[]?,
    ];
    return { next, entries: raw.filter((entry) => entry[1] !== null).map(toEntry) };
  }

  /** Takes over specific pending entries (a manifest's), returning those still pending. */
  async claimIds(ids: readonly string[]): Promise<StreamEntry[]> {
    const entries: StreamEntry[] = [];
    for (let i = 0; i < ids.length; i += 1000) {
      const raw = (await this.redis.xclaim(this.keys.stream, this.keys.writerGroup, this.consumer, 0, ...ids.slice(i, i + 1000))) as RawEntry[];
      for (const entry of raw) if (entry[1] !== null) entries.push(toEntry(entry));
    }
    return entries;
  }

  async manifests(): Promise<Map<string, string[]>> {
    const all = await this.redis.hgetall(this.keys.writerManifests);
    return new Map(Object.entries(all).map(([batchId, ids]) => [batchId, ids.split(',')]));
  }

  async dropManifest(batchId: string): Promise<void> {
    await this.redis.hdel(this.keys.writerManifests, batchId);
  }

  async recordManifest(token: string, batchId: string, ids: readonly string[]): Promise<void> {
    const ok = await this.redis.bpeRecordManifest(this.keys.writerLease, this.keys.writerManifests, token, batchId, ids.join(','));
    if (ok !== 1) throw new LeaseLostError();
  }

  /** Acknowledges the batch, forgets its manifest and trims consumed entries; fenced by the lease token. */
  async commit(token: string, batchId: string, ids: readonly string[]): Promise<number> {
    const acked = await this.redis.bpeCommit(
      this.keys.writerLease, this.keys.writerManifests, this.keys.stream,
      token, batchId, ids.join(','), this.keys.writerGroup,
    );
    if (acked < 0) throw new LeaseLostError();
    return acked;
  }

  /** Backlog figures for metrics and drain checks. */
  async backlog(): Promise<StreamBacklog> {
    return readBacklog(this.redis, this.keys);
  }
}

export interface StreamBacklog {
  /** XLEN: entries not yet trimmed (trimming is approximate: up to ~100 consumed entries may linger). */
  length: number;
  /** Entries delivered to a writer and not yet acknowledged. */
  pending: number;
  /** Entries not yet delivered to any writer (the group's lag); null when Redis cannot tell. */
  undelivered: number | null;
  /** Age of the oldest pending entry, from its stream ID's timestamp (ms); 0 when none. */
  oldestPendingAgeMs: number;
}

/** Reads the backlog of the writers' group (0 everywhere when the stream or group does not exist yet). */
export async function readBacklog(redis: Redis, keys: RedisKeys): Promise<StreamBacklog> {
  const length = await redis.xlen(keys.stream);
  let groups: unknown[][];
  try {
    groups = (await redis.xinfo('GROUPS', keys.stream)) as unknown[][];
  } catch {
    return { length, pending: 0, undelivered: length, oldestPendingAgeMs: 0 };
  }
  const group = groups.map(fieldsOf).find((g) => g.name === keys.writerGroup);
  if (!group) return { length, pending: 0, undelivered: length, oldestPendingAgeMs: 0 };
  const pending = Number(group.pending ?? 0);
  let oldestPendingAgeMs = 0;
  if (pending > 0) {
    const summary = (await redis.xpending(keys.stream, keys.writerGroup)) as [number, string | null, string | null, unknown];
    if (summary[1]) oldestPendingAgeMs = Math.max(0, Date.now() - Number(summary[1].split('-')[0]));
  }
  const lag = group.lag === null || group.lag === undefined ? null : Number(group.lag);
  return { length, pending, undelivered: lag ?? (await countUndelivered(redis, keys.stream, String(group['last-delivered-id']), length, pending)), oldestPendingAgeMs };
}

/**
 * The entries after the group's last delivered ID, when XINFO's `lag` is unknown:
 * Redis 7.0 forgets the group's read counter when it loads the stream from the AOF
 * (after a restart), and says `lag` nil until the group reads the stream's last
 * entry again. A short backlog is counted exactly (drain checks need 0 to mean 0);
 * past UNDELIVERED_EXACT_UP_TO it is estimated from the length: the commit trims all
 * that is consumed, so the stream holds the pending and undelivered entries and at
 * most one partly consumed node (~100 entries) more.
 */
const UNDELIVERED_EXACT_UP_TO = 1000;

async function countUndelivered(redis: Redis, stream: string, lastDeliveredId: string, length: number, pending: number): Promise<number | null> {
  if (!/^\d+-\d+$/.test(lastDeliveredId)) return null;
  const after = await redis.xrange(stream, `(${lastDeliveredId}`, '+', 'COUNT', UNDELIVERED_EXACT_UP_TO + 1);
  return after.length <= UNDELIVERED_EXACT_UP_TO ? after.length : Math.max(after.length, length - pending);
}

function fieldsOf(flat: unknown[]): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[String(flat[i])] = flat[i + 1];
  return fields;
}
