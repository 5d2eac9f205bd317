// Every Redis key and group name the pipeline uses, derived from one prefix so
// several pipelines (or tests) can share one Redis without colliding.

export interface RedisKeys {
  /** The buffer: one entry per accepted Jetstream event, field `e` = the raw JSON. */
  stream: string;
  /** Events the ingester or writer refused, with their reason. */
  deadLetter: string;
  /** time_us of the newest event durably added to the stream (string, microseconds). */
  cursor: string;
  /** Sorted set of recently added event keys scored by time_us, for replay deduplication. */
  recent: string;
  /** Single-active-writer lease: value is the holder's fencing token. */
  writerLease: string;
  /** Hash: batch id -> comma-separated stream IDs of a batch being written (its manifest). */
  writerManifests: string;
  /** Consumer group of the writers. */
  writerGroup: string;
}

export function redisKeys(prefix: string): RedisKeys {
  return {
    stream: `${prefix}:events`,
    deadLetter: `${prefix}:deadletter`,
    cursor: `${prefix}:ingester:cursor`,
    recent: `${prefix}:ingester:recent`,
    writerLease: `${prefix}:writer:lease`,
    writerManifests: `${prefix}:writer:manifests`,
    writerGroup: 'writers',
  };
}
