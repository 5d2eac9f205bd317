// What every k6 scenario shares: the target (BASE_URL) and key (API_KEY, or
// API_KEYS=k1,k2,… to give virtual users different keys), the discovery of
// hashtags, authors and posts in setup(), one researcher session per virtual
// user asking the mix's questions and checking every answer's content, the
// researcher's think time (with the question, the iteration of the closed-model
// scenarios api-load and spike), the thresholds that fail the run, and what
// handleSummary needs to write its report (REPORT_DIR, the target).
//
// The mix itself (questions, weights, checks, limits) is lib/mix.js, compiled
// from loadtest/lib/api-mix.ts: `npm run loadtest:api` runs the same one.

/* global __ENV, __VU */
import http from 'k6/http';
import { check, fail, sleep } from 'k6';
import { KIND_NAMES, LIMITS, MixSession, discoveryRequests, mixData, thinkTimeSeconds } from './mix.js';

/** @typedef {import('./mix.js').MixData} MixData */
/** @typedef {import('./mix.js').QueryKind} QueryKind */
/** @typedef {import('./mix.js').MixRequest} MixRequest */

export const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:3000').replace(/\/+$/, '');

const KEYS = (__ENV.API_KEYS || __ENV.API_KEY || '')
  .split(',')
  .map((k) => k.trim())
  .filter((k) => k.length > 0);

/**
 * The key of a virtual user (round-robin over API_KEYS).
 * @param {number} vu
 * @returns {Record<string, string>}
 */
export function authHeaders(vu) {
  if (KEYS.length === 0) return {};
  return { Authorization: `Bearer ${KEYS[(vu - 1 + KEYS.length) % KEYS.length]}` };
}

/**
 * The data window: WINDOW_START and WINDOW_END (ISO 8601), or the last 24 hours.
 * @returns {{ start: string, end: string }}
 */
export function dataWindow() {
  if (__ENV.WINDOW_START && __ENV.WINDOW_END) {
    return { start: new Date(__ENV.WINDOW_START).toISOString(), end: new Date(__ENV.WINDOW_END).toISOString() };
  }
  const end = Date.now();
  return { start: new Date(end - 86400000).toISOString(), end: new Date(end).toISOString() };
}

/**
 * setup(): finds hashtags, authors and posts in the window; stops the run when
 * the API refuses the key or does not answer.
 * @returns {MixData}
 */
export function discover() {
  const window = dataWindow();
  const answers = discoveryRequests(window).map((request) => {
    const res = http.get(`${BASE_URL}${request.path}`, {
      headers: authHeaders(1),
      tags: { kind: 'discovery', endpoint: 'discovery', name: 'discovery' },
      timeout: '60s',
    });
    if (res.status === 401 || res.status === 403) fail(`the API refused the key (${res.status}): set API_KEY to a key with the search and export scopes`);
    if (res.status === 0) fail(`no answer from ${BASE_URL}: ${res.error}`);
    return { name: request.name, body: res.status === 200 && typeof res.body === 'string' ? res.body : undefined };
  });
  return mixData(window, answers);
}

/** @type {MixSession | undefined} */
let session;

/**
 * One question of this virtual user's researcher (the next by weight, or one of
 * the given kind), with its content checked.
 * @param {MixData} data
 * @param {number} vu
 * @param {QueryKind} [kind]
 * @returns {MixRequest}
 */
export function ask(data, vu, kind) {
  if (!session) session = new MixSession(data, Math.random);
  const request = kind ? session.request(kind) : session.next();
  const tags = { kind: request.kind, endpoint: request.endpoint, name: request.kind };
  const res = http.get(`${BASE_URL}${request.path}`, { headers: authHeaders(vu), tags, timeout: '60s' });
  const body = typeof res.body === 'string' ? res.body : '';
  const results = session.observe(request, res.status, body, res.headers);
  /** @type {Record<string, () => boolean>} */
  const checks = {};
  for (const result of results) checks[result.name] = () => result.ok;
  check(res, checks, tags);
  return request;
}

/** The researcher reads the answer: a pause of THINK_TIME_SECONDS (5–15 s). */
export function think() {
  sleep(thinkTimeSeconds(Math.random));
}

/**
 * The default function of the closed-model scenarios (api-load, spike): this
 * virtual user's researcher asks the next question, then reads the answer.
 * @param {MixData} data
 */
export function researcher(data) {
  ask(data, __VU);
  think();
}

/**
 * Thresholds that fail the run (errors < 1%, search p95 < 2 s, export p95 < 10 s,
 * content checks >= 99%), plus always-passing ones per query type so that the
 * summary keeps their figures for the report.
 * @returns {Record<string, string[]>}
 */
export function thresholds() {
  /** @type {Record<string, string[]>} */
  const list = {
    http_req_failed: [`rate<${LIMITS.errorRate}`],
    'http_req_duration{endpoint:search,expected_response:true}': [`p(95)<${LIMITS.searchP95Ms}`],
    'http_req_duration{endpoint:export,expected_response:true}': [`p(95)<${LIMITS.exportP95Ms}`],
    checks: [`rate>=${LIMITS.checkRate}`],
  };
  for (const kind of KIND_NAMES) {
    list[`http_req_duration{kind:${kind},expected_response:true}`] = ['max>=0'];
    list[`http_req_failed{kind:${kind}}`] = ['rate>=0'];
  }
  return list;
}

export const SUMMARY_TREND_STATS = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'count'];

/**
 * handleSummary's context for summaryFiles (lib/summary.js): where the report
 * goes (REPORT_DIR; unset: its default) and the target it names.
 * @returns {{ reportDir: string | undefined, baseUrl: string }}
 */
export function summaryContext() {
  return { reportDir: __ENV.REPORT_DIR, baseUrl: BASE_URL };
}
