// promtool unit tests of alerts/dist/edge.yml.

import { AlertTests, s, type UnitTests } from './dsl.ts';

export function edgeTests(t = new AlertTests()): UnitTests {
  const env = t.externalLabels;
  const probe = { job: t.config.jobs.blackbox, instance: 'https://bpe.example.org/', ...env };
  const labels = { job: probe.job, instance: probe.instance };
  const day = 86400;
  return {
    component: 'edge',
    groups: [
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
