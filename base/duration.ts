// Durations as Prometheus, Alertmanager, Loki and Compose write them ("10s", "1m30s",
// "2h", "90d", "1w"), in seconds: one parser for the mixin's settings, the promtool
// test generator, the load tests' flags and the checks of deploy/'s files.

const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

export interface DurationOptions {
  /** Accept decimal amounts ("1.5s"), as Compose and Go's time.ParseDuration do; Prometheus does not. */
  fractions?: boolean;
}

/** Seconds of a duration such as "1m30s"; anything else (empty, unknown unit, stray text) throws. */
export function durationSeconds(text: string, options: DurationOptions = {}): number {
  const amount = options.fractions ? String.raw`\d+(?:\.\d+)?` : String.raw`\d+`;
  const parts = [...text.matchAll(new RegExp(`(${amount})(ms|s|m|h|d|w)`, 'g'))];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) throw new Error(`not a duration: ${JSON.stringify(text)}`);
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * UNIT_SECONDS[unit!]!, 0);
}
