// Instruments made from the catalog, so a metric's name, unit and description are
// never retyped. Services keep plain counters in their own stats objects (no
// OpenTelemetry call on the hot path); observable instruments read them when
// Prometheus scrapes. Histograms are recorded as things happen.

import type { Attributes, Counter, Histogram, Meter, ObservableResult } from '@opentelemetry/api';
import type { MetricSpec } from './metrics.ts';

function options(spec: MetricSpec) {
  return { unit: spec.unit, description: spec.description };
}

function check(spec: MetricSpec, type: MetricSpec['type']): void {
  if (spec.type !== type) throw new Error(`${spec.name} is a ${spec.type}, not a ${type}`);
}

export type Observation = number | Iterable<readonly [Attributes, number]>;

function report(result: ObservableResult, value: Observation): void {
  if (typeof value === 'number') result.observe(value);
  else for (const [attributes, v] of value) result.observe(v, attributes);
}

/** A counter whose value is read from a running total at collection time. */
export function observeCounter(meter: Meter, spec: MetricSpec, read: () => Observation): void {
  check(spec, 'counter');
  meter.createObservableCounter(spec.name, options(spec)).addCallback((result) => report(result, read()));
}

/** A gauge read at collection time. */
export function observeGauge(meter: Meter, spec: MetricSpec, read: () => Observation): void {
  check(spec, 'gauge');
  meter.createObservableGauge(spec.name, options(spec)).addCallback((result) => report(result, read()));
}

export function counter(meter: Meter, spec: MetricSpec): Counter {
  check(spec, 'counter');
  return meter.createCounter(spec.name, options(spec));
}

export function histogram(meter: Meter, spec: MetricSpec): Histogram {
  check(spec, 'histogram');
  return meter.createHistogram(spec.name, options(spec));
}

/** A map of label values to counts, reported as one series per entry. */
export function series(counts: Readonly<Record<string, number | undefined>>, label: string): [Attributes, number][] {
  const out: [Attributes, number][] = [];
  for (const [value, count] of Object.entries(counts)) if (count !== undefined) out.push([{ [label]: value }, count]);
  return out;
}
