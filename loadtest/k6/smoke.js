// k6 smoke test: one virtual user asks every kind of question twice, with every
// answer's content checked, against BASE_URL with API_KEY. Run it first, and
// after every deploy: a minute, no load.
//
//   k6 run -e BASE_URL=https://explorer.example.org -e API_KEY=bpe_… loadtest/k6/smoke.js

/* global __ITER, __VU */
import { KIND_NAMES } from './lib/mix.js';
import { SUMMARY_TREND_STATS, ask, discover, summaryContext, thresholds } from './lib/common.js';
import { summaryFiles } from './lib/summary.js';
import { sleep } from 'k6';

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    smoke: { executor: 'per-vu-iterations', vus: 1, iterations: KIND_NAMES.length * 2, maxDuration: '5m' },
  },
  thresholds: thresholds(),
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function setup() {
  return discover();
}

/** @param {import('./lib/mix.js').MixData} data */
export default function (data) {
  ask(data, __VU, KIND_NAMES[__ITER % KIND_NAMES.length]);
  sleep(0.5);
}

/** @param {import('./lib/summary.js').SummaryData} data */
export function handleSummary(data) {
  return summaryFiles('smoke', data, summaryContext());
}
