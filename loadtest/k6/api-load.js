// k6 API load: researchers ramping up to PEAK_VUS (default 150), each asking the
// mix's questions (searches with varied words and filters, author queries,
// pagination, post lookups, stats, exports) with 5–15 s of think time, every
// answer's content checked. Fails on errors >= 1%, search p95 >= 2 s, export
// p95 >= 10 s, or content checks < 99%.
//
//   k6 run -e BASE_URL=https://explorer.example.org -e API_KEY=bpe_… loadtest/k6/api-load.js
//   (HOLD=10m: time at the peak; RAMP=3m: time to reach it)

/* global __ENV */
import { SUMMARY_TREND_STATS, discover, researcher, summaryContext, thresholds } from './lib/common.js';
import { summaryFiles } from './lib/summary.js';

const PEAK = Number(__ENV.PEAK_VUS || 150);

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    api_load: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: '2m', target: Math.ceil(PEAK / 3) },
        { duration: __ENV.RAMP || '3m', target: PEAK },
        { duration: __ENV.HOLD || '10m', target: PEAK },
        { duration: '1m', target: 0 },
      ],
      gracefulRampDown: '30s',
    },
  },
  thresholds: thresholds(),
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function setup() {
  return discover();
}

export default researcher;

/** @param {import('./lib/summary.js').SummaryData} data */
export function handleSummary(data) {
  return summaryFiles('api-load', data, summaryContext());
}
