// Applies a provisioning plan in dependency order: SSH key, firewall, volume, then the
// server (created with all three and its cloud-init user data), then repairs of a
// partial earlier run (firewall not applied, volume not attached). The server's host
// key is generated locally and pinned once the server has an address.

import { hostPattern, pinHostKeys } from '../ssh/known-hosts.ts';
import { userData } from './cloud-init.ts';
import { generateHostKey } from './host-keys.ts';
import type { HcloudClient, Server } from './hcloud.ts';
import { firewallRules, labelsFor, type Desired, type Observed, type ProvisionPlan } from './plan.ts';

export interface ProvisionResult {
  created: string[];
  server?: Server;
  /** Address to deploy to. */
  ip?: string;
}

export async function applyProvision(
  client: HcloudClient,
  desired: Desired,
  observed: Observed,
  plan: ProvisionPlan,
  options: { knownHostsFile: string; log: (line: string) => void },
): Promise<ProvisionResult> {
  if (plan.problems.length > 0) throw new Error(`refusing to provision:\n${plan.problems.map((p) => `  - ${p}`).join('\n')}`);
  const { log } = options;
  const created: string[] = [];
  const step = <R extends string, A extends string>(resource: R, action: A) => plan.steps.find((s) => s.resource === resource && s.action === action);

  let sshKey = observed.sshKey ?? observed.sshKeyByFingerprint;
  if (step('ssh_key', 'create')) {
    sshKey = await client.createSshKey({ name: `${desired.name}-deploy`, public_key: desired.publicKey, labels: labelsFor(desired.app, 'ssh-key') });
    created.push(`ssh_key ${sshKey.name}`);
    log(`created SSH key ${sshKey.name} (id ${sshKey.id})`);
  }

  let firewall = observed.firewall;
  if (step('firewall', 'create')) {
    firewall = await client.createFirewall({ name: desired.name, labels: labelsFor(desired.app, 'firewall'), rules: firewallRules(desired.adminCidrs) });
    created.push(`firewall ${firewall.name}`);
    log(`created firewall ${firewall.name} (id ${firewall.id})`);
  } else if (firewall && step('firewall', 'set_rules')) {
    await client.setFirewallRules(firewall.id, firewallRules(desired.adminCidrs));
    log(`updated the rules of firewall ${firewall.name}`);
  }

  let volume = observed.volume;
  if (step('volume', 'create')) {
    volume = await client.createVolume({ name: `${desired.name}-data`, size: desired.volumeSize, location: desired.location, labels: labelsFor(desired.app, 'data'), automount: false });
    created.push(`volume ${volume.name}`);
    log(`created volume ${volume.name} (id ${volume.id}, ${volume.size} GB, ${volume.linux_device})`);
  }

  let server = observed.server;
  if (step('server', 'create')) {
    if (!sshKey || !firewall || !volume) throw new Error('internal: the server needs its SSH key, firewall and volume first');
    const hostKey = await generateHostKey(`${desired.name} host key`);
    server = await client.createServer({
      name: desired.name,
      server_type: desired.serverType,
      image: desired.image,
      location: desired.location,
      ssh_keys: [sshKey.id],
      firewalls: [{ firewall: firewall.id }],
      volumes: [volume.id],
      // Mounting is cloud-init's job (mount point, optional LUKS), not Hetzner's.
      automount: false,
      user_data: userData({
        deployUser: desired.deployUser,
        authorizedKey: desired.publicKey,
        hostKey,
        volumeDevice: volume.linux_device,
        dataRoot: desired.dataRoot,
        encryptVolume: desired.encryptVolume,
      }),
      labels: labelsFor(desired.app, 'server'),
      public_net: { enable_ipv4: true, enable_ipv6: true },
    });
    created.push(`server ${server.name}`);
    const ip = server.public_net.ipv4?.ip;
    if (ip) {
      await pinHostKeys(options.knownHostsFile, [hostPattern(ip, 22), hostPattern(server.name, 22)], [hostKey.publicKey]);
      log(`pinned the host key of ${server.name} (${ip}) in ${options.knownHostsFile}`);
    }
    log(`created server ${server.name} (id ${server.id}, ${ip ?? 'no IPv4'})`);
  } else if (server) {
    if (firewall && step('firewall', 'apply_to_server')) {
      await client.applyFirewallToServer(firewall.id, server.id);
      log(`applied firewall ${firewall.name} to ${server.name}`);
    }
    if (volume && step('volume', 'attach')) {
      await client.attachVolume(volume.id, server.id);
      log(`attached volume ${volume.name} to ${server.name}`);
    }
  }
  return { created, server, ip: server?.public_net.ipv4?.ip };
}
