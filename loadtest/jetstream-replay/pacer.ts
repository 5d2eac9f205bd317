// Decides when the timeline releases events: a token bucket at `rate` events/s
// (times `factor` during a spike window), or — with rate 0 — on demand, never
// more than a bounded lead ahead of the fastest subscriber, so "unlimited" means
// "as fast as the readers read", not "as fast as memory fills".

import type { Timeline } from './timeline.ts';

export interface Spike {
  /** Rate multiplier during the window. */
  factor: number;
  /** Window start, in seconds after the server started. */
  atSeconds: number;
  durationSeconds: number;
}

export interface PacerOptions {
  /** Events per second; 0 = on demand (as fast as subscribers consume). */
  rate: number;
  spike?: Spike;
  /** On-demand mode: how far (events) releases may run ahead of the position that asked. */
  lead: number;
  /** Start with releases paused. */
  paused?: boolean;
}

const TICK_MS = 10;
/** Tokens saved up after a stalled event loop are capped at this much time, to catch up without a flood. */
const MAX_CATCH_UP_SECONDS = 0.5;
/** On-demand releases happen in slices this big, yielding in between so sockets get written. */
const DEMAND_SLICE = 2_048;

export class Pacer {
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private lastTick = 0;
  private tokens = 0;
  private isPaused: boolean;
  private demandTarget = 0;
  private draining: NodeJS.Immediate | undefined;
  private stopped = false;

  constructor(
    private readonly timeline: Timeline,
    private readonly options: PacerOptions,
  ) {
    if (!(options.rate >= 0) || !Number.isFinite(options.rate)) throw new RangeError(`rate must be a finite number >= 0, got ${options.rate}`);
    const spike = options.spike;
    if (spike && !(spike.factor > 0 && spike.atSeconds >= 0 && spike.durationSeconds > 0)) {
      throw new RangeError('spike needs factor > 0, atSeconds >= 0 and durationSeconds > 0');
    }
    if (!(options.lead >= 1)) throw new RangeError(`lead must be >= 1, got ${options.lead}`);
    this.isPaused = options.paused ?? false;
  }

  get unlimited(): boolean {
    return this.options.rate === 0;
  }

  get paused(): boolean {
    return this.isPaused;
  }

  get lead(): number {
    return this.options.lead;
  }

  start(): void {
    this.startedAt = this.lastTick = performance.now();
    if (!this.unlimited) this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    if (this.draining) clearImmediate(this.draining);
  }

  pause(): void {
    this.isPaused = true;
  }

  resume(): void {
    if (!this.isPaused) return;
    this.isPaused = false;
    // No credit for the paused time: resuming must not burst.
    this.tokens = 0;
    this.lastTick = performance.now();
    if (this.unlimited) this.scheduleDrain();
  }

  /** The configured rate at `elapsedSeconds` after start, spike included. */
  rateAt(elapsedSeconds: number): number {
    const spike = this.options.spike;
    const inSpike = spike && elapsedSeconds >= spike.atSeconds && elapsedSeconds < spike.atSeconds + spike.durationSeconds;
    return this.options.rate * (inSpike ? spike.factor : 1);
  }

  /** The current configured rate (events/s; 0 = on demand). */
  currentRate(): number {
    return this.rateAt((performance.now() - this.startedAt) / 1000);
  }

  private tick(): void {
    const now = performance.now();
    const elapsed = (now - this.lastTick) / 1000;
    this.lastTick = now;
    if (this.isPaused || this.stopped || this.timeline.exhausted) return;
    const rate = this.rateAt((now - this.startedAt) / 1000);
    // Token bucket: released <= rate x active time, always; the cap only limits catch-up.
    this.tokens = Math.min(this.tokens + rate * elapsed, Math.max(1, rate * MAX_CATCH_UP_SECONDS));
    const due = Math.floor(this.tokens);
    if (due > 0) this.tokens -= this.timeline.release(due);
  }

  /**
   * On-demand mode: make events up to index `target` (exclusive) available. The
   * first slice is released at once (the caller is waiting at the head); the rest
   * in later turns of the event loop.
   */
  demand(target: number): void {
    if (!this.unlimited || this.stopped) return;
    this.demandTarget = Math.max(this.demandTarget, Math.min(target, this.timeline.limit));
    if (this.isPaused) return;
    this.releaseSlice();
    this.scheduleDrain();
  }

  private releaseSlice(): void {
    const missing = this.demandTarget - this.timeline.released;
    if (missing > 0) this.timeline.release(Math.min(missing, DEMAND_SLICE));
  }

  private scheduleDrain(): void {
    if (this.draining || this.stopped || this.demandTarget <= this.timeline.released) return;
    this.draining = setImmediate(() => {
      this.draining = undefined;
      if (this.isPaused || this.stopped) return;
      this.releaseSlice();
      this.scheduleDrain();
    });
  }
}
