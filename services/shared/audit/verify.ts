// Checks the audit trail's hash chain (chain.ts) in the Redis stream and in the
// daily files, and the two against each other, and says what is wrong and where:
//
// - edited:    an entry's content no longer matches its hash, or it was edited and
//              re-hashed, so the next entry's `prev` no longer matches it;
// - removed:   a sequence number is missing (in the middle, or at the end: the chain
//              head in Redis is ahead of the last entry);
// - reordered: an entry appears after one with a higher sequence number;
// - duplicated, malformed: an entry appears twice, or is not an entry at all;
// - mismatch:  the stream and the files hold different entries under one number.
//
// The stream is capped, so it may start after seq 1; it is then anchored on its
// first entry (and the files, which keep everything, cover the older part).

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Redis } from '../redis.ts';
import { GENESIS, canonicalJson, entryHash, parseHead, type AuditEntry } from './chain.ts';
import { auditKeys } from './keys.ts';
import { readAuditStream } from './log.ts';
import { auditFiles } from './mirror.ts';

export type ProblemKind = 'edited' | 'removed' | 'reordered' | 'duplicated' | 'malformed' | 'mismatch';

// A type alias, not an interface: the admin route answers with these, and its schema's
// type is an open object (`[key: string]: unknown`), which only a type alias matches.
export type AuditProblem = {
  kind: ProblemKind;
  /** The sequence number(s) concerned. */
  seq?: number | [number, number];
  /** Where: `stream <id>`, `<file>:<line>`. */
  where: string;
  message: string;
};

export interface Located {
  raw: string;
  where: string;
}

export interface ChainReport {
  source: string;
  entries: number;
  first?: number;
  last?: number;
  problems: AuditProblem[];
  /** Entries by seq, for cross-checks (first occurrence). */
  bySeq: Map<number, { entry: AuditEntry; where: string }>;
}

function isEntry(value: unknown): value is AuditEntry {
  const e = value as AuditEntry;
  return (
    typeof e === 'object' && e !== null && Number.isSafeInteger(e.seq) && e.seq > 0 && typeof e.hash === 'string' && typeof e.prev === 'string' && typeof e.action === 'string'
  );
}

/**
 * Verifies one copy of the chain, in the order given. `anchored`: the copy must
 * start at seq 1 (files); otherwise its first entry is trusted as the start (a
 * capped stream).
 */
export function verifyChain(source: string, items: readonly Located[], options: { anchored: boolean; headSeq?: number; headHash?: string }): ChainReport {
  const problems: AuditProblem[] = [];
  const bySeq = new Map<number, { entry: AuditEntry; where: string }>();
  const order: { entry: AuditEntry; where: string }[] = [];
  let highest = 0;
  let highestWhere = '';
  for (const { raw, where } of items) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      problems.push({ kind: 'malformed', where, message: `${where}: not JSON` });
      continue;
    }
    if (!isEntry(parsed)) {
      problems.push({ kind: 'malformed', where, message: `${where}: not an audit entry` });
      continue;
    }
    const entry = parsed;
    if (entryHash(entry) !== entry.hash) {
      problems.push({ kind: 'edited', seq: entry.seq, where, message: `seq ${entry.seq} (${where}) was edited: its content does not match its hash` });
    }
    if (bySeq.has(entry.seq)) {
      problems.push({ kind: 'duplicated', seq: entry.seq, where, message: `seq ${entry.seq} appears twice (${bySeq.get(entry.seq)!.where} and ${where})` });
      continue;
    }
    if (entry.seq < highest) {
      problems.push({ kind: 'reordered', seq: entry.seq, where, message: `seq ${entry.seq} (${where}) is out of order: it comes after seq ${highest} (${highestWhere})` });
    } else {
      highest = entry.seq;
      highestWhere = where;
    }
    bySeq.set(entry.seq, { entry, where });
    order.push({ entry, where });
  }

  const seqs = [...bySeq.keys()].sort((a, b) => a - b);
  const first = seqs[0];
  const last = seqs.at(-1);
  if (first !== undefined && options.anchored && first > 1) {
    problems.push({ kind: 'removed', seq: [1, first - 1], where: source, message: `seq 1 to ${first - 1} are missing from the start of ${source}` });
  }
  for (let i = 0; i < seqs.length; i++) {
    const seq = seqs[i]!;
    const { entry, where } = bySeq.get(seq)!;
    const before = i > 0 ? seqs[i - 1]! : undefined;
    if (before !== undefined && seq > before + 1) {
      const range: [number, number] = [before + 1, seq - 1];
      problems.push({
        kind: 'removed',
        seq: range[0] === range[1] ? range[0] : range,
        where,
        message: range[0] === range[1] ? `seq ${range[0]} was removed (before ${where})` : `seq ${range[0]} to ${range[1]} were removed (before ${where})`,
      });
      continue;
    }
    if (before !== undefined) {
      const previous = bySeq.get(before)!;
      if (entry.prev !== previous.entry.hash) {
        // The entry before was changed and given a fresh hash: its successor still holds the old one.
        problems.push({
          kind: 'edited',
          seq: before,
          where: previous.where,
          message: `seq ${before} (${previous.where}) was altered: seq ${seq} (${where}) records a different hash for it`,
        });
      }
    } else if (seq === 1 && entry.prev !== GENESIS) {
      problems.push({ kind: 'edited', seq, where, message: `seq 1 (${where}) does not start the chain (prev is not the genesis hash)` });
    }
  }
  if (options.headSeq !== undefined && options.headSeq > 0) {
    if (last === undefined || options.headSeq > last) {
      const from = (last ?? 0) + 1;
      problems.push({
        kind: 'removed',
        seq: from === options.headSeq ? from : [from, options.headSeq],
        where: source,
        message: `the chain head is seq ${options.headSeq} but ${source} ends at ${last ?? 'nothing'}: the newest entries were removed`,
      });
    } else if (last === options.headSeq && options.headHash && bySeq.get(last)!.entry.hash !== options.headHash) {
      problems.push({ kind: 'edited', seq: last, where: bySeq.get(last)!.where, message: `seq ${last} is not the entry the chain head records` });
    }
  }
  return { source, entries: order.length, first, last, problems, bySeq };
}

/** Entries under the same seq in two copies must be the same entry. */
export function compareCopies(a: ChainReport, b: ChainReport): AuditProblem[] {
  const problems: AuditProblem[] = [];
  for (const [seq, left] of a.bySeq) {
    const right = b.bySeq.get(seq);
    // The whole entry, not only its hash field: an edit that kept the old hash differs too.
    if (right && canonicalJson(right.entry) !== canonicalJson(left.entry)) {
      problems.push({ kind: 'mismatch', seq, where: `${left.where} / ${right.where}`, message: `seq ${seq} differs between ${a.source} (${left.where}) and ${b.source} (${right.where})` });
    }
  }
  // The files lag the stream by a mirror interval at most; they never lead it.
  if (a.last !== undefined && b.last !== undefined && b.last > a.last) {
    problems.push({ kind: 'mismatch', seq: b.last, where: b.source, message: `${b.source} holds seq ${b.last}, beyond the newest entry of ${a.source} (${a.last})` });
  }
  return problems;
}

export async function readStreamCopy(redis: Redis, prefix: string): Promise<{ items: Located[]; head: { seq: number; hash: string } }> {
  const keys = auditKeys(prefix);
  const items: Located[] = [];
  for await (const { id, raw } of readAuditStream(redis, keys)) items.push({ raw, where: `stream ${id}` });
  return { items, head: parseHead(await redis.get(keys.head)) };
}

export async function readFileCopy(dir: string): Promise<Located[]> {
  const items: Located[] = [];
  for (const name of await auditFiles(dir)) {
    const lines = (await readFile(join(dir, name), 'utf8')).split('\n');
    lines.forEach((raw, i) => {
      if (raw.trim() !== '') items.push({ raw, where: `${name}:${i + 1}` });
    });
  }
  return items;
}

/** A type alias, as AuditProblem is: the admin route answers with it. */
export type AuditVerification = {
  ok: boolean;
  stream?: Omit<ChainReport, 'bySeq' | 'problems'>;
  files?: Omit<ChainReport, 'bySeq' | 'problems'>;
  problems: AuditProblem[];
};

/** Verifies the stream (when `redis` is given) and the files (when `dir` is), and compares them. */
export async function verifyAudit(options: { redis?: Redis; prefix: string; dir?: string }): Promise<AuditVerification> {
  const problems: AuditProblem[] = [];
  let stream: ChainReport | undefined;
  let files: ChainReport | undefined;
  if (options.redis) {
    const { items, head } = await readStreamCopy(options.redis, options.prefix);
    stream = verifyChain('the stream', items, { anchored: false, headSeq: head.seq, headHash: head.hash });
    problems.push(...stream.problems);
  }
  if (options.dir) {
    files = verifyChain('the files', await readFileCopy(options.dir), { anchored: true });
    problems.push(...files.problems);
  }
  if (stream && files) {
    problems.push(...compareCopies(stream, files));
    // A capped stream's first entry must chain onto the files' copy of the entry before it.
    const firstInStream = stream.first !== undefined ? stream.bySeq.get(stream.first) : undefined;
    const beforeInFiles = stream.first !== undefined ? files.bySeq.get(stream.first - 1) : undefined;
    if (firstInStream && beforeInFiles && firstInStream.entry.prev !== beforeInFiles.entry.hash) {
      problems.push({
        kind: 'mismatch',
        seq: stream.first,
        where: firstInStream.where,
        message: `the stream's first entry, seq ${stream.first}, does not chain onto seq ${stream.first! - 1} of the files`,
      });
    }
  }
  const summary = (r: ChainReport | undefined) => (r ? { source: r.source, entries: r.entries, first: r.first, last: r.last } : undefined);
  return { ok: problems.length === 0, stream: summary(stream), files: summary(files), problems };
}
