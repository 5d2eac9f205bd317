// The audit trail's two other copies, kept by one mirror of the Redis stream (log.ts):
//
// - daily files `<AUDIT_DIR>/audit-YYYY-MM-DD.jsonl`, written in stream order by one
//   mirror at a time (a Redis lock), mode 0600: the long-term record (the stream is
//   capped), backed up with the rest of the host (deploy/backup/backup.sh);
// - Loki, with the label `audit="true"`, through the services' Loki transport
//   (createAuditLokiLogger).

import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { logTransport, lokiTarget } from '../logger.ts';
import type { Redis } from '../redis.ts';
import type { AuditEntry } from './chain.ts';
import { auditKeys, type AuditKeys } from './keys.ts';
import { readAuditStream } from './log.ts';
import { withAuditCommands, type AuditCommands } from './scripts.ts';

export const AUDIT_FILE = /^audit-(\d{4}-\d{2}-\d{2})\.jsonl$/;

/** The daily files of an audit directory, oldest first. */
export async function auditFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  return names.filter((n) => AUDIT_FILE.test(n)).sort();
}

export interface AuditMirrorOptions {
  /** Where the daily files go (created 0700; files 0600). */
  dir: string;
  /** The Loki copy (createAuditLokiLogger); absent without LOKI_URL. */
  loki?: Logger;
  /** Called for every entry mirrored (metrics). */
  onMirrored?: (entry: AuditEntry) => void;
  /** Problems worth an operator's attention (a gap the stream's cap opened). */
  logger?: Logger;
  lockTtlMs?: number;
}

/**
 * Copies the stream, in order, to the daily files and to Loki. One mirror works at a
 * time (a Redis lock); where it resumes is read back from the files themselves, so
 * any number of processes can run one, and a crash mid-write repeats nothing.
 */
export class AuditMirror {
  private lastSeq: number | undefined;
  private lastId: string | undefined;
  private lastDay = '';
  private readonly redis: Redis & AuditCommands;
  private readonly keys: AuditKeys;
  private readonly token = randomUUID();

  constructor(
    redis: Redis,
    prefix: string,
    private readonly options: AuditMirrorOptions,
  ) {
    this.redis = withAuditCommands(redis);
    this.keys = auditKeys(prefix);
  }

  /** Mirrors what is new; returns the number of entries written (0 when another process holds the lock). */
  async sync(): Promise<number> {
    const locked = await this.redis.set(this.keys.mirrorLock, this.token, 'PX', this.options.lockTtlMs ?? 30_000, 'NX');
    if (locked !== 'OK') return 0;
    try {
      // Another process may have written since: the files say where we are.
      await this.readPosition();
      let written = 0;
      let batch: { day: string; lines: string[] } | undefined;
      const flush = async () => {
        if (batch && batch.lines.length > 0) await this.appendLines(batch.day, batch.lines);
        batch = undefined;
      };
      let scannedFrom = this.lastId;
      for await (const { id, raw } of readAuditStream(this.redis, this.keys, scannedFrom)) {
        scannedFrom = id;
        let entry: AuditEntry;
        try {
          entry = JSON.parse(raw) as AuditEntry;
        } catch {
          this.options.logger?.error({ streamId: id }, 'audit stream entry is not JSON; mirrored as is for audit:verify to report');
          entry = { seq: Number.NaN, time: new Date().toISOString() } as AuditEntry;
        }
        if (Number.isFinite(entry.seq) && this.lastSeq !== undefined && entry.seq <= this.lastSeq) continue;
        if (Number.isFinite(entry.seq) && this.lastSeq !== undefined && entry.seq > this.lastSeq + 1) {
          this.options.logger?.error({ from: this.lastSeq + 1, to: entry.seq - 1 }, 'audit entries left the stream before they were mirrored');
        }
        // Files are concatenated by name to rebuild the chain: never write to a day before the last one written.
        const entryDay = typeof entry.time === 'string' && /^\d{4}-\d{2}-\d{2}/.test(entry.time) ? entry.time.slice(0, 10) : this.lastDay;
        const day = entryDay > this.lastDay ? entryDay : this.lastDay || entryDay;
        if (batch && batch.day !== day) await flush();
        batch ??= { day, lines: [] };
        batch.lines.push(raw.replace(/\n/g, ' '));
        this.lastDay = day;
        if (Number.isFinite(entry.seq)) this.lastSeq = entry.seq;
        this.lastId = id;
        written += 1;
        this.options.loki?.info({ audit: entry }, `audit ${String(entry.action)}`);
        this.options.onMirrored?.(entry);
        if (batch.lines.length >= 500) await flush();
      }
      await flush();
      return written;
    } finally {
      await this.redis.bpeAuditReleaseLock(this.keys.mirrorLock, this.token).catch(() => undefined);
    }
  }

  /** The last mirrored entry, from the newest file (a torn last line, from a crash mid-write, is cut off). */
  private async readPosition(): Promise<void> {
    await mkdir(this.options.dir, { recursive: true, mode: 0o700 });
    const files = await auditFiles(this.options.dir);
    const last = files.at(-1);
    if (!last) {
      this.lastSeq = undefined;
      this.lastId = undefined;
      this.lastDay = '';
      return;
    }
    const path = join(this.options.dir, last);
    const text = await readFile(path, 'utf8');
    const complete = text.endsWith('\n') ? text : text.slice(0, text.lastIndexOf('\n') + 1);
    if (complete.length !== text.length) {
      this.options.logger?.warn({ file: last }, 'audit file ended with a torn line (a crash mid-write); cut it off');
      await truncate(path, Buffer.byteLength(complete));
    }
    this.lastDay = AUDIT_FILE.exec(last)![1]!;
    const lines = complete.trimEnd().split('\n').filter(Boolean);
    let seq: number | undefined;
    for (let i = lines.length - 1; i >= 0 && seq === undefined; i--) {
      try {
        const candidate = (JSON.parse(lines[i]!) as AuditEntry).seq;
        if (Number.isSafeInteger(candidate)) seq = candidate;
      } catch {
        // not an entry: audit:verify reports it; keep looking further up
      }
    }
    if (seq !== this.lastSeq) this.lastId = undefined; // written by someone else: find our place in the stream again
    this.lastSeq = seq;
  }

  private async appendLines(day: string, lines: string[]): Promise<void> {
    const path = join(this.options.dir, `audit-${day}.jsonl`);
    const handle = await open(path, 'a', 0o600);
    try {
      await handle.write(`${lines.join('\n')}\n`);
      await handle.datasync();
    } finally {
      await handle.close();
    }
  }
}

/** The Loki copy of the trail: its own stream, labelled audit="true" (besides service, env, level). */
export function createAuditLokiLogger(options: { lokiUrl: string; service: string; environment: string; batchSeconds: number }): Logger {
  // The services' Loki transport (services/shared/logger.ts), with the audit label; records
  // it drops are counted with the service's other dropped log records.
  const transport = logTransport([
    lokiTarget({
      lokiUrl: options.lokiUrl,
      labels: { service: options.service, env: options.environment, audit: 'true' },
      batchSeconds: options.batchSeconds,
    }),
  ]);
  return pino({ level: 'info', base: { service: options.service } }, transport);
}
