// k6 spike: BASE_VUS researchers (default 15), then suddenly ten times as many
// for 3 minutes, then back; the same mix, think time, checks and thresholds as
// api-load. Shows whether the API sheds the spike cleanly (503 with Retry-After
// rather than timeouts) and how fast latency comes back afterwards.
//
//   k6 run -e BASE_URL=https://explorer.example.org -e API_KEY=bpe_… loadtest/k6/spike.js

/* global __ENV */
import { SUMMARY_TREND_STATS, discover, researcher, summaryContext, thresholds } from './lib/common.js';
import { summaryFiles } from './lib/summary.js';

const BASE = Number(__ENV.BASE_VUS || 15);
const FACTOR = Number(__ENV.SPIKE_FACTOR || 10);

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    spike: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: '30s', target: BASE },
        { duration: '2m', target: BASE },
        { duration: '10s', target: BASE * FACTOR },
        { duration: __ENV.SPIKE_HOLD || '3m', target: BASE * FACTOR },
        { duration: '10s', target: BASE },
        { duration: '3m', target: BASE },
        { duration: '10s', target: 0 },
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
  return summaryFiles('spike', data, summaryContext());
}
