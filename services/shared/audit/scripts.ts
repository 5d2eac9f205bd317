// The audit trail's Lua scripts, defined as commands on a Redis connection: what has
// to happen in one step in Redis. An append checks the chain head (and the dedupe set)
// and moves it in the same script, so concurrent writers in several processes still
// make one sequence; the mirror's lock is released only by the process holding it.

import type { Redis } from '../redis.ts';

// KEYS: stream, head, imported. ARGV: expected head ('' = none), new head, entry JSON,
// dedupe id ('' = none), approximate MAXLEN (0 = uncapped).
// Appends only if nobody else appended since the caller read the head; returns
// {1, stream id}, {0, current head} (retry), or {2, head} (already imported).
const APPEND_SCRIPT = `
local head = redis.call('GET', KEYS[2]) or ''
if head ~= ARGV[1] then return {0, head} end
if ARGV[4] ~= '' and redis.call('SISMEMBER', KEYS[3], ARGV[4]) == 1 then return {2, head} end
local id
if tonumber(ARGV[5]) > 0 then
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[5], '*', 'entry', ARGV[3])
else
  id = redis.call('XADD', KEYS[1], '*', 'entry', ARGV[3])
end
redis.call('SET', KEYS[2], ARGV[2])
if ARGV[4] ~= '' then redis.call('SADD', KEYS[3], ARGV[4]) end
return {1, id}`;

const RELEASE_LOCK_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export interface AuditCommands {
  bpeAuditAppend(stream: string, head: string, imported: string, expected: string, next: string, entry: string, dedupe: string, maxLen: number): Promise<[number, string]>;
  bpeAuditReleaseLock(lock: string, token: string): Promise<number>;
}

/** The connection with the audit commands defined (once per connection). */
export function withAuditCommands(redis: Redis): Redis & AuditCommands {
  const r = redis as Redis & Partial<AuditCommands>;
  if (!r.bpeAuditAppend) redis.defineCommand('bpeAuditAppend', { numberOfKeys: 3, lua: APPEND_SCRIPT });
  if (!r.bpeAuditReleaseLock) redis.defineCommand('bpeAuditReleaseLock', { numberOfKeys: 1, lua: RELEASE_LOCK_SCRIPT });
  return redis as Redis & AuditCommands;
}
