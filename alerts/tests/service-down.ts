// promtool unit tests of the three "<service> down" alerts (alerts/lib.ts,
// serviceDownAlert) at the production scrape and evaluation intervals: a dead service
// fires `serviceDownFor` after the first failed scrape, and a restart that misses two
// scrapes does not page. How fast the page then reaches on-call is measured end to end
// by test/monitoring-e2e.test.ts.

import { AlertTests, s, type UnitTests } from './dsl.ts';

export function serviceDownTests(t = new AlertTests()): UnitTests {
  const env = t.externalLabels;
  const { jobs } = t.config;
  const step = t.config.prometheus.scrapeInterval;
  const services = [
    { alert: 'IngesterDown', target: { job: jobs.ingester, instance: 'ingester:9464', ...env } },
    { alert: 'WriterDown', target: { job: jobs.writer, instance: 'writer:9465', ...env } },
    { alert: 'ApiDown', target: { job: jobs.api, instance: 'api:9466', ...env } },
  ];
  // One sample per scrape: up for 2 minutes (12 scrapes), then as given.
  const up = (then: string) => `1x11 ${then}`;
  return {
    name: 'service-down',
    components: ['ingester', 'writer', 'api'],
    evaluationInterval: t.config.prometheus.evaluationInterval,
    groups: services.flatMap(({ alert, target }) => {
      const others = services.filter((o) => o.target.job !== target.job).map((o) => ({ series: s('up', o.target), values: up('1x30') }));
      return [
        t.group(`${alert}: fires \`for\` after the first failed scrape`, step, [{ series: s('up', target), values: up('0x30') }, ...others], [
          t.quiet(alert, '1m'),
          t.boundary(alert, '2m', step, { labels: target, value: '0' }),
        ]),
        t.group(`${alert}: a restart that misses two scrapes does not page`, step, [{ series: s('up', target), values: up('0 0 1x30') }, ...others], [
          t.quiet(alert, '2m20s'),
          t.quiet(alert, '2m30s'),
          t.quiet(alert, '3m'),
        ]),
        t.group(`${alert}: fires when the job has no target at all`, step, others, [t.boundary(alert, '0m', step, { labels: { job: target.job }, value: '1' })]),
        t.group(`${alert}: quiet while it answers`, step, [{ series: s('up', target), values: up('1x30') }, ...others], [t.quiet(alert, '5m')]),
      ];
    }),
  };
}
