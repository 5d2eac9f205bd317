// Command-line values shared by the load tests: durations ("90", "90s", "10m",
// "1h"), spikes ("5x60": five times the rate for 60 seconds) and rates.

import { durationSeconds } from '../../base/duration.ts';

export class UsageError extends Error {}

/** Seconds from "90", "90s", "10m", "1h" or "1h30m". */
export function parseDuration(flag: string, value: string): number {
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  try {
    return durationSeconds(text, { fractions: true });
  } catch {
    throw new UsageError(`--${flag} must be a duration like 90, 90s, 10m or 1h, got ${JSON.stringify(value)}`);
  }
}

export interface SpikeArg {
  factor: number;
  seconds: number;
}

/** "FACTORxSECONDS", e.g. "5x60" (seconds may be a duration: "5x1m"). */
export function parseSpike(value: string): SpikeArg {
  const match = /^(\d+(?:\.\d+)?)x(.+)$/.exec(value.trim());
  if (!match) throw new UsageError(`--spike must be FACTORxSECONDS, e.g. 5x60, got ${JSON.stringify(value)}`);
  const factor = Number(match[1]);
  const seconds = parseDuration('spike', match[2]!);
  if (!(factor > 1)) throw new UsageError(`--spike factor must be above 1, got ${factor}`);
  if (!(seconds > 0)) throw new UsageError('--spike needs a duration above 0');
  return { factor, seconds };
}

export function positiveNumber(flag: string, value: string, { integer = false, min = Number.MIN_VALUE } = {}): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${flag} must be ${integer ? 'an integer' : 'a number'} >= ${min === Number.MIN_VALUE ? '0 (exclusive)' : min}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** KEY=VALUE pairs (--set) as an environment. */
export function parseSettings(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(pair);
    if (!match) throw new UsageError(`--set must be KEY=VALUE with an upper-case KEY, got ${JSON.stringify(pair)}`);
    env[match[1]!] = match[2]!;
  }
  return env;
}

/** Runs a CLI's main, turning a UsageError into exit code 2 with its message. */
export function runCli(usage: string, main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    if (error instanceof UsageError || (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
      console.error(`${error.message}\n${usage}`);
      process.exit(2);
    }
    console.error(error);
    process.exit(1);
  });
}
