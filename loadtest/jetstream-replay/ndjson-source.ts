// Replays an NDJSON file (one frame per line) in order. Valid events get the
// release time as time_us (so cursors work against this server's timeline),
// unless keepTime is set; lines that are not valid events are sent exactly as
// they are — that is how raw malformed frames are injected into a test.
// The file is held in memory: meant for captures and fixtures, not for days of traffic.

import { readFile } from 'node:fs/promises';
import { parseJetstreamEvent } from '../../services/shared/jetstream.ts';
import { goJson } from './generator.ts';
import type { EventSource, FrameMeta, SourceFrame } from './source.ts';

export interface NdjsonSourceOptions {
  /** Send lines with their original time_us (the timeline still orders by it, bumped to stay strictly increasing). */
  keepTime?: boolean;
  /** Frames larger than this are counted invalid, as the ingester would refuse them. */
  maxEventBytes?: number;
}

interface Line {
  text: string;
  meta: FrameMeta;
  /** Where the top-level time_us number sits in `text`, for restamping without re-serializing. */
  timeStart: number;
  timeEnd: number;
  originalTime: number | undefined;
}

const TIME_US = /"time_us"\s*:\s*(-?\d+)/;

function describe(text: string, maxEventBytes: number): Line {
  const parsed = parseJetstreamEvent(text, maxEventBytes);
  if (!parsed.ok) {
    // Best effort: what the frame says about itself, for wantedDids / wantedCollections.
    const meta: FrameMeta = { valid: false, invalidType: parsed.reason };
    try {
      const value = JSON.parse(text) as Record<string, unknown> | null;
      if (value && typeof value === 'object') {
        if (typeof value.did === 'string') meta.did = value.did;
        if (typeof value.kind === 'string') meta.kind = value.kind;
        const commit = value.commit as Record<string, unknown> | undefined;
        if (commit && typeof commit === 'object' && typeof commit.collection === 'string') meta.collection = commit.collection;
      }
    } catch {
      // not JSON at all: no facts to filter on
    }
    return { text, meta, timeStart: -1, timeEnd: -1, originalTime: undefined };
  }
  const event = parsed.event;
  const meta: FrameMeta = { valid: true, kind: event.kind, did: event.did };
  if (event.kind === 'commit') {
    meta.collection = event.commit.collection;
    meta.operation = event.commit.operation;
  }
  const line: Line = { text, meta, timeStart: -1, timeEnd: -1, originalTime: event.time_us };
  const match = TIME_US.exec(text);
  if (match) {
    const start = match.index + match[0].length - match[1]!.length;
    const end = start + match[1]!.length;
    // Make sure the first "time_us" is the envelope's, not one inside a record.
    const probe = JSON.parse(`${text.slice(0, start)}1${text.slice(end)}`) as { time_us?: unknown };
    if (probe.time_us === 1) {
      line.timeStart = start;
      line.timeEnd = end;
    }
  }
  return line;
}

export class NdjsonSource implements EventSource {
  readonly name: string;
  readonly length: number;
  private readonly keepTime: boolean;

  private constructor(
    private readonly lines: Line[],
    name: string,
    options: NdjsonSourceOptions,
  ) {
    this.length = lines.length;
    this.keepTime = options.keepTime ?? false;
    this.name = `ndjson(${name}${this.keepTime ? ', keep-time' : ''})`;
  }

  static async load(path: string, options: NdjsonSourceOptions = {}): Promise<NdjsonSource> {
    return NdjsonSource.fromText(await readFile(path, 'utf8'), path, options);
  }

  /** Blank lines are skipped: they are not frames. */
  static fromText(text: string, name: string, options: NdjsonSourceOptions = {}): NdjsonSource {
    const max = options.maxEventBytes ?? 1_048_576;
    const lines = text
      .split('\n')
      .map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line))
      .filter((line) => line.trim().length > 0)
      .map((line) => describe(line, max));
    return new NdjsonSource(lines, name, options);
  }

  ownTime(index: number): number | undefined {
    return this.keepTime ? this.lines[index]?.originalTime : undefined;
  }

  frame(index: number, timeUs: number): SourceFrame {
    const line = this.lines[index];
    if (!line) throw new RangeError(`line ${index} does not exist (${this.length} lines)`);
    if (this.keepTime || !line.meta.valid) return { text: line.text, meta: line.meta };
    if (line.timeStart >= 0) return { text: `${line.text.slice(0, line.timeStart)}${timeUs}${line.text.slice(line.timeEnd)}`, meta: line.meta };
    // Odd formatting (time_us not found textually): re-serialize, as Go would print it.
    const value = JSON.parse(line.text) as Record<string, unknown>;
    value.time_us = timeUs;
    return { text: goJson(value), meta: line.meta };
  }
}
