// The audit trail: authentication failures, key creation, rotation and revocation,
// exports, admin actions and deploys, each appended as one entry of a hash chain.
//
// Every entry holds the hash of the entry before it (`prev`) and its own hash over
// its canonical JSON (`hash`), so editing, removing or reordering an entry breaks
// the chain where it happened (audit-verify.ts says where). Three copies:
//
// - the Redis stream `<prefix>:audit`, the primary: appends from every process
//   (each API process, the keys CLI) are serialized by a compare-and-set script on
//   the chain head `<prefix>:audit:head`, so the chain is one sequence however many
//   processes write;
// - daily files `<AUDIT_DIR>/audit-YYYY-MM-DD.jsonl`, written in stream order by one
//   mirror at a time (a Redis lock), mode 0600: the long-term record (the stream is
//   capped), backed up with the rest of the host (deploy/backup/backup.sh);
// - Loki, by the same mirror, with the label `audit="true"`.
//
// An intruder who controls one copy cannot quietly edit it: the other two, and the
// chain itself, disagree. The Redis users of the services may append to the stream
// but never delete from it or trim it by command (deploy/config/redis/acl.ts).

import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { logTransport, lokiTarget } from './logger.ts';
import type { Redis } from './redis.ts';

export const AUDIT_ACTIONS = ['auth_failure', 'key_created', 'key_revoked', 'key_rotated', 'export', 'admin', 'deploy'] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditActor {
  /** key: an API key (id and name); operator: someone at a shell; deployer: `npm run deploy`; anonymous: no valid key. */
  type: 'key' | 'operator' | 'anonymous' | 'deployer';
  id?: string;
  name?: string;
}

/** What a caller records. */
export interface AuditRecord {
  action: AuditAction;
  actor: AuditActor;
  /** The program that appended it: api, keys-cli, deploy-import. */
  source: string;
  /** The client's address, for requests. */
  ip?: string;
  details: Record<string, unknown>;
}

/** An entry of the chain. */
export interface AuditEntry extends AuditRecord {
  v: 1;
  /** 1, 2, 3, … without gaps. */
  seq: number;
  time: string;
  /** hash of the entry before (GENESIS for seq 1). */
  prev: string;
  /** sha256 of the entry's canonical JSON without this field. */
  hash: string;
}

export const GENESIS = '0'.repeat(64);

export interface AuditKeys {
  stream: string;
  /** `<seq>:<hash>` of the newest entry. */
  head: string;
  /** Dedupe ids of imported records (deploys.log lines) already in the chain. */
  imported: string;
  /** Held by the process mirroring the stream to files and Loki. */
  mirrorLock: string;
}

export function auditKeys(prefix: string): AuditKeys {
  return { stream: `${prefix}:audit`, head: `${prefix}:audit:head`, imported: `${prefix}:audit:imported`, mirrorLock: `${prefix}:audit:mirror-lock` };
}

/** JSON with object keys sorted at every depth: one byte sequence per value, whatever the key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined && typeof v !== 'function')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function entryHash(entry: Omit<AuditEntry, 'hash'> | AuditEntry): string {
  const { hash: _hash, ...content } = entry as AuditEntry;
  return createHash('sha256').update(canonicalJson(content)).digest('hex');
}

/** The entry that follows `prev` (seq, hash) with this record. */
export function sealEntry(record: AuditRecord, seq: number, prev: string, time = new Date().toISOString()): AuditEntry {
  // Only JSON survives a round trip through the stream and the files: normalise now.
  const plain = JSON.parse(JSON.stringify(record)) as AuditRecord;
  const content = { v: 1 as const, seq, time, action: plain.action, actor: plain.actor, source: plain.source, ...(plain.ip ? { ip: plain.ip } : {}), details: plain.details ?? {}, prev };
  return { ...content, hash: entryHash(content) };
}

export function parseHead(head: string | null): { seq: number; hash: string } {
  const match = /^(\d+):([0-9a-f]{64})$/.exec(head ?? '');
  return match ? { seq: Number(match[1]), hash: match[2]! } : { seq: 0, hash: GENESIS };
}

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

interface AuditCommands {
  bpeAuditAppend(stream: string, head: string, imported: string, expected: string, next: string, entry: string, dedupe: string, maxLen: number): Promise<[number, string]>;
  bpeAuditReleaseLock(lock: string, token: string): Promise<number>;
}

function withCommands(redis: Redis): Redis & AuditCommands {
  const r = redis as Redis & Partial<AuditCommands>;
  if (!r.bpeAuditAppend) redis.defineCommand('bpeAuditAppend', { numberOfKeys: 3, lua: APPEND_SCRIPT });
  if (!r.bpeAuditReleaseLock) redis.defineCommand('bpeAuditReleaseLock', { numberOfKeys: 1, lua: RELEASE_LOCK_SCRIPT });
  return redis as Redis & AuditCommands;
}

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
    this.redis = withCommands(redis);
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
    this.redis = withCommands(redis);
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

/**
 * Deploys into the chain. `npm run deploy` appends one JSON line per deploy to
 * /opt/<app>/deploys.log on the host (deploy/ssh/commands/audit.ts) and holds no
 * Redis credentials; the API, which can read that file, appends each new line as a
 * `deploy` entry, once (the line's sha256 is its dedupe id, checked in the same
 * script that appends), however many API processes read it and however often.
 */
export class DeployImporter {
  private importedBytes = 0;

  constructor(
    private readonly log: AuditLog,
    private readonly file: string,
  ) {}

  async sync(): Promise<number> {
    const info = await stat(this.file).catch(() => undefined);
    if (!info || info.size === this.importedBytes) return 0;
    if (info.size < this.importedBytes) this.importedBytes = 0; // replaced: the dedupe ids skip what is known
    const text = await readFile(this.file, 'utf8');
    const complete = text.slice(0, text.lastIndexOf('\n') + 1);
    let imported = 0;
    for (const line of complete.split('\n')) {
      if (line.trim() === '') continue;
      const lineHash = createHash('sha256').update(line).digest('hex');
      let record: Record<string, unknown>;
      try {
        const parsed: unknown = JSON.parse(line);
        record = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : { raw: line };
      } catch {
        record = { raw: line };
      }
      const entry = await this.log.append(
        {
          action: 'deploy',
          actor: { type: 'deployer', ...(typeof record.who === 'string' ? { name: record.who } : {}) },
          source: 'deploy-import',
          details: { ...record, deploys_log_line_sha256: lineHash },
        },
        `deploy:${lineHash}`,
      );
      if (entry) imported += 1;
    }
    this.importedBytes = Buffer.byteLength(complete);
    return imported;
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
