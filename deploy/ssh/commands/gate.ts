// The health gate: every service's /readyz, fetched through Caddy over HTTPS on the
// host itself. `--resolve` sends the request to the local Caddy while keeping the
// real host name for SNI and certificate checks, so the gate tests what users reach.

import { read, type Command } from '../command.ts';

export interface GateOptions {
  /** e.g. https://bpe.example.org */
  baseUrl: string;
  /** Address Caddy listens on, as seen from the host. */
  connectTo: string;
  /** A CA bundle on the host (tests: Caddy's internal CA); unset = the system store. */
  caFile?: string;
  /** Path prefix of the readiness routes in the Caddyfile. */
  pathPrefix: string;
  timeoutSeconds: number;
}

export function readinessUrl(options: GateOptions, service: string): string {
  return `${options.baseUrl.replace(/\/+$/, '')}${options.pathPrefix}/${service}`;
}

export function readyz(options: GateOptions, service: string): Command {
  const url = new URL(options.baseUrl);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return read(`is ${service} ready (through Caddy)`, [
    'curl',
    '--fail',
    '--silent',
    '--show-error',
    '--output',
    '/dev/null',
    '--max-time',
    String(options.timeoutSeconds),
    '--resolve',
    `${url.hostname}:${port}:${options.connectTo}`,
    ...(options.caFile ? ['--cacert', options.caFile] : []),
    readinessUrl(options, service),
  ]);
}
