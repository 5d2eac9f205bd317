// PromQL building blocks shared by the rules, the alerts and the dashboards: catalog
// metric names (never retyped), selectors, duration literals, and a template tag that
// keeps multi-line expressions readable in the rendered files.

import { METRICS, promName } from '../telemetry/metrics.ts';

/** The Prometheus series name of a catalog metric (never retype one). */
export const metric = (key: keyof typeof METRICS): string => promName(METRICS[key]);

/** `name{matchers}` with the given matchers joined (empty ones dropped). */
export function series(name: string, ...matchers: string[]): string {
  const inner = matchers.filter((m) => m.trim() !== '').join(', ');
  return inner ? `${name}{${inner}}` : name;
}

/** Seconds as a PromQL duration literal ("3600" -> "1h"). */
export function duration(seconds: number): string {
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (seconds % size === 0 && seconds >= size) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

/** Removes the indentation of a template literal spanning lines, so rule files stay readable. */
export function promql(strings: TemplateStringsArray, ...values: unknown[]): string {
  const text = strings.reduce((out, piece, i) => out + piece + (i < values.length ? String(values[i] as string) : ''), '');
  const lines = text.replace(/^\n/, '').replace(/\s+$/, '').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => /^ */.exec(l)![0].length));
  return lines.map((l) => l.slice(indent)).join('\n');
}
