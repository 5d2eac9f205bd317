// k6 soak: an hour (SOAK_DURATION) at a steady SOAK_RATE questions per second
// (default 10: about 100 researchers pausing 10 s between questions), as an open model: questions arrive at that
// rate whether or not earlier ones were answered, so a slowing API shows up as
// latency and dropped iterations rather than as a quietly lower rate. Watch the
// API's memory and the cache on the dashboards while it runs: a leak shows as
// resident memory that keeps growing at a steady rate.
//
//   k6 run -e BASE_URL=https://explorer.example.org -e API_KEY=bpe_… loadtest/k6/soak.js

/* global __ENV, __VU */
import { SUMMARY_TREND_STATS, ask, discover, summaryContext, thresholds } from './lib/common.js';
import { summaryFiles } from './lib/summary.js';

const RATE = Number(__ENV.SOAK_RATE || 10);

/** @type {Record<string, string[]>} */
const limits = thresholds();
// Iterations k6 could not start for want of a free virtual user: under 1% of those planned.
limits.dropped_iterations = [`rate<${RATE * 0.01}`];

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    soak: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: __ENV.SOAK_DURATION || '1h',
      preAllocatedVUs: Math.max(10, RATE * 4),
      maxVUs: Math.max(50, RATE * 20),
    },
  },
  thresholds: limits,
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function setup() {
  return discover();
}

/** @param {import('./lib/mix.js').MixData} data */
export default function (data) {
  ask(data, __VU);
}

/** @param {import('./lib/summary.js').SummaryData} data */
export function handleSummary(data) {
  return summaryFiles('soak', data, summaryContext());
}
