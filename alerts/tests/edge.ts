// promtool unit tests of alerts/dist/edge.yml.

import { AlertTests, s, type UnitTests } from './dsl.ts';

export function edgeTests(t = new AlertTests()): UnitTests {
  const env = t.externalLabels;
  const probe = { job: t.config.jobs.blackbox, instance: 'https://bpe.example.org/', ...env };
  const labels = { job: probe.job, instance: probe.instance };
  const day = 86400;
  return {
    name: 'edge',
    components: ['edge'],
    // The probe's timing is the production one: a scrape and an evaluation every 10 s.
    evaluationInterval: t.config.prometheus.evaluationInterval,
    groups: [
      // One sample per scrape (10 s in production): the probe succeeds for a minute, then as given.
      t.group('public endpoint down: fires after three failed probes', '10s', [{ series: s('probe_success', probe), values: '1x5 0x20' }], [
        t.quiet('PublicEndpointDown', '50s'),
        t.boundary('PublicEndpointDown', '1m', '10s', { labels: probe, value: '0' }),
      ]),
      t.group('public endpoint down: one or two failed probes do not page', '10s', [{ series: s('probe_success', probe), values: '1x5 0 0 1x20' }], [
        t.quiet('PublicEndpointDown', '1m30s'),
        t.quiet('PublicEndpointDown', '3m'),
      ]),
      t.group('certificate: warning within 20 days', '1m', [{ series: s('probe_ssl_earliest_cert_expiry', probe), values: `${10 * day}x80` }], [
        t.boundary('TlsCertificateExpiring', '0m', '1m', { severity: 'warning', labels, value: '9d 23h 0m 0s' }),
      ]),
      t.group('certificate: warning and critical within 7 days', '1m', [{ series: s('probe_ssl_earliest_cert_expiry', probe), values: `${5 * day}x80` }], [
        t.quiet('TlsCertificateExpiring', '59m'),
        t.fires('TlsCertificateExpiring', '60m', { severity: 'warning', labels, value: '4d 23h 0m 0s' }, { severity: 'critical', labels, value: '4d 23h 0m 0s' }),
      ]),
      t.group('certificate: quiet with 60 days left', '1m', [{ series: s('probe_ssl_earliest_cert_expiry', probe), values: `${60 * day}x80` }], [
        t.quiet('TlsCertificateExpiring', '80m'),
      ]),
    ],
  };
}
