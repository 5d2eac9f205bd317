// What the timeline asks of an event source (the seeded generator or an NDJSON
// file): the frame for index i stamped with a time, and a few facts about it for
// filtering and accounting, so the server never has to parse what it sends.

export interface FrameMeta {
  /** Whether the frame is an event the ingester would accept (parseJetstreamEvent with a 1 MiB limit). */
  valid: boolean;
  /** `kind` as the frame states it, if it states one. */
  kind?: string;
  /** Top-level `did`, if present: used by wantedDids. */
  did?: string;
  /** commit.collection, if a commit: used by wantedCollections (non-commits bypass it, like Jetstream). */
  collection?: string;
  operation?: string;
  /** For invalid frames: the injected fault (generator) or the parser's reject reason (NDJSON). */
  invalidType?: string;
}

export interface SourceFrame {
  /** The exact text sent as one WebSocket text frame. */
  text: string;
  meta: FrameMeta;
}

/** Read access to the times already stamped, for events that reference earlier ones. */
export interface HistoryView {
  timeOf(index: number): number;
}

export interface EventSource {
  /** Shown in stats and logs. */
  readonly name: string;
  /** How many events the source can produce (Infinity for the generator). */
  readonly length: number;
  /**
   * The frame for `index` carrying `timeUs`. Must be a pure function of its
   * arguments (and of earlier events' times): the timeline rebuilds old frames by
   * calling it again instead of keeping every frame in memory.
   */
  frame(index: number, timeUs: number, history: HistoryView): SourceFrame;
  /** For sources that keep their own clock (NDJSON --keep-time): the time event `index` carries. */
  ownTime?(index: number): number | undefined;
}
