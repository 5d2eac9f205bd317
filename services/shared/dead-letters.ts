// Events the pipeline refuses go to a capped dead-letter stream with their reason,
// so an operator can inspect them (XRANGE) and nothing is refused silently.

import type { Redis } from './redis.ts';

/** Dead letters keep at most this much of the raw frame: enough to diagnose, bounded in memory. */
const MAX_RAW_CHARS = 16_384;

export interface DeadLetter {
  reason: string;
  detail: string;
  raw: string;
  source: 'ingester' | 'writer';
}

export async function writeDeadLetters(redis: Redis, key: string, maxLength: number, letters: readonly DeadLetter[]): Promise<void> {
  if (letters.length === 0) return;
  const pipeline = redis.pipeline();
  const at = new Date().toISOString();
  for (const letter of letters) {
    const raw = letter.raw.length > MAX_RAW_CHARS ? `${letter.raw.slice(0, MAX_RAW_CHARS)}…[truncated ${letter.raw.length} chars]` : letter.raw;
    pipeline.xadd(key, 'MAXLEN', '~', maxLength, '*', 'reason', letter.reason, 'detail', letter.detail, 'source', letter.source, 'at', at, 'raw', raw);
  }
  const results = await pipeline.exec();
  const failed = results?.find(([error]) => error);
  if (failed?.[0]) throw failed[0];
}
