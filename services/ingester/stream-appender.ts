// Appends accepted events to the Redis stream, atomically with the cursor.
//
// One Lua script call per batch does, for each event: skip it when its key is in
// the recent-keys set (a replayed event), otherwise XADD it and remember its key;
// then move the cursor to the newest time_us seen and forget keys that fell out of
// the deduplication window. Redis runs the script atomically and logs it to the
// AOF as one unit, so after any crash the stream, the cursor and the recent keys
// agree: an event is either in the stream with the cursor covering it, or
// neither, and a reconnect from the cursor (minus the rewind) refills any gap.

import type { Redis } from '../shared/redis.ts';
import type { RedisKeys } from '../shared/redis-keys.ts';

export interface PendingEvent {
  key: string;
  timeUs: number;
  raw: string;
}

export interface AppendResult {
  added: number;
  duplicates: number;
  /** Stream length after the append (backlog not yet trimmed by the writer). */
  streamLength: number;
  /** The cursor after the append (µs), 0 when none was ever saved. */
  cursor: number;
}

// Numbers above 2^31 lose digits in Lua's default number formatting, so time_us
// travels as strings and is formatted with %.0f (exact below 2^53).
const APPEND_SCRIPT = `
local stream, recent, cursorKey = KEYS[1], KEYS[2], KEYS[3]
local window = tonumber(ARGV[1])
local cursor = tonumber(redis.call('GET', cursorKey) or '0')
local newest = nil
local added, duplicates = 0, 0
for i = 2, #ARGV, 3 do
  local key, t, payload = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if redis.call('ZSCORE', recent, key) then
    duplicates = duplicates + 1
  else
    redis.call('XADD', stream, '*', 'e', payload)
    redis.call('ZADD', recent, t, key)
    added = added + 1
  end
  local tn = tonumber(t)
  if tn > cursor then cursor = tn; newest = t end
end
if newest then redis.call('SET', cursorKey, newest) end
redis.call('ZREMRANGEBYSCORE', recent, '-inf', '(' .. string.format('%.0f', cursor - window))
return {added, duplicates, redis.call('XLEN', stream), string.format('%.0f', cursor)}
`;

interface AppendCommand {
  bpeAppend(stream: string, recent: string, cursor: string, ...args: (string | number)[]): Promise<[number, number, number, string]>;
}

export class StreamAppender {
  private readonly redis: Redis & AppendCommand;

  constructor(
    redis: Redis,
    private readonly keys: RedisKeys,
    private readonly dedupWindowUs: number,
  ) {
    redis.defineCommand('bpeAppend', { numberOfKeys: 3, lua: APPEND_SCRIPT });
    this.redis = redis as Redis & AppendCommand;
  }

  async append(events: readonly PendingEvent[]): Promise<AppendResult> {
    const args: (string | number)[] = [this.dedupWindowUs];
    for (const event of events) args.push(event.key, String(event.timeUs), event.raw);
    const [added, duplicates, streamLength, cursor] = await this.redis.bpeAppend(this.keys.stream, this.keys.recent, this.keys.cursor, ...args);
    return { added, duplicates, streamLength, cursor: Number(cursor) };
  }

  /** The saved cursor (µs), or undefined before the first event was ever stored. */
  async savedCursor(): Promise<number | undefined> {
    const value = await this.redis.get(this.keys.cursor);
    return value === null ? undefined : Number(value);
  }

  async streamLength(): Promise<number> {
    return this.redis.xlen(this.keys.stream);
  }
}
