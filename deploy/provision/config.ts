// Provisioning configuration: HCLOUD_* environment variables and command-line flags,
// validated with zod once; every error names the variable or flag.

import { isIP } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DEFAULT_APP } from '../ssh/layout.ts';
import { DEFAULT_KNOWN_HOSTS } from '../ssh/config.ts';

export class ProvisionConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid provisioning configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ProvisionConfigError';
  }
}

/** An address block, `a.b.c.d/n` or `x::/n`; a bare address means that one host. */
const cidr = z.string().transform((value, ctx) => {
  const [address = '', prefix] = value.trim().split('/');
  const family = isIP(address);
  const max = family === 4 ? 32 : 128;
  const bits = prefix === undefined ? max : Number(prefix);
  if (family === 0 || !Number.isInteger(bits) || bits < 0 || bits > max || (prefix !== undefined && !/^\d+$/.test(prefix))) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not an IP address or CIDR block` });
    return z.NEVER;
  }
  if (bits === 0) {
    ctx.addIssue({ code: 'custom', message: `"${value}" would open SSH to the whole internet: name the admin addresses` });
    return z.NEVER;
  }
  return `${address}/${bits}`;
});

export const provisionEnvSchema = z.object({
  HCLOUD_TOKEN: z.string({ error: 'an API token of the Hetzner Cloud project (read & write)' }).min(1, 'an API token of the Hetzner Cloud project (read & write)'),
  HCLOUD_API_URL: z.url({ protocol: /^https?$/ }).default('https://api.hetzner.cloud/v1'),
  HCLOUD_POLL_INTERVAL_MS: z.coerce.number().int().min(1).default(1000),
  HCLOUD_ACTION_TIMEOUT_MS: z.coerce.number().int().min(1000).default(600_000),
});

export const provisionFlagsSchema = z.object({
  name: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'a host name: lowercase letters, digits, -').default(DEFAULT_APP),
  app: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits, -').default(DEFAULT_APP),
  'server-type': z.string().min(1).default('cx33'),
  image: z.string().min(1).default('debian-12'),
  location: z.string().regex(/^[a-z]{3}\d?$/, 'a Hetzner location such as fsn1, nbg1, hel1').default('nbg1'),
  'volume-size': z.coerce.number().int().min(10, 'Hetzner volumes are at least 10 GB').max(10_240).default(100),
  'admin-cidr': z
    .string({ error: 'the addresses allowed to reach SSH (comma-separated CIDR blocks)' })
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(cidr).min(1, 'at least one address')),
  'ssh-public-key': z.string().default(join(homedir(), '.ssh', 'id_ed25519.pub')),
  'deploy-user': z.string().regex(/^[a-z_][a-z0-9_-]*$/, 'a Unix user name').default('deploy'),
  'known-hosts': z.string().default(DEFAULT_KNOWN_HOSTS),
  'data-root': z.string().regex(/^\/.+/, 'an absolute path').optional(),
  'encrypt-volume': z.boolean().default(false),
  'dry-run': z.boolean().default(false),
  help: z.boolean().default(false),
});

export type ProvisionEnv = z.output<typeof provisionEnvSchema>;
export type ProvisionFlags = z.output<typeof provisionFlagsSchema>;

const FLAG_TYPES = Object.fromEntries(
  Object.keys(provisionFlagsSchema.shape).map((key) => [key, { type: ['encrypt-volume', 'dry-run', 'help'].includes(key) ? 'boolean' : 'string' }] as const),
) as Record<string, { type: 'boolean' | 'string' }>;

export function loadProvisionConfig(argv: readonly string[], environment: NodeJS.ProcessEnv = process.env): { env: ProvisionEnv; flags: ProvisionFlags } {
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ args: [...argv], options: FLAG_TYPES, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new ProvisionConfigError([(error as Error).message]);
  }
  const problems: string[] = [];
  const flags = provisionFlagsSchema.safeParse(values);
  if (!flags.success) {
    for (const issue of flags.error.issues) {
      const key = String(issue.path[0] ?? '?');
      problems.push(`--${key}${values[key] === undefined ? ' is missing' : `=${JSON.stringify(values[key])}`}: ${issue.message}`);
    }
  }
  const envInput = Object.fromEntries(Object.keys(provisionEnvSchema.shape).flatMap((k) => (environment[k] ? [[k, environment[k]]] : [])));
  const env = provisionEnvSchema.safeParse(envInput);
  if (!env.success) {
    for (const issue of env.error.issues) {
      const key = String(issue.path[0] ?? '?');
      // Never echo the token.
      const shown = envInput[key] === undefined ? 'is missing' : key === 'HCLOUD_TOKEN' ? 'is set' : `=${JSON.stringify(envInput[key])}`;
      problems.push(`${key} ${shown}: ${issue.message}`);
    }
  }
  if (!flags.success || !env.success) throw new ProvisionConfigError(problems);
  return { env: env.data, flags: flags.data };
}

export function provisionHelp(): string {
  return [
    'Usage: HCLOUD_TOKEN=... npm run provision -- --admin-cidr 203.0.113.7/32 [options]',
    '',
    'Finds or creates, by label app=<app>: the SSH key, the firewall, the data volume and the server.',
    '  --name NAME            server name (bluesky-post-explorer)',
    '  --app APP              label value and app name (bluesky-post-explorer)',
    '  --server-type TYPE     cx33 (4 vCPU, 8 GB); deprecated types are refused',
    '  --image IMAGE          debian-12',
    '  --location LOC         nbg1',
    '  --volume-size GB       100',
    '  --admin-cidr LIST      addresses allowed to reach SSH, comma-separated (required)',
    '  --ssh-public-key FILE  ~/.ssh/id_ed25519.pub: the deploy user\'s key',
    '  --deploy-user USER     deploy',
    `  --known-hosts FILE     where the server's host key is pinned (${DEFAULT_KNOWN_HOSTS})`,
    '  --data-root DIR        where the data volume is mounted (/srv/<app>-data)',
    '  --encrypt-volume       LUKS-encrypt the data volume at first boot (opt-in; see deploy/README.md)',
    '  --dry-run              print the plan; create nothing',
    'Environment: HCLOUD_TOKEN (required), HCLOUD_API_URL, HCLOUD_POLL_INTERVAL_MS, HCLOUD_ACTION_TIMEOUT_MS',
    '',
  ].join('\n');
}
