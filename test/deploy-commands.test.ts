// The deploy tool's remote commands as data (the Kamal model): host preparation
// (apt, systemd, sshd, ufw, fail2ban, which no test host here can run) asserted as
// commands, and the generic building blocks (files, directories) run for real with a
// local shell to show that check-then-change is idempotent.

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asRoot, describe as describeCommand, raw, render, quote, type Command } from '../deploy/ssh/command.ts';
import type { ExecResult, Executor } from '../deploy/ssh/executor.ts';
import { ensure } from '../deploy/ssh/deployer.ts';
import { ensureDirectory, ensureFile } from '../deploy/ssh/commands/files.ts';
import {
  BASE_PACKAGES,
  DOCKER_PACKAGES,
  appDirectory,
  dockerDaemonConfig,
  fail2banJail,
  firewall,
  hostSetup,
  sshdHardening,
  type HostSetupOptions,
} from '../deploy/ssh/commands/host.ts';
import { readyz } from '../deploy/ssh/commands/gate.ts';
import { activate, releasesToPrune } from '../deploy/ssh/commands/release.ts';
import { releaseFromTarget, remoteLayout } from '../deploy/ssh/layout.ts';
import { backupTimerSteps, renderUnit } from '../deploy/backup/units.ts';
import { parseDeployFlags } from '../deploy/ssh/config.ts';
import { hostPattern, keysFor, parseKnownHosts, pinHostKeys } from '../deploy/ssh/known-hosts.ts';

/** Runs commands with a local sh, stdin included: the same strings SSH would run. */
const local: Executor = {
  run: (command: Command) =>
    new Promise<ExecResult>((resolve, reject) => {
      const child = spawn('sh', ['-c', render(command)], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', reject);
      child.on('exit', (code) => (code === null ? reject(new Error('killed')) : resolve({ code, stdout, stderr })));
      // A command may exit without reading all its input (cmp stops at the first difference):
      // EPIPE on its stdin is then expected, and its exit code says what happened.
      child.stdin.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EPIPE') reject(error);
      });
      const stdin = command.stdin;
      if (stdin?.source === 'text') child.stdin.end(stdin.text);
      else if (stdin?.source === 'file') void readFile(stdin.path).then((b) => child.stdin.end(b));
      else child.stdin.end();
    }),
  reconnect: async () => undefined,
  close: () => undefined,
};

const options: HostSetupOptions = {
  sudo: true,
  deployUser: 'deploy',
  appDir: '/opt/bluesky-post-explorer',
  sshPort: 22,
  dataRoot: '/srv/bluesky-post-explorer-data',
  textfileDir: '/var/lib/node-exporter/textfile',
};

describe('commands as data', () => {
  it('quotes words for the shell and keeps operators', () => {
    expect(quote('/opt/app/releases')).toBe('/opt/app/releases');
    expect(quote("it's")).toBe(`'it'\\''s'`);
    expect(quote('')).toBe("''");
    expect(render({ argv: ['echo', 'a b', raw('&&'), 'true'], summary: 's', effect: 'read' })).toBe("echo 'a b' && true");
  });

  it('runs simple commands under sudo as they are and compound ones through sh -c', () => {
    expect(asRoot(['systemctl', 'reload', 'ssh'], true)).toEqual(['sudo', '-n', 'systemctl', 'reload', 'ssh']);
    expect(asRoot(['a', raw('&&'), 'b'], true)).toEqual(['sudo', '-n', 'sh', '-c', 'a && b']);
    expect(asRoot(['a'], false)).toEqual(['a']);
  });

  it('never shows a secret in --plan output', () => {
    const step = ensureFile('/opt/app/secrets/x', 'hunter2', { mode: '600', secret: true });
    for (const command of [step.check, ...step.apply]) expect(describeCommand(command)).not.toContain('hunter2');
  });
});

describe('host preparation, asserted as commands', () => {
  const steps = hostSetup(options);
  const byName = (name: string) => {
    const step = steps.find((s) => s.name.startsWith(name));
    if (!step) throw new Error(`no step ${name}: ${steps.map((s) => s.name).join(' | ')}`);
    return step;
  };

  it('checks before it changes: every check is read-only, every change runs as root through sudo', () => {
    expect(steps.length).toBeGreaterThan(10);
    for (const step of steps) {
      expect(step.check.effect, step.name).toBe('read');
      for (const command of step.apply) {
        expect(command.effect, step.name).toBe('change');
        expect(command.argv.slice(0, 2), step.name).toEqual(['sudo', '-n']);
      }
    }
  });

  it('installs Docker Engine and the Compose plugin from Docker\'s repository, the base packages from Debian', () => {
    expect(render(byName('Docker Engine and the Compose plugin').apply[0]!)).toBe(
      `sudo -n sh -c 'apt-get update -qq && env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${DOCKER_PACKAGES.join(' ')}'`,
    );
    expect(DOCKER_PACKAGES).toContain('docker-compose-plugin');
    for (const p of ['ufw', 'fail2ban', 'python3-systemd', 'unattended-upgrades', 'systemd-timesyncd', 'restic']) expect(BASE_PACKAGES).toContain(p);
    expect(render(byName("Docker's apt source").check)).toContain('https://download.docker.com/linux/debian');
    expect(JSON.parse(dockerDaemonConfig('/srv/data'))).toMatchObject({ 'data-root': '/srv/data/docker', 'log-opts': { 'max-size': '20m' } });
  });

  it('hardens sshd: no root login, no passwords, only the deploy user; validates before reloading', () => {
    const config = sshdHardening(options);
    for (const line of ['PermitRootLogin no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'AllowUsers deploy']) expect(config).toContain(`${line}\n`);
    const step = byName('sshd hardened');
    expect(step.apply.map(render).slice(1)).toEqual(['sudo -n sshd -t', 'sudo -n systemctl reload ssh']);
    expect(render(byName('sshd effective settings').check)).toContain('permitrootlogin no');
  });

  it('lets ufw deny all inbound traffic but SSH, HTTP and HTTPS', () => {
    const step = firewall({ ...options, sshPort: 2222 });
    expect(render(step.apply[0]!)).toBe(
      "sudo -n sh -c 'ufw default deny incoming && ufw default allow outgoing && ufw allow 2222/tcp && ufw allow 80/tcp && ufw allow 443/tcp && ufw --force enable'",
    );
    expect(render(step.check)).toContain('Default: deny (incoming)');
  });

  it('runs fail2ban for sshd on the systemd journal (Debian 12+)', () => {
    expect(fail2banJail(options)).toContain('[sshd]\nenabled = true\nbackend = systemd\n');
    expect(byName('fail2ban jail').apply.map(render).at(-1)).toBe('sudo -n systemctl restart fail2ban');
  });

  it('turns on unattended upgrades and time synchronisation', () => {
    expect(render(byName('time synchronised').apply[0]!)).toBe('sudo -n timedatectl set-ntp true');
    expect(byName('unattended security upgrades').check.stdin).toMatchObject({ text: expect.stringContaining('APT::Periodic::Unattended-Upgrade "1";') });
  });

  it('creates the app directory, owned by the deploy user, before the lock is taken in it', () => {
    const step = appDirectory(options);
    expect(render(step.apply[0]!)).toBe('sudo -n install -d -m 755 -o deploy -g deploy /opt/bluesky-post-explorer');
    expect(render(step.check)).toContain('stat -c %U');
  });

  it('reconnects after adding the deploy user to the docker group (groups are read at login)', () => {
    const step = byName('deploy may use Docker');
    expect(render(step.apply[0]!)).toBe('sudo -n usermod -aG docker deploy');
    expect(step.reconnect).toBe(true);
  });

  it('installs the backup timer with the deploy\'s paths', async () => {
    const templates = {
      'bpe-backup.service': await readFile(new URL('../deploy/backup/bpe-backup.service', import.meta.url), 'utf8'),
      'bpe-backup.timer': await readFile(new URL('../deploy/backup/bpe-backup.timer', import.meta.url), 'utf8'),
    };
    const unit = renderUnit(templates['bpe-backup.service'], { appDir: '/opt/x', dataRoot: '/mnt/d', textfileDir: '/var/lib/prom/textfile' });
    expect(unit).toContain('ExecStart=/opt/x/current/deploy/backup/backup.sh');
    expect(unit).toContain('RequiresMountsFor=/mnt/d');
    // The success metric goes where this deploy's node-exporter reads (the backup-missing alert).
    expect(unit).toContain('Environment=BPE_TEXTFILE_DIR=/var/lib/prom/textfile');
    expect(renderUnit(templates['bpe-backup.service'], { appDir: '/opt/x', dataRoot: '/mnt/d' })).toContain('Environment=BPE_TEXTFILE_DIR=/var/lib/node-exporter/textfile');
    expect(unit).not.toContain('/opt/bluesky-post-explorer');
    const steps = backupTimerSteps({ sudo: true, appDir: '/opt/x', dataRoot: '/mnt/d', templates });
    expect(render(steps.at(-1)!.apply[0]!)).toBe('sudo -n systemctl enable --now bpe-backup.timer');
  });
});

describe('release, gate and prune commands', () => {
  const layout = remoteLayout('/opt/app');

  it('switches current with a rename, never by editing the link in place', () => {
    expect(render(activate(layout, 'a'.repeat(40)))).toBe(`ln -sfn releases/${'a'.repeat(40)} /opt/app/current.next && mv -Tf /opt/app/current.next /opt/app/current`);
    expect(releaseFromTarget(`releases/${'b'.repeat(40)}\n`)).toBe('b'.repeat(40));
    expect(releaseFromTarget('elsewhere')).toBeUndefined();
  });

  it('gates through Caddy on the host, with the public name for TLS', () => {
    const command = readyz({ baseUrl: 'https://bpe.example.org', connectTo: '127.0.0.1', pathPrefix: '/_ready', timeoutSeconds: 5 }, 'writer');
    expect(render(command)).toBe(
      'curl --fail --silent --show-error --output /dev/null --max-time 5 --resolve bpe.example.org:443:127.0.0.1 https://bpe.example.org/_ready/writer',
    );
  });

  it('prunes all but the newest releases, never the current or previous one, never a partial upload', () => {
    const newestFirst = ['e'.repeat(40), 'd'.repeat(40), '.c.partial', 'c'.repeat(40), 'b'.repeat(40), 'a'.repeat(40)];
    expect(releasesToPrune(newestFirst, 2, ['a'.repeat(40)])).toEqual(['c'.repeat(40), 'b'.repeat(40)]);
  });
});

describe('files and directories, run with a local shell', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bpe-deploy-files-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('writes a file once; a second run checks and changes nothing; a mode change is repaired', async () => {
    const path = join(dir, 'sub', 'secret');
    const step = ensureFile(path, 'value\n', { mode: '600', secret: true });
    const log: string[] = [];
    expect(await ensure(local, step, (l) => log.push(l))).toBe(true);
    expect(await readFile(path, 'utf8')).toBe('value\n');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const inode = (await stat(path)).ino;
    expect(await ensure(local, step, (l) => log.push(l))).toBe(false);
    expect((await stat(path)).ino).toBe(inode);
    await (await import('node:fs/promises')).chmod(path, 0o644);
    expect(await ensure(local, step, (l) => log.push(l))).toBe(true);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(log.filter((l) => l.includes('changed'))).toHaveLength(2);
  });

  it('rewrites a file whose content differs, from a local file', async () => {
    const source = join(dir, 'source');
    const target = join(dir, 'target');
    await writeFile(source, 'new');
    await writeFile(target, 'old');
    expect(await ensure(local, ensureFile(target, { localFile: source }, { mode: '600' }), () => undefined)).toBe(true);
    expect(await readFile(target, 'utf8')).toBe('new');
  });

  it('creates a directory with its mode', async () => {
    const path = join(dir, 'secrets');
    const step = ensureDirectory(path, { mode: '700' });
    expect(await ensure(local, step, () => undefined)).toBe(true);
    expect(await ensure(local, step, () => undefined)).toBe(false);
    expect((await stat(path)).mode & 0o777).toBe(0o700);
  });
});

describe('deploy configuration and pinned keys', () => {
  it('names the flag in every error', () => {
    expect(() => parseDeployFlags([])).toThrow(/--host is missing/);
    expect(() => parseDeployFlags(['--host', 'h'])).toThrow(/--domain is missing: needed for the health gate/);
    expect(() => parseDeployFlags(['--host', 'h', '--domain', 'd', '--port', '99999'])).toThrow(/--port="99999"/);
    expect(() => parseDeployFlags(['--host', 'h', '--domain', 'd', '--app-dir', 'relative'])).toThrow(/--app-dir="relative": an absolute path/);
    expect(() => parseDeployFlags(['--nope'])).toThrow(/Unknown option '--nope'/);
    expect(parseDeployFlags(['--host', 'h', '--domain', 'd'])).toMatchObject({ port: 22, user: 'deploy', services: ['ingester', 'writer', 'api'] });
  });

  it('reads and writes known_hosts lines, port-aware', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bpe-known-hosts-'));
    try {
      const file = join(dir, 'known_hosts');
      const key = `ssh-ed25519 ${Buffer.from('key-one').toString('base64')} comment`;
      await pinHostKeys(file, ['203.0.113.7'], [key]);
      await pinHostKeys(file, [hostPattern('198.51.100.1', 2222)], [`ssh-ed25519 ${Buffer.from('other').toString('base64')}`]);
      await pinHostKeys(file, ['203.0.113.7'], [`ssh-ed25519 ${Buffer.from('key-two').toString('base64')}`]);
      const keys = parseKnownHosts(await readFile(file, 'utf8'));
      expect(keys).toHaveLength(2);
      expect(keysFor(keys, '203.0.113.7', 22).map((k) => k.blob.toString())).toEqual(['key-two']);
      expect(keysFor(keys, '198.51.100.1', 2222).map((k) => k.blob.toString())).toEqual(['other']);
      expect(keysFor(keys, '198.51.100.1', 22)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
