// Host preparation, step 1 of a deploy: each step checks the host before changing
// it, so a prepared host is left alone. Every command needs root (sudo -n, since the
// deploy user has passwordless sudo from cloud-init) and apt or systemd; tests skip
// this step (--skip-host-setup) and assert these commands as data instead.

import { and, change, read, rootCommand, type Command, type Ensure } from '../command.ts';
import { ensureDirectory, ensureFile } from './files.ts';

export interface HostSetupOptions {
  sudo: boolean;
  deployUser: string;
  appDir: string;
  sshPort: number;
  /** Mount point of the data volume (cloud-init mounts it); Docker keeps its volumes below it. */
  dataRoot: string;
  /** node-exporter's textfile collector directory (the backup writes its last success there). */
  textfileDir: string;
}

export const BASE_PACKAGES = [
  'ca-certificates',
  'curl',
  'gnupg',
  'ufw',
  'fail2ban',
  // fail2ban's systemd journal backend needs the Python bindings.
  'python3-systemd',
  'unattended-upgrades',
  'apt-listchanges',
  'systemd-timesyncd',
  'restic',
] as const;

export const DOCKER_PACKAGES = ['docker-ce', 'docker-ce-cli', 'containerd.io', 'docker-buildx-plugin', 'docker-compose-plugin'] as const;

const ALL_INSTALLED = `for p in "$@"; do dpkg-query -W -f='\${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || exit 1; done`;

export function ensurePackages(name: string, packages: readonly string[], sudo: boolean): Ensure {
  return {
    name,
    check: read(`are ${packages.join(', ')} installed`, ['sh', '-c', ALL_INSTALLED, 'sh', ...packages]),
    apply: [
      rootCommand(
        change(
          `install ${packages.join(', ')}`,
          and(['apt-get', 'update', '-qq'], ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...packages]),
        ),
        sudo,
      ),
    ],
  };
}

const DOCKER_KEY = '/etc/apt/keyrings/docker.asc';
const DOCKER_LIST = '/etc/apt/sources.list.d/docker.list';
/** Docker's apt source line for this host's architecture and Debian release. */
const DOCKER_SOURCE_LINE = `printf 'deb [arch=%s signed-by=${DOCKER_KEY}] https://download.docker.com/linux/debian %s stable\\n' "$(dpkg --print-architecture)" "$(. /etc/os-release && echo "$VERSION_CODENAME")"`;

export function dockerRepository(sudo: boolean): Ensure[] {
  return [
    {
      name: "Docker's apt signing key",
      check: read("is Docker's apt key there", ['test', '-s', DOCKER_KEY]),
      apply: [
        rootCommand(
          change(
            "fetch Docker's apt signing key",
            and(['install', '-d', '-m', '0755', '/etc/apt/keyrings'], ['curl', '-fsSL', 'https://download.docker.com/linux/debian/gpg', '-o', DOCKER_KEY], ['chmod', 'a+r', DOCKER_KEY]),
          ),
          sudo,
        ),
      ],
    },
    {
      name: "Docker's apt source",
      check: read("is Docker's apt source configured", ['sh', '-c', `${DOCKER_SOURCE_LINE} | cmp -s - ${DOCKER_LIST}`]),
      apply: [rootCommand(change("add Docker's apt source", ['sh', '-c', `${DOCKER_SOURCE_LINE} > ${DOCKER_LIST}`]), sudo)],
    },
  ];
}

/** Docker keeps images and volumes on the data volume, and rotates container logs by default. */
export function dockerDaemonConfig(dataRoot: string): string {
  return `${JSON.stringify(
    {
      'data-root': `${dataRoot}/docker`,
      'log-driver': 'json-file',
      'log-opts': { 'max-size': '20m', 'max-file': '5' },
      'live-restore': true,
    },
    null,
    2,
  )}\n`;
}

/** Docker must not start before the data volume is mounted, or it would fill the root disk. */
export function dockerMountDependency(dataRoot: string): string {
  return `[Unit]\nRequiresMountsFor=${dataRoot}\n`;
}

function systemctl(summary: string, args: readonly string[], sudo: boolean): Command {
  return rootCommand(change(summary, ['systemctl', ...args]), sudo);
}

export function docker(options: HostSetupOptions): Ensure[] {
  const { sudo } = options;
  return [
    ...dockerRepository(sudo),
    ensureFile('/etc/docker/daemon.json', dockerDaemonConfig(options.dataRoot), {
      mode: '644',
      sudo,
      name: 'Docker daemon configuration (data root on the volume, log rotation)',
      afterChange: [rootCommand(change('restart Docker if it runs', ['sh', '-c', 'if systemctl is-active --quiet docker; then systemctl restart docker; fi']), sudo)],
    }),
    ensureFile('/etc/systemd/system/docker.service.d/10-data-volume.conf', dockerMountDependency(options.dataRoot), {
      mode: '644',
      sudo,
      name: 'Docker waits for the data volume',
      afterChange: [systemctl('reload systemd units', ['daemon-reload'], sudo)],
    }),
    ensurePackages('Docker Engine and the Compose plugin', DOCKER_PACKAGES, sudo),
    {
      name: 'Docker running and enabled at boot',
      check: read('is Docker enabled and running', and(['systemctl', 'is-enabled', '--quiet', 'docker'], ['systemctl', 'is-active', '--quiet', 'docker'])),
      apply: [systemctl('enable and start Docker', ['enable', '--now', 'docker'], sudo)],
    },
    {
      name: `${options.deployUser} may use Docker`,
      check: read(`is ${options.deployUser} in the docker group`, ['sh', '-c', 'id -nG "$1" | tr " " "\\n" | grep -qx docker', 'sh', options.deployUser]),
      apply: [rootCommand(change(`add ${options.deployUser} to the docker group`, ['usermod', '-aG', 'docker', options.deployUser]), sudo)],
      // Group membership is read at login: later commands need a new connection.
      reconnect: true,
    },
  ];
}

export function sshdHardening(options: HostSetupOptions): string {
  return [
    '# Managed by the deploy tool (deploy/ssh/commands/host.ts). sshd takes the first value it reads,',
    '# and this file sorts before cloud-init\'s 50-cloud-init.conf.',
    `Port ${options.sshPort}`,
    'PermitRootLogin no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitEmptyPasswords no',
    'PubkeyAuthentication yes',
    'X11Forwarding no',
    'MaxAuthTries 3',
    `AllowUsers ${options.deployUser}`,
    '',
  ].join('\n');
}

const SSHD_DROP_IN = '/etc/ssh/sshd_config.d/10-hardening.conf';
/** What sshd will actually do, whatever other files say. */
const SSHD_EFFECTIVE = 'c=$(sshd -T) && echo "$c" | grep -qx "permitrootlogin no" && echo "$c" | grep -qx "passwordauthentication no" && echo "$c" | grep -qx "kbdinteractiveauthentication no"';

export function sshd(options: HostSetupOptions): Ensure[] {
  const { sudo } = options;
  const file = ensureFile(SSHD_DROP_IN, sshdHardening(options), {
    mode: '644',
    sudo,
    name: 'sshd hardened (no root login, no passwords)',
    afterChange: [
      rootCommand(change('validate the sshd configuration', ['sshd', '-t']), sudo),
      systemctl('reload sshd', ['reload', 'ssh'], sudo),
    ],
  });
  return [
    file,
    {
      name: 'sshd effective settings',
      check: rootCommand(read('does sshd refuse root and passwords', ['sh', '-c', SSHD_EFFECTIVE]), sudo),
      // Only reached when another file overrides ours: stop rather than guess.
      apply: [rootCommand(change('show which sshd settings differ', ['sh', '-c', `sshd -T | grep -E "^(permitrootlogin|passwordauthentication|kbdinteractiveauthentication) "; exit 1`]), sudo)],
    },
  ];
}

export function firewall(options: HostSetupOptions): Ensure {
  const ports = [String(options.sshPort), '80', '443'];
  const checkScript = [
    's=$(ufw status verbose)',
    'echo "$s" | grep -qx "Status: active"',
    'echo "$s" | grep -q "Default: deny (incoming)"',
    ...ports.map((p) => `echo "$s" | grep -Eq "^${p}/tcp +ALLOW IN +Anywhere"`),
  ].join(' && ');
  return {
    name: `ufw denies inbound but ${ports.join(', ')}`,
    check: rootCommand(read('is ufw active with the expected rules', ['sh', '-c', checkScript]), options.sudo),
    apply: [
      rootCommand(
        change(
          'configure and enable ufw',
          and(['ufw', 'default', 'deny', 'incoming'], ['ufw', 'default', 'allow', 'outgoing'], ...ports.map((p) => ['ufw', 'allow', `${p}/tcp`]), ['ufw', '--force', 'enable']),
        ),
        options.sudo,
      ),
    ],
  };
}

/** fail2ban for sshd; Debian 12 and later log to the journal only, hence backend = systemd. */
export function fail2banJail(options: HostSetupOptions): string {
  return ['[sshd]', 'enabled = true', 'backend = systemd', `port = ${options.sshPort}`, 'maxretry = 5', 'findtime = 10m', 'bantime = 1h', ''].join('\n');
}

export function fail2ban(options: HostSetupOptions): Ensure[] {
  const { sudo } = options;
  return [
    ensureFile('/etc/fail2ban/jail.d/sshd.local', fail2banJail(options), {
      mode: '644',
      sudo,
      name: 'fail2ban jail for sshd (systemd backend)',
      afterChange: [systemctl('restart fail2ban', ['restart', 'fail2ban'], sudo)],
    }),
    {
      name: 'fail2ban running and enabled at boot',
      check: read('is fail2ban enabled and running', and(['systemctl', 'is-enabled', '--quiet', 'fail2ban'], ['systemctl', 'is-active', '--quiet', 'fail2ban'])),
      apply: [systemctl('enable and start fail2ban', ['enable', '--now', 'fail2ban'], sudo)],
    },
  ];
}

export const AUTO_UPGRADES = 'APT::Periodic::Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "1";\n';

export function unattendedUpgrades(options: HostSetupOptions): Ensure {
  // Debian's default 50unattended-upgrades already limits itself to the security origin.
  return ensureFile('/etc/apt/apt.conf.d/20auto-upgrades', AUTO_UPGRADES, { mode: '644', sudo: options.sudo, name: 'unattended security upgrades' });
}

export function timeSync(options: HostSetupOptions): Ensure {
  return {
    name: 'time synchronised (systemd-timesyncd)',
    check: read('is NTP synchronisation on', ['sh', '-c', 'test "$(timedatectl show --property=NTP --value)" = yes']),
    apply: [rootCommand(change('turn NTP synchronisation on', ['timedatectl', 'set-ntp', 'true']), options.sudo)],
  };
}

/** The app directory must exist before the deploy lock can be taken in it: the first step of a deploy. */
export function appDirectory(options: HostSetupOptions): Ensure {
  return ensureDirectory(options.appDir, { mode: '755', owner: options.deployUser, sudo: options.sudo, name: `${options.appDir} owned by ${options.deployUser}` });
}

export function directories(options: HostSetupOptions): Ensure[] {
  return [
    ensureDirectory(options.dataRoot, { mode: '755', sudo: options.sudo, name: 'data volume mount point' }),
    ensureDirectory(options.textfileDir, { mode: '755', sudo: options.sudo, name: "node-exporter's textfile directory" }),
  ];
}

/** Everything step 1 does, in order: packages first, Docker last (it needs the data volume's directory). */
export function hostSetup(options: HostSetupOptions): Ensure[] {
  return [
    ensurePackages('base packages', BASE_PACKAGES, options.sudo),
    timeSync(options),
    unattendedUpgrades(options),
    ...sshd(options),
    firewall(options),
    ...fail2ban(options),
    ...directories(options),
    ...docker(options),
  ];
}

/** Debian 12 or later: the fail2ban backend and the package names above assume it. */
export function debianVersionCheck(): Command {
  return read('is this Debian 12 or later', ['sh', '-c', '. /etc/os-release && test "$ID" = debian && test "${VERSION_ID%%.*}" -ge 12']);
}
