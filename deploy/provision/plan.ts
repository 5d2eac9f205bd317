// Provisioning as a plan: what exists (found by label), what is wanted, and the steps
// between them, as data. --dry-run prints the plan; a run applies it; when everything
// exists as wanted the plan is all "keep" and a run creates nothing.

import { createHash } from 'node:crypto';
import type { FirewallRule, HcloudClient, Labels, Server, ServerType, SshKey, Firewall, Volume } from './hcloud.ts';

export interface Desired {
  app: string;
  name: string;
  serverType: string;
  image: string;
  location: string;
  volumeSize: number;
  adminCidrs: string[];
  /** `ssh-ed25519 AAAA... comment` of the deploy user. */
  publicKey: string;
  deployUser: string;
  dataRoot: string;
  encryptVolume: boolean;
}

export type Role = 'ssh-key' | 'firewall' | 'data' | 'server';

/** Every resource carries app=<app> and its role; that is how a second run finds it. */
export function labelsFor(app: string, role: Role): Labels {
  return { app, role, 'managed-by': 'bpe-provision' };
}

export function selectorFor(app: string, role: Role): string {
  return `app=${app},role=${role}`;
}

const ANYWHERE = ['0.0.0.0/0', '::/0'];

/** SSH from the admin addresses only; HTTP and HTTPS (and HTTP/3) from anywhere; ICMP for path MTU discovery. */
export function firewallRules(adminCidrs: readonly string[]): FirewallRule[] {
  return [
    { direction: 'in', protocol: 'tcp', port: '22', source_ips: [...adminCidrs], description: 'SSH from the admin addresses' },
    { direction: 'in', protocol: 'tcp', port: '80', source_ips: ANYWHERE, description: 'HTTP (redirects to HTTPS, ACME)' },
    { direction: 'in', protocol: 'tcp', port: '443', source_ips: ANYWHERE, description: 'HTTPS' },
    { direction: 'in', protocol: 'udp', port: '443', source_ips: ANYWHERE, description: 'HTTP/3' },
    { direction: 'in', protocol: 'icmp', source_ips: ANYWHERE, description: 'ICMP (path MTU discovery, ping)' },
  ];
}

function normalizeRules(rules: readonly FirewallRule[]): string[] {
  return rules
    .map((r) => JSON.stringify([r.direction, r.protocol, r.port ?? null, [...(r.source_ips ?? [])].sort(), [...(r.destination_ips ?? [])].sort()]))
    .sort();
}

export function sameRules(a: readonly FirewallRule[], b: readonly FirewallRule[]): boolean {
  return JSON.stringify(normalizeRules(a)) === JSON.stringify(normalizeRules(b));
}

/** MD5 of the key blob, colon-separated: the fingerprint format of Hetzner's API. */
export function md5Fingerprint(publicKey: string): string {
  const blob = Buffer.from(publicKey.trim().split(/\s+/)[1] ?? '', 'base64');
  return createHash('md5').update(blob).digest('hex').match(/../g)!.join(':');
}

export interface Observed {
  sshKey?: SshKey;
  /** A key with the same fingerprint but without our labels (Hetzner refuses a duplicate key). */
  sshKeyByFingerprint?: SshKey;
  firewall?: Firewall;
  volume?: Volume;
  server?: Server;
  serverType?: ServerType;
}

export type Step =
  | { resource: 'ssh_key'; action: 'create' | 'keep' | 'adopt'; name: string; id?: number }
  | { resource: 'firewall'; action: 'create' | 'keep' | 'set_rules'; name: string; id?: number }
  | { resource: 'volume'; action: 'create' | 'keep'; name: string; id?: number; size: number; location: string }
  | { resource: 'server'; action: 'create' | 'keep'; name: string; id?: number; serverType: string; location: string; ip?: string }
  | { resource: 'firewall'; action: 'apply_to_server'; name: string }
  | { resource: 'volume'; action: 'attach'; name: string }
  | { resource: 'host_key'; action: 'generate_and_pin' | 'keep'; name: string };

export interface ProvisionPlan {
  steps: Step[];
  /** Blocking: nothing is created while there is one. */
  problems: string[];
  warnings: string[];
}

async function single<T extends { name: string }>(kind: string, selector: string, items: Promise<T[]>): Promise<T | undefined> {
  const found = await items;
  if (found.length > 1) throw new Error(`${found.length} ${kind} carry the labels ${selector} (${found.map((f) => f.name).join(', ')}): keep one, remove the others' labels`);
  return found[0];
}

export async function observe(client: HcloudClient, desired: Desired): Promise<Observed> {
  const sel = (role: Role) => ({ label_selector: selectorFor(desired.app, role) });
  const [sshKey, firewall, volume, server, serverType] = await Promise.all([
    single('SSH keys', selectorFor(desired.app, 'ssh-key'), client.listSshKeys(sel('ssh-key'))),
    single('firewalls', selectorFor(desired.app, 'firewall'), client.listFirewalls(sel('firewall'))),
    single('volumes', selectorFor(desired.app, 'data'), client.listVolumes(sel('data'))),
    single('servers', selectorFor(desired.app, 'server'), client.listServers(sel('server'))),
    client.serverType(desired.serverType),
  ]);
  const observed: Observed = { sshKey, firewall, volume, server, serverType };
  if (!sshKey) observed.sshKeyByFingerprint = (await client.listSshKeys({ fingerprint: md5Fingerprint(desired.publicKey) }))[0];
  return observed;
}

/** Why a server type cannot be used for a new server, if it cannot. */
export function serverTypeProblems(type: ServerType | undefined, wanted: string, location: string): string[] {
  if (!type) return [`--server-type ${wanted}: the API knows no such server type`];
  const problems: string[] = [];
  if (type.deprecation) {
    problems.push(`--server-type ${wanted}: deprecated by Hetzner (announced ${type.deprecation.announced}, unavailable after ${type.deprecation.unavailable_after}); choose a current type such as cx33`);
  }
  if (type.locations) {
    const here = type.locations.find((l) => l.name === location);
    if (!here) problems.push(`--server-type ${wanted}: not offered in --location ${location} (offered in ${type.locations.map((l) => l.name).join(', ')})`);
    else if (here.deprecation) problems.push(`--server-type ${wanted}: deprecated in ${location} (unavailable after ${here.deprecation.unavailable_after})`);
  }
  if (type.cores < 4 || type.memory < 8) problems.push(`--server-type ${wanted}: ${type.cores} vCPU / ${type.memory} GB; the stack needs at least 4 vCPU and 8 GB`);
  return problems;
}

export function planProvision(desired: Desired, observed: Observed): ProvisionPlan {
  const steps: Step[] = [];
  const problems: string[] = [];
  const warnings: string[] = [];
  const keyName = `${desired.name}-deploy`;

  if (observed.sshKey) steps.push({ resource: 'ssh_key', action: 'keep', name: observed.sshKey.name, id: observed.sshKey.id });
  else if (observed.sshKeyByFingerprint) steps.push({ resource: 'ssh_key', action: 'adopt', name: observed.sshKeyByFingerprint.name, id: observed.sshKeyByFingerprint.id });
  else steps.push({ resource: 'ssh_key', action: 'create', name: keyName });
  if (observed.sshKey && observed.sshKey.fingerprint !== md5Fingerprint(desired.publicKey)) {
    warnings.push(`SSH key ${observed.sshKey.name} is not --ssh-public-key: it is only used when a server is created; the deploy user's authorized key is not changed`);
  }

  const rules = firewallRules(desired.adminCidrs);
  if (!observed.firewall) steps.push({ resource: 'firewall', action: 'create', name: desired.name });
  else if (!sameRules(observed.firewall.rules, rules)) steps.push({ resource: 'firewall', action: 'set_rules', name: observed.firewall.name, id: observed.firewall.id });
  else steps.push({ resource: 'firewall', action: 'keep', name: observed.firewall.name, id: observed.firewall.id });

  const volumeName = `${desired.name}-data`;
  if (!observed.volume) steps.push({ resource: 'volume', action: 'create', name: volumeName, size: desired.volumeSize, location: desired.location });
  else {
    const v = observed.volume;
    steps.push({ resource: 'volume', action: 'keep', name: v.name, id: v.id, size: v.size, location: v.location.name });
    if (v.size < desired.volumeSize) warnings.push(`volume ${v.name} has ${v.size} GB, less than --volume-size ${desired.volumeSize}: grow it in the console or with the API (never shrunk here)`);
  }

  const server = observed.server;
  if (!server) {
    problems.push(...serverTypeProblems(observed.serverType, desired.serverType, desired.location));
    if (observed.volume && observed.volume.location.name !== desired.location) {
      problems.push(`volume ${observed.volume.name} is in ${observed.volume.location.name}, the server would be in --location ${desired.location}: a volume attaches only in its location`);
    }
    if (observed.volume?.server) problems.push(`volume ${observed.volume.name} is attached to another server (${observed.volume.server})`);
    steps.push({ resource: 'server', action: 'create', name: desired.name, serverType: desired.serverType, location: desired.location });
    steps.push({ resource: 'host_key', action: 'generate_and_pin', name: desired.name });
  } else {
    steps.push({ resource: 'server', action: 'keep', name: server.name, id: server.id, serverType: server.server_type.name, location: server.location?.name ?? '?', ip: server.public_net.ipv4?.ip });
    if (server.server_type.name !== desired.serverType) warnings.push(`server ${server.name} is a ${server.server_type.name}, not --server-type ${desired.serverType}: not changed (rescale by hand)`);
    if (observed.firewall && !observed.firewall.applied_to.some((a) => a.type === 'server' && a.server?.id === server.id)) {
      steps.push({ resource: 'firewall', action: 'apply_to_server', name: observed.firewall.name });
    }
    if (observed.volume && observed.volume.server !== server.id) {
      if (observed.volume.server) problems.push(`volume ${observed.volume.name} is attached to another server (${observed.volume.server})`);
      else steps.push({ resource: 'volume', action: 'attach', name: observed.volume.name });
    }
    steps.push({ resource: 'host_key', action: 'keep', name: server.name });
  }
  return { steps, problems, warnings };
}

export function changes(plan: ProvisionPlan): Step[] {
  return plan.steps.filter((s) => s.action !== 'keep');
}

export function formatProvisionPlan(plan: ProvisionPlan, desired: Desired): string {
  const lines = plan.steps.map((s) => {
    const what = `${s.resource.padEnd(9)} ${s.name}`;
    switch (s.action) {
      case 'keep':
        return `  keep      ${what}${'id' in s && s.id ? ` (id ${s.id})` : ''}${s.resource === 'server' && s.ip ? ` ${s.ip}` : ''}`;
      case 'create':
        if (s.resource === 'server') return `  create    ${what}: ${s.serverType} in ${s.location}, ${desired.image}, deploy user ${desired.deployUser}, volume${desired.encryptVolume ? ' LUKS-encrypted and' : ''} mounted at ${desired.dataRoot}`;
        if (s.resource === 'volume') return `  create    ${what}: ${s.size} GB in ${s.location}`;
        if (s.resource === 'firewall') return `  create    ${what}: SSH from ${desired.adminCidrs.join(', ')}; 80, 443 from anywhere`;
        return `  create    ${what}`;
      case 'adopt':
        return `  adopt     ${what} (same key, already in the project without our labels)`;
      case 'set_rules':
        return `  update    ${what}: rules to SSH from ${desired.adminCidrs.join(', ')}; 80, 443 from anywhere`;
      case 'apply_to_server':
        return `  apply     ${what} to the server`;
      case 'attach':
        return `  attach    ${what} to the server`;
      case 'generate_and_pin':
        return `  generate  ${what}: SSH host key, installed by cloud-init, pinned in the known_hosts file`;
    }
  });
  const n = changes(plan).length;
  return [
    `Provisioning plan for app=${desired.app}: ${n === 0 ? 'nothing to change' : `${n} change${n === 1 ? '' : 's'}`}`,
    ...lines,
    ...plan.warnings.map((w) => `  warning: ${w}`),
    ...plan.problems.map((p) => `  refused: ${p}`),
    '',
  ].join('\n');
}
