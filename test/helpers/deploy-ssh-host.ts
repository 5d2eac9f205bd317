// A test host on loopback for the deploy tool: Debian's sshd on a free port with its
// own configuration, host key and authorized key in a temporary directory, for a
// dedicated unprivileged user created here (useradd; removed by stop()). Its remote
// PATH starts with the stand-in `docker` (deploy/testing/docker-standin.sh), and a
// real Caddy serves the stand-in's readiness files over HTTPS with its internal CA,
// so the deploy's health gate goes through Caddy as in production.
//
// Needs root (useradd, sshd), as the test machines and CI run.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitForPort } from '../../base/ports.ts';

const run = promisify(execFile);

export const STANDIN_DOCKER = new URL('../../deploy/testing/docker-standin.sh', import.meta.url).pathname;

export interface TestHost {
  root: string;
  user: string;
  uid: number;
  port: number;
  /** Remote app directory (instead of /opt/<app>), owned by the user. */
  appDir: string;
  /** The stand-in's state: calls.log, running, control files. */
  state: string;
  /** Client private key for --identity. */
  identity: string;
  /** known_hosts with the host's key pinned. */
  knownHosts: string;
  /** Gate settings: Caddy's URL and its CA certificate (readable on the host). */
  gateUrl: string;
  gateCaFile: string;
  /** A known_hosts file pinning some other key, to test refusal. */
  wrongKnownHosts: string;
  stop(): Promise<void>;
}

async function sshKeygen(file: string): Promise<string> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bpe-test', '-f', file]);
  return (await readFile(`${file}.pub`, 'utf8')).trim();
}

function waitExit(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

async function waitForFile(path: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${path} did not appear within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startTestHost(): Promise<TestHost> {
  const root = await mkdtemp(join(tmpdir(), 'bpe-deploy-host-'));
  // The test user must traverse to its files.
  await chmod(root, 0o755);
  const user = `bpet${randomBytes(3).toString('hex')}`;
  const home = join(root, 'home');
  const appDir = join(root, 'app');
  const state = join(root, 'standin');
  const bin = join(root, 'bin');
  for (const dir of [home, appDir, state, bin, join(state, 'www')]) await mkdir(dir, { recursive: true });

  // '*' as the password: no password login, but not "locked" ('!'), which sshd refuses even for keys without PAM.
  await run('useradd', ['--home-dir', home, '--no-create-home', '--shell', '/bin/bash', '--password', '*', user]);
  const uid = Number((await run('id', ['-u', user])).stdout.trim());
  for (const dir of [home, appDir, state, join(state, 'www')]) await chown(dir, uid, uid);

  const hostKey = join(root, 'ssh_host_ed25519_key');
  const hostPublic = await sshKeygen(hostKey);
  const identity = join(root, 'client_ed25519');
  const clientPublic = await sshKeygen(identity);
  const otherPublic = await sshKeygen(join(root, 'other_host_key'));
  await writeFile(join(root, 'authorized_keys'), `${clientPublic}\n`, { mode: 0o644 });
  await copyFile(STANDIN_DOCKER, join(bin, 'docker'));
  await chmod(join(bin, 'docker'), 0o755);

  const port = await freePort();
  const knownHosts = join(root, 'known_hosts');
  const pin = (key: string) => `[127.0.0.1]:${port} ${key.split(' ').slice(0, 2).join(' ')}\n`;
  await writeFile(knownHosts, pin(hostPublic));
  const wrongKnownHosts = join(root, 'known_hosts.wrong');
  await writeFile(wrongKnownHosts, pin(otherPublic));

  // Caddy, serving the stand-in's readiness files over HTTPS with its own CA.
  const httpsPort = await freePort();
  const caddyData = join(root, 'caddy-data');
  const caddyfile = join(root, 'Caddyfile');
  await writeFile(
    caddyfile,
    [
      '{',
      '\tadmin off',
      '\tauto_https disable_redirects',
      `\thttp_port ${await freePort()}`,
      `\thttps_port ${httpsPort}`,
      `\tstorage file_system ${caddyData}`,
      '\tskip_install_trust',
      '}',
      `https://localhost:${httpsPort} {`,
      '\ttls internal',
      `\troot * ${join(state, 'www')}`,
      '\tfile_server',
      '}',
      '',
    ].join('\n'),
  );
  const caddy = spawn('caddy', ['run', '--config', caddyfile, '--adapter', 'caddyfile'], {
    stdio: 'ignore',
    env: { ...process.env, XDG_DATA_HOME: join(root, 'xdg-data'), XDG_CONFIG_HOME: join(root, 'xdg-config'), HOME: root },
  });
  const rootCert = join(caddyData, 'pki', 'authorities', 'local', 'root.crt');
  await waitForFile(rootCert);
  const gateCaFile = join(root, 'caddy-root.crt');
  await copyFile(rootCert, gateCaFile);
  await chmod(gateCaFile, 0o644);
  await waitForPort(httpsPort);

  await mkdir('/run/sshd', { recursive: true });
  const sshdConfig = join(root, 'sshd_config');
  await writeFile(
    sshdConfig,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${join(root, 'authorized_keys')}`,
      `PidFile ${join(root, 'sshd.pid')}`,
      'UsePAM no',
      // The temporary directory is not laid out the way StrictModes wants a home.
      'StrictModes no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin no',
      `AllowUsers ${user}`,
      // The stand-in docker first on the remote PATH; where it keeps its state.
      `SetEnv PATH=${bin}:/usr/local/bin:/usr/bin:/bin STANDIN_STATE=${state} STANDIN_PROJECT=bpe-test`,
      'Subsystem sftp internal-sftp',
      '',
    ].join('\n'),
  );
  const sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', sshdConfig], { stdio: ['ignore', 'ignore', 'pipe'] });
  const sshdLog: string[] = [];
  sshd.stderr.on('data', (chunk: Buffer) => sshdLog.push(chunk.toString()));
  try {
    await waitForPort(port);
  } catch (error) {
    throw new Error(`sshd did not start: ${sshdLog.join('')}`, { cause: error });
  }

  return {
    root,
    user,
    uid,
    port,
    appDir,
    state,
    identity,
    knownHosts,
    wrongKnownHosts,
    gateUrl: `https://localhost:${httpsPort}`,
    gateCaFile,
    stop: async () => {
      await waitExit(sshd);
      await waitExit(caddy);
      // Sessions of the user may still be closing: -f removes the user regardless.
      await run('userdel', ['-f', user]).catch(() => undefined);
      await rm(root, { recursive: true, force: true });
    },
  };
}
