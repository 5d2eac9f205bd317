// Provisioning (`tsx deploy/provision.ts`) run for real against a Hetzner API
// STAND-IN (deploy/testing/hetzner-standin.ts): no Hetzner API can be reached from
// the test machines, so a local server that follows Hetzner's documented API
// (labels, pagination, error format, actions, server type deprecations) answers.

import { execFile, spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../base/paths.ts';
import { HetznerStandin, matchesSelector } from '../deploy/testing/hetzner-standin.ts';
import { HcloudClient, HcloudError } from '../deploy/provision/hcloud.ts';
import { mountScript } from '../deploy/provision/cloud-init.ts';
import { firewallRules, md5Fingerprint } from '../deploy/provision/plan.ts';
import { parseKnownHosts } from '../deploy/ssh/known-hosts.ts';
import { tempDir } from './helpers/pipeline.ts';

const run = promisify(execFile);
const TOKEN = 'standin-token-0123456789';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('provisioning against a Hetzner API stand-in', () => {
  let dir: string;
  let publicKeyFile: string;
  let publicKey: string;
  const standins: HetznerStandin[] = [];

  beforeAll(async () => {
    dir = await tempDir('provision');
    publicKeyFile = join(dir, 'id_ed25519.pub');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'operator@laptop', '-f', join(dir, 'id_ed25519')]);
    publicKey = (await readFile(publicKeyFile, 'utf8')).trim();
  });
  afterAll(async () => {
    for (const s of standins) await s.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function standin(): Promise<{ api: HetznerStandin; url: string }> {
    const api = new HetznerStandin({ token: TOKEN });
    standins.push(api);
    return { api, url: await api.start() };
  }

  function provision(url: string, args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'deploy/provision.ts', ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, HCLOUD_TOKEN: TOKEN, HCLOUD_API_URL: url, HCLOUD_POLL_INTERVAL_MS: '5', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
  }

  const baseArgs = (knownHosts: string, extra: string[] = []) => [
    '--admin-cidr', '198.51.100.7/32,2001:db8:1::/48',
    '--ssh-public-key', publicKeyFile,
    '--known-hosts', knownHosts,
    '--location', 'fsn1',
    ...extra,
  ];

  it('validates its configuration and names each bad variable or flag', async () => {
    const { url } = await standin();
    const missing = await provision(url, ['--ssh-public-key', publicKeyFile], { HCLOUD_TOKEN: '' });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('HCLOUD_TOKEN is missing');
    expect(missing.stderr).toContain('--admin-cidr is missing');
    const open = await provision(url, ['--admin-cidr', '0.0.0.0/0', '--volume-size', '5']);
    expect(open.code).toBe(2);
    expect(open.stderr).toMatch(/--admin-cidr="0.0.0.0\/0": .*whole internet/);
    expect(open.stderr).toMatch(/--volume-size="5": Hetzner volumes are at least 10 GB/);
    const bad = await provision(url, ['--admin-cidr', '300.1.1.1/8']);
    expect(bad.stderr).toContain('"300.1.1.1/8" is not an IP address or CIDR block');
  });

  it('--dry-run prints the plan and creates nothing; a run creates it all; a second run creates nothing', async () => {
    const { api, url } = await standin();
    const knownHosts = join(dir, 'known_hosts');

    const dry = await provision(url, baseArgs(knownHosts, ['--dry-run']));
    expect(dry.stderr).toBe('');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('5 changes');
    expect(dry.stdout).toMatch(/create\s+ssh_key\s+bluesky-post-explorer-deploy/);
    expect(dry.stdout).toMatch(/create\s+server\s+bluesky-post-explorer: cx33 in fsn1/);
    expect(dry.stdout).toContain('Dry run: nothing was created or changed.');
    expect(api.writes).toEqual([]);

    const first = await provision(url, baseArgs(knownHosts));
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(api.writes.map((w) => `${w.method} ${w.path}`)).toEqual(['POST /v1/ssh_keys', 'POST /v1/firewalls', 'POST /v1/volumes', 'POST /v1/servers']);
    // Every action was waited for, through GET /actions/{id}.
    expect(api.requests.filter((r) => r.path.startsWith('/v1/actions/')).length).toBeGreaterThanOrEqual(4);

    // Found by label on the next run.
    const labels = { app: 'bluesky-post-explorer', 'managed-by': 'bpe-provision' };
    expect(api.sshKeys[0]).toMatchObject({ public_key: publicKey, labels: { ...labels, role: 'ssh-key' } });
    expect(api.firewalls[0]).toMatchObject({ labels: { ...labels, role: 'firewall' } });
    const rules = api.firewalls[0]!.rules as { port: string | null; protocol: string; source_ips: string[] }[];
    expect(rules.find((r) => r.port === '22' && r.protocol === 'tcp')!.source_ips).toEqual(['198.51.100.7/32', '2001:db8:1::/48']);
    for (const port of ['80', '443']) expect(rules.find((r) => r.port === port && r.protocol === 'tcp')!.source_ips).toEqual(['0.0.0.0/0', '::/0']);
    expect(api.volumes[0]).toMatchObject({ size: 100, location: { name: 'fsn1' }, labels: { ...labels, role: 'data' } });

    const serverRequest = api.writes[3]!.body as Record<string, unknown>;
    expect(serverRequest).toMatchObject({
      name: 'bluesky-post-explorer',
      server_type: 'cx33',
      image: 'debian-12',
      location: 'fsn1',
      ssh_keys: [api.sshKeys[0]!.id],
      firewalls: [{ firewall: api.firewalls[0]!.id }],
      volumes: [api.volumes[0]!.id],
      automount: false,
      labels: { ...labels, role: 'server' },
    });

    // cloud-init: deploy user with the key, no passwords, no root, our host key.
    const userData = serverRequest.user_data as string;
    expect(userData.startsWith('#cloud-config\n')).toBe(true);
    const config = JSON.parse(userData.slice('#cloud-config\n'.length)) as Record<string, unknown>;
    expect(config.users).toEqual([expect.objectContaining({ name: 'deploy', lock_passwd: true, ssh_authorized_keys: [publicKey], sudo: 'ALL=(ALL) NOPASSWD:ALL' })]);
    expect(config).toMatchObject({ ssh_pwauth: false, disable_root: true, ssh_deletekeys: true, ssh_genkeytypes: [] });
    const hostKeys = config.ssh_keys as { ed25519_private: string; ed25519_public: string };
    const mount = (config.write_files as { path: string; content: string }[]).find((f) => f.path === '/usr/local/sbin/bpe-mount-data')!;
    expect(mount.content).toContain(`device='/dev/disk/by-id/scsi-0HC_Volume_${api.volumes[0]!.id as number}'`);
    expect(mount.content).toContain("mountpoint='/srv/bluesky-post-explorer-data'");
    expect(mount.content).not.toContain('cryptsetup');

    // The host key pinned locally is the one cloud-init installs, and its private half matches.
    const pinned = parseKnownHosts(await readFile(knownHosts, 'utf8'));
    expect(pinned).toHaveLength(1);
    expect(pinned[0]!.hosts).toEqual(['203.0.113.10', 'bluesky-post-explorer']);
    expect(`${pinned[0]!.type} ${pinned[0]!.blob.toString('base64')}`).toBe(hostKeys.ed25519_public.split(' ').slice(0, 2).join(' '));
    const privateFile = join(dir, 'host_private');
    await writeFile(privateFile, hostKeys.ed25519_private, { mode: 0o600 });
    expect((await run('ssh-keygen', ['-y', '-f', privateFile])).stdout.trim().split(' ').slice(0, 2).join(' ')).toBe(hostKeys.ed25519_public.split(' ').slice(0, 2).join(' '));
    expect(first.stdout).toContain('npm run deploy -- --host 203.0.113.10');

    const writes = api.writes.length;
    const second = await provision(url, baseArgs(knownHosts));
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('nothing to change');
    expect(second.stdout).toContain('Nothing to do: everything exists as wanted.');
    expect(api.writes.length).toBe(writes);

    // Another admin address: the firewall's rules are updated in place, nothing else.
    const moved = await provision(url, [...baseArgs(knownHosts), '--admin-cidr', '192.0.2.44']);
    expect(moved.code).toBe(0);
    expect(moved.stdout).toMatch(/update\s+firewall/);
    expect(api.writes.slice(writes).map((w) => `${w.method} ${w.path}`)).toEqual([`POST /v1/firewalls/${api.firewalls[0]!.id as number}/actions/set_rules`]);
    expect((api.firewalls[0]!.rules as { port: string; source_ips: string[] }[]).find((r) => r.port === '22')!.source_ips).toEqual(['192.0.2.44/32']);
  });

  it('refuses server types the API marks deprecated (everywhere or in the location), too small or unknown, creating nothing', async () => {
    const { api, url } = await standin();
    const knownHosts = join(dir, 'known_hosts_refused');
    const cases: [string[], RegExp][] = [
      [['--server-type', 'cx32'], /--server-type cx32: deprecated by Hetzner \(announced 2025-06-01T00:00:00Z, unavailable after 2025-12-31T00:00:00Z\)/],
      [['--server-type', 'cpx31', '--location', 'nbg1'], /--server-type cpx31: deprecated in nbg1/],
      [['--server-type', 'cx23'], /2 vCPU \/ 4 GB; the stack needs at least 4 vCPU and 8 GB/],
      [['--server-type', 'cx99'], /--server-type cx99: the API knows no such server type/],
      [['--location', 'sin'], /--server-type cx33: not offered in --location sin/],
    ];
    for (const [extra, message] of cases) {
      const result = await provision(url, [...baseArgs(knownHosts), ...extra]);
      expect(result.code, extra.join(' ')).toBe(1);
      expect(result.stdout, extra.join(' ')).toMatch(message);
    }
    expect(api.writes).toEqual([]);
    // The same type is fine where it is not deprecated.
    const elsewhere = await provision(url, [...baseArgs(knownHosts, ['--dry-run']), '--server-type', 'cpx31', '--location', 'hel1']);
    expect(elsewhere.code).toBe(0);
  });

  it('adopts an SSH key already in the project without labels (Hetzner refuses duplicate keys)', async () => {
    const { api, url } = await standin();
    const client = new HcloudClient({ token: TOKEN, baseUrl: url, pollIntervalMs: 5, actionTimeoutMs: 5000 });
    await client.createSshKey({ name: 'laptop', public_key: publicKey, labels: {} });
    const result = await provision(url, baseArgs(join(dir, 'known_hosts_adopt'), ['--encrypt-volume']));
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/adopt\s+ssh_key\s+laptop/);
    expect(api.writes.filter((w) => w.path === '/v1/ssh_keys')).toHaveLength(1);
    const serverRequest = api.writes.find((w) => w.path === '/v1/servers')!.body as { ssh_keys: number[]; user_data: string };
    expect(serverRequest.ssh_keys).toEqual([api.sshKeys[0]!.id]);
    // --encrypt-volume: cryptsetup installed, the volume LUKS-formatted before the file system.
    const config = JSON.parse(serverRequest.user_data.slice('#cloud-config\n'.length)) as { packages: string[]; write_files: { content: string }[] };
    expect(config.packages).toContain('cryptsetup');
    expect(config.write_files.map((f) => f.content).join('\n')).toContain('cryptsetup luksFormat --batch-mode --type luks2');
  });

  it('reads every page of a list, and reports API errors in Hetzner\'s format', async () => {
    const { api, url } = await standin();
    const client = new HcloudClient({ token: TOKEN, baseUrl: url, pollIntervalMs: 5, actionTimeoutMs: 5000 });
    for (let i = 0; i < 120; i++) await client.createVolume({ name: `v${i}`, size: 10, location: 'fsn1', labels: { batch: i < 110 ? 'a' : 'b' }, automount: false });
    const before = api.requests.length;
    const volumes = await client.listVolumes({ label_selector: 'batch=a' });
    expect(volumes).toHaveLength(110);
    expect(new Set(volumes.map((v) => v.name)).size).toBe(110);
    expect(api.requests.slice(before).map((r) => r.query.page)).toEqual(['1', '2', '3']);

    const error = await client.createVolume({ name: 'tiny', size: 5, location: 'fsn1', labels: {}, automount: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HcloudError);
    expect((error as HcloudError).code).toBe('invalid_input');
    expect((error as Error).message).toContain('size: size must be between 10 and 10240 GB');
    const denied = await new HcloudClient({ token: 'wrong', baseUrl: url, pollIntervalMs: 5, actionTimeoutMs: 5000 }).listServers({}).catch((e: unknown) => e);
    expect((denied as Error).message).toBe('Hetzner API GET /servers: 401 unauthorized: unable to authenticate');
  });

  it('speaks the label selector and fingerprint conventions', () => {
    const labels = { app: 'bpe', role: 'data' };
    expect(matchesSelector(labels, 'app=bpe,role=data')).toBe(true);
    expect(matchesSelector(labels, 'app==bpe,role!=server')).toBe(true);
    expect(matchesSelector(labels, 'role in (data, server),!missing')).toBe(true);
    expect(matchesSelector(labels, 'app,role notin (data)')).toBe(false);
    expect(md5Fingerprint(publicKey)).toMatch(/^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
    expect(firewallRules(['10.0.0.1/32'])[0]).toMatchObject({ direction: 'in', protocol: 'tcp', port: '22', source_ips: ['10.0.0.1/32'] });
  });

  it('writes a mount script that bash accepts, with and without LUKS', async () => {
    for (const encryptVolume of [false, true]) {
      const file = join(dir, `mount-${encryptVolume}.sh`);
      await writeFile(file, mountScript({ volumeDevice: '/dev/disk/by-id/scsi-0HC_Volume_1', dataRoot: '/srv/data', encryptVolume }));
      await run('bash', ['-n', file]);
    }
  });
});
