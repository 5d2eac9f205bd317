// promtool unit tests of alerts/dist/api.yml: the SLO recording rules through the
// burn-rate alerts they feed.

import { metric } from '../../mixin/promql.ts';
import { AlertTests, minutes, s, type UnitTests } from './dsl.ts';

export function apiTests(t = new AlertTests()): UnitTests {
  const env = t.externalLabels;
  const target = { job: t.config.jobs.api, instance: 'api:9466', ...env };
  const count = `${metric('httpServerDuration')}_count`;
  const bucket = `${metric('httpServerDuration')}_bucket`;
  const route = (r: string, code: string) => ({ ...target, http_route: r, http_request_method: 'GET', http_response_status_code: code });
  const le = String(t.config.slo.latencyThresholdSeconds);
  const job = { job: target.job, [t.config.environment.label]: env[t.config.environment.label]! };
  const burn = (long: string, short: string, value: string) => ({ match: { long, short }, labels: job, value });
  // The burn-rate alerts read the SLO recording rules, which are another group:
  // Prometheus may evaluate that group after the alerts' (see GroupOrder), so an alert
  // can see its ratio one evaluation interval late, and fire that much later. `late(m)`
  // is m minutes plus that interval: expectations hold whichever group goes first.
  const late = (m: number) => minutes(m + 1);
  return {
    name: 'api',
    components: ['api'],
    groups: [
      // 10 requests/s, 1 of them a 500: 9.1% errors, far over every burn rate of a 99.9% SLO.
      t.group('error budget: each window pair fires after its own `for`', '1m', [
        { series: s(count, route('/v1/search', '200')), values: '0+600x200' },
        { series: s(count, route('/v1/search', '500')), values: '0+60x200' },
      ], [
        // The condition holds from 1m (the first rate): each pair fires at 1m + its `for`, or one interval later.
        t.quiet('ApiErrorBudgetBurn', '2m'),
        t.fires('ApiErrorBudgetBurn', late(3), burn('1h', '5m', '9.091%')),
        t.fires('ApiErrorBudgetBurn', '15m', burn('1h', '5m', '9.091%')),
        t.fires('ApiErrorBudgetBurn', late(16), burn('1h', '5m', '9.091%'), burn('6h', '30m', '9.091%')),
        t.fires('ApiErrorBudgetBurn', '60m', burn('1h', '5m', '9.091%'), burn('6h', '30m', '9.091%')),
        t.fires('ApiErrorBudgetBurn', late(61), burn('1h', '5m', '9.091%'), burn('6h', '30m', '9.091%'), { ...burn('1d', '2h', '9.091%'), severity: 'warning' }),
        t.fires('ApiErrorBudgetBurn', late(181), burn('1h', '5m', '9.091%'), burn('6h', '30m', '9.091%'), { ...burn('1d', '2h', '9.091%'), severity: 'warning' }, { ...burn('3d', '6h', '9.091%'), severity: 'warning' }),
      ]),
      t.group('error budget: quiet within budget, and 5xx of the health probes do not count', '1m', [
        { series: s(count, route('/v1/search', '200')), values: '0+6000x200' },
        { series: s(count, route('/v1/search', '503')), values: '0+3x200' },
        { series: s(count, route('/readyz', '503')), values: '0+600x200' },
      ], [t.quiet('ApiErrorBudgetBurn', '200m')]),
      // 1 request in 6 slower than the threshold: 16.7% > 14.4 x 1%.
      t.group('latency budget: fast and slow burns fire after their `for`', '1m', [
        { series: s(count, route('/v1/search', '200')), values: '0+600x40' },
        { series: s(bucket, { ...route('/v1/search', '200'), le }), values: '0+500x40' },
      ], [
        t.quiet('ApiLatencyBudgetBurn', '2m'),
        t.fires('ApiLatencyBudgetBurn', late(3), burn('1h', '5m', '16.67%')),
        t.fires('ApiLatencyBudgetBurn', '15m', burn('1h', '5m', '16.67%')),
        t.fires('ApiLatencyBudgetBurn', late(16), burn('1h', '5m', '16.67%'), burn('6h', '30m', '16.67%')),
      ]),
      t.group('latency budget: quiet when fast enough, and slow exports do not count', '1m', [
        { series: s(count, route('/v1/search', '200')), values: '0+6000x40' },
        { series: s(bucket, { ...route('/v1/search', '200'), le }), values: '0+5999x40' },
        { series: s(count, route('/v1/export', '200')), values: '0+60x40' },
        { series: s(bucket, { ...route('/v1/export', '200'), le }), values: '0x40' },
      ], [t.quiet('ApiLatencyBudgetBurn', '40m')]),
    ],
  };
}
