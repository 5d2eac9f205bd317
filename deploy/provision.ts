// `npm run provision`: finds or creates, on Hetzner Cloud and by label, everything the
// host needs: the deploy SSH key, a firewall, the data volume and the server with its
// cloud-init user data. `--dry-run` prints the plan; a second run creates nothing.
// See deploy/README.md.

import { readFile } from 'node:fs/promises';
import { applyProvision } from './provision/apply.ts';
import { loadProvisionConfig, ProvisionConfigError, provisionHelp } from './provision/config.ts';
import { HcloudClient } from './provision/hcloud.ts';
import { changes, formatProvisionPlan, observe, planProvision, type Desired } from './provision/plan.ts';

const out = (line: string) => process.stdout.write(`${line}\n`);

export async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help')) {
    out(provisionHelp());
    return 0;
  }
  const { env, flags } = loadProvisionConfig(argv);
  let publicKey: string;
  try {
    publicKey = (await readFile(flags['ssh-public-key'], 'utf8')).trim();
  } catch (error) {
    throw new ProvisionConfigError([`--ssh-public-key ${flags['ssh-public-key']}: ${(error as Error).message}`]);
  }
  if (!/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+/.test(publicKey)) {
    throw new ProvisionConfigError([`--ssh-public-key ${flags['ssh-public-key']}: not an OpenSSH public key`]);
  }
  const desired: Desired = {
    app: flags.app,
    name: flags.name,
    serverType: flags['server-type'],
    image: flags.image,
    location: flags.location,
    volumeSize: flags['volume-size'],
    adminCidrs: flags['admin-cidr'],
    publicKey,
    deployUser: flags['deploy-user'],
    dataRoot: flags['data-root'] ?? `/srv/${flags.app}-data`,
    encryptVolume: flags['encrypt-volume'],
  };
  const client = new HcloudClient({ token: env.HCLOUD_TOKEN, baseUrl: env.HCLOUD_API_URL, pollIntervalMs: env.HCLOUD_POLL_INTERVAL_MS, actionTimeoutMs: env.HCLOUD_ACTION_TIMEOUT_MS });
  const observed = await observe(client, desired);
  const plan = planProvision(desired, observed);
  process.stdout.write(formatProvisionPlan(plan, desired));
  if (plan.problems.length > 0) return 1;
  if (flags['dry-run']) {
    out('Dry run: nothing was created or changed.');
    return 0;
  }
  if (changes(plan).length === 0) {
    out('Nothing to do: everything exists as wanted.');
    return 0;
  }
  const result = await applyProvision(client, desired, observed, plan, { knownHostsFile: flags['known-hosts'], log: out });
  if (result.ip) out(`Next: npm run deploy -- --host ${result.ip} --domain <your domain> --secrets-dir <dir> --known-hosts ${flags['known-hosts']}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`provision: ${(error as Error).message}\n`);
    process.exit(error instanceof ProvisionConfigError ? 2 : 1);
  },
);
