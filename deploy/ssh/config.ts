// The deploy tool's configuration: command-line flags (and a few environment
// variables), validated with zod once; an error names the flag.

import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DEFAULT_APP } from './layout.ts';

export const DEFAULT_KNOWN_HOSTS = join(homedir(), '.config', DEFAULT_APP, 'known_hosts');

const FLAGS = {
  host: { type: 'string' },
  port: { type: 'string' },
  user: { type: 'string' },
  identity: { type: 'string' },
  'known-hosts': { type: 'string' },
  app: { type: 'string' },
  'app-dir': { type: 'string' },
  'data-root': { type: 'string' },
  'textfile-dir': { type: 'string' },
  repo: { type: 'string' },
  commit: { type: 'string' },
  'secrets-dir': { type: 'string' },
  domain: { type: 'string' },
  'gate-url': { type: 'string' },
  'gate-connect-to': { type: 'string' },
  'gate-ca-file': { type: 'string' },
  'gate-attempts': { type: 'string' },
  'gate-interval-ms': { type: 'string' },
  services: { type: 'string' },
  'keep-releases': { type: 'string' },
  reason: { type: 'string' },
  sudo: { type: 'string' },
  'skip-host-setup': { type: 'boolean' },
  force: { type: 'boolean' },
  plan: { type: 'boolean' },
  unlock: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

const hostname = z.string({ error: 'a host name or IP address' }).regex(/^[A-Za-z0-9.:_-]+$/, 'a host name or IP address');
const absolutePath = z.string().regex(/^\/[^\0]*$/, 'an absolute path on the host');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const deployFlagsSchema = z
  .object({
    host: hostname.describe('host to deploy to (the server name or IP)'),
    port: int(1, 65535).default(22).describe('SSH port'),
    user: z.string().regex(/^[a-z_][a-z0-9_-]*$/, 'a Unix user name').default('deploy').describe('SSH user'),
    identity: z.string().optional().describe('private key file; default: the SSH agent'),
    'known-hosts': z.string().default(DEFAULT_KNOWN_HOSTS).describe('file with the pinned host keys (written by provisioning)'),
    app: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits, -').default(DEFAULT_APP).describe('app name: compose project and /opt/<app>'),
    'app-dir': absolutePath.optional().describe('app directory on the host; default /opt/<app>'),
    'data-root': absolutePath.optional().describe('mount point of the data volume; default /srv/<app>-data'),
    'textfile-dir': absolutePath.default('/var/lib/node-exporter/textfile').describe("node-exporter's textfile collector directory"),
    repo: z.string().default('.').describe('git repository to deploy from'),
    commit: z.string().min(1).default('HEAD').describe('commit to deploy'),
    'secrets-dir': z.string().optional().describe('local directory of secret files, copied to <app-dir>/secrets with mode 0600'),
    domain: hostname.optional().describe('public host name Caddy serves'),
    'gate-url': z.url({ protocol: /^https?$/ }).optional().describe('base URL of the health gate; default https://<domain>'),
    'gate-connect-to': z.string().default('127.0.0.1').describe('address the gate connects to for that URL (Caddy on the host)'),
    'gate-ca-file': z.string().optional().describe('CA bundle on the host for the gate (tests use Caddy\'s internal CA)'),
    'gate-attempts': int(1, 1000).default(30).describe('attempts before the gate fails'),
    'gate-interval-ms': int(0, 600_000).default(2000).describe('pause between gate attempts'),
    services: z
      .string()
      .default('ingester,writer,api')
      .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
      .pipe(z.array(z.string().regex(/^[a-z0-9-]+$/, 'service names: lowercase letters, digits, -')).min(1, 'at least one service'))
      .describe('services whose /readyz gates the deploy'),
    'keep-releases': int(2, 100).default(5).describe('releases kept on the host'),
    reason: z.string().max(500).optional().describe('why: shown to anyone the lock refuses, and in the deploy record'),
    sudo: z.enum(['auto', 'yes', 'no']).default('auto').describe('run host preparation through sudo; auto = unless the user is root'),
    'skip-host-setup': z.boolean().default(false).describe('skip host preparation (apt, systemd, sshd, ufw, fail2ban, backup timer)'),
    force: z.boolean().default(false).describe('run docker compose up even when nothing changed'),
    plan: z.boolean().default(false).describe('print every command the deploy would run; connect to nothing, change nothing'),
    unlock: z.boolean().default(false).describe('remove a stale deploy lock (names the holder) and exit'),
    help: z.boolean().default(false),
  })
  .refine((c) => c['gate-url'] || c.domain, { path: ['domain'], message: 'needed for the health gate (or give --gate-url)' });

export type DeployFlags = z.output<typeof deployFlagsSchema>;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function parseDeployFlags(argv: readonly string[]): DeployFlags {
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const result = deployFlagsSchema.safeParse(values);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const flag = `--${String(issue.path[0] ?? '?')}`;
    const given = values[String(issue.path[0])];
    return `${flag}${given === undefined ? ' is missing' : `=${JSON.stringify(given)}`}: ${issue.message}`;
  });
  throw new UsageError(`invalid deploy options:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
}

export function deployHelp(): string {
  const lines = ['Usage: npm run deploy -- --host HOST [options]', '', 'Options:'];
  for (const [key, schema] of Object.entries(deployFlagsSchema.shape)) {
    const description = (schema as z.ZodType).description;
    if (description) lines.push(`  --${key.padEnd(18)} ${description}`);
  }
  return `${lines.join('\n')}\n`;
}
