// The primary copy of the audit trail: the Redis stream `<prefix>:audit`. Appends
// from every process (each API process, the keys CLI) are serialized by a
// compare-and-set script on the chain head `<prefix>:audit:head` (scripts.ts), so the
// chain is one sequence however many processes write. The stream is capped; the
// daily files (mirror.ts) keep everything.

import type { Redis } from '../redis.ts';
import { parseHead, sealEntry, type AuditEntry, type AuditRecord } from './chain.ts';
import { auditKeys, type AuditKeys } from './keys.ts';
import { withAuditCommands, type AuditCommands } from './scripts.ts';

export interface AuditLogOptions {
  /** Approximate number of entries the stream keeps (the files keep everything); 0 = uncapped. */
  maxLen?: number;
  /** Called after each entry is in the chain (metrics). */
  onAppended?: (entry: AuditEntry) => void;
}

/** Appends to the chain in Redis. Appends of one process are queued; processes race on the head. */
export class AuditLog {
  readonly keys: AuditKeys;
  private readonly redis: Redis & AuditCommands;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    redis: Redis,
    prefix: string,
    private readonly options: AuditLogOptions = {},
  ) {
    this.redis = withAuditCommands(redis);
    this.keys = auditKeys(prefix);
  }

  /**
   * Appends a record; resolves with its entry, or undefined when `dedupeId` was
   * already imported. Rejects when Redis refuses (callers decide what that means).
   */
  append(record: AuditRecord, dedupeId = ''): Promise<AuditEntry | undefined> {
    const run = this.queue.then(() => this.appendNow(record, dedupeId));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async appendNow(record: AuditRecord, dedupeId: string): Promise<AuditEntry | undefined> {
    let head = (await this.redis.get(this.keys.head)) ?? '';
    for (let attempt = 0; attempt < 100; attempt++) {
      const { seq, hash } = parseHead(head);
      const entry = sealEntry(record, seq + 1, hash);
      const [status, value] = await this.redis.bpeAuditAppend(
        this.keys.stream, this.keys.head, this.keys.imported,
        head, `${entry.seq}:${entry.hash}`, JSON.stringify(entry), dedupeId, this.options.maxLen ?? 0,
      );
      if (status === 1) {
        this.options.onAppended?.(entry);
        return entry;
      }
      if (status === 2) return undefined;
      head = value;
    }
    throw new Error('audit: the chain head kept moving; append abandoned after 100 attempts');
  }
}

export interface StreamEntry {
  id: string;
  /** The raw JSON of the entry, as stored. */
  raw: string;
}

/** Entries of the stream, oldest first, after `afterId` (exclusive), in pages. */
export async function* readAuditStream(redis: Redis, keys: AuditKeys, afterId?: string, pageSize = 500): AsyncGenerator<StreamEntry> {
  let start = afterId ? `(${afterId}` : '-';
  for (;;) {
    const page = (await redis.xrange(keys.stream, start, '+', 'COUNT', pageSize)) as [string, string[]][];
    for (const [id, fields] of page) {
      const at = fields.indexOf('entry');
      yield { id, raw: at >= 0 ? (fields[at + 1] ?? '') : '' };
    }
    if (page.length < pageSize) return;
    start = `(${page.at(-1)![0]}`;
  }
}
