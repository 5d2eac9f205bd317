// TESTS ONLY: a container engine for test/compose-stack.test.ts, which runs the
// production deploy/compose.yaml for real. Debian's docker.io (dockerd 20.10) and
// docker-compose (1.29) are installed by scripts/bootstrap.sh; these machines run no
// init system, so nothing starts dockerd: startEngine() does, when `docker info` gets
// no answer, and leaves it running (a daemon, like on any Docker host; a concurrent
// run of the test may be using it). What it needed on the 2-core Debian 12 VM
// (kernel 6.18, cgroup v1, no systemd), found by trying:
//
// - no dockerd flags at all: overlay2 storage, iptables (nft) and the default bridge
//   work as they are. BPE_DOCKERD_FLAGS adds flags where they do not (for instance
//   `--storage-driver=vfs`, `--iptables=false`).
// - the root mount made shared (`mount --make-rshared /`), which systemd does at boot
//   on every ordinary host: compose.yaml mounts the host's / into node-exporter with
//   `rslave` propagation, and Docker refuses that on a private mount ("path / is
//   mounted on / but it is not a shared or slave mount").
//
// When no engine can run, startEngine() throws EngineUnavailable naming the command
// that failed and why; the test is then skipped with that message.

import { spawn, type SpawnOptions } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

export class EngineUnavailable extends Error {}

export interface RunResult {
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Written to the command's stdin (a string), or piped into it (a stream). */
  input?: string | Readable;
  timeoutMs?: number;
}

/** Runs a command; rejects with its exit status and the end of its output when it fails. */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const spawnOptions: SpawnOptions = { cwd: options.cwd, env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] };
    const child = spawn(command, [...args], spawnOptions);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : undefined;
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${command} ${args.join(' ')}: ${error.message}`, { cause: error }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve({ stdout, stderr });
      const tail = `${stdout}\n${stderr}`.trim().split('\n').slice(-40).join('\n');
      const how = signal ? `was killed (${signal}${timer && signal === 'SIGKILL' ? `, over ${options.timeoutMs} ms` : ''})` : `exited ${code}`;
      reject(new Error(`\`${command} ${args.join(' ')}\` ${how}:\n${tail}`));
    });
    child.stdin!.on('error', () => undefined);
    if (typeof options.input === 'string') child.stdin!.end(options.input);
    else if (options.input) options.input.pipe(child.stdin!);
    else child.stdin!.end();
  });
}

/** The docker CLI (the first `docker` on PATH: Debian's docker.io, or a newer client; both speak to dockerd 20.10). */
export function docker(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return run('docker', args, options);
}

async function which(command: string): Promise<string | undefined> {
  try {
    return (await run('sh', ['-c', `command -v ${command}`])).stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

async function engineAnswers(): Promise<string | undefined> {
  try {
    return (await docker(['info', '--format', '{{.ServerVersion}} {{.Driver}}'], { timeoutMs: 15_000 })).stdout.trim();
  } catch {
    return undefined;
  }
}

export interface EngineInfo {
  /** dockerd's version and storage driver, e.g. "20.10.24+dfsg1 overlay2". */
  server: string;
  /** dockerd was started here (and keeps running). */
  started: boolean;
  /** Where a dockerd started here logs. */
  log?: string;
}

export const DOCKERD_LOG = join(tmpdir(), 'bpe-dockerd.log');

/** Extra dockerd flags (none needed on the development VM), from BPE_DOCKERD_FLAGS. */
export function dockerdFlags(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.BPE_DOCKERD_FLAGS ?? '').split(/\s+/).filter(Boolean);
}

/**
 * An answering container engine: dockerd as it runs, or started here. Throws
 * EngineUnavailable when the client, the daemon or its start fails.
 */
export async function startEngine(timeoutMs = 60_000): Promise<EngineInfo> {
  if (!(await which('docker'))) throw new EngineUnavailable('`docker` is not installed (Debian package docker.io; scripts/bootstrap.sh installs it)');
  if (!(await which('docker-compose'))) throw new EngineUnavailable('`docker-compose` is not installed (Debian package docker-compose; scripts/bootstrap.sh installs it)');
  const running = await engineAnswers();
  if (running) return { server: running, started: false };

  const dockerd = await which('dockerd');
  if (!dockerd) throw new EngineUnavailable('`docker info` gets no answer and `dockerd` is not installed (Debian package docker.io)');
  if (process.getuid?.() !== 0) throw new EngineUnavailable('`docker info` gets no answer, and starting dockerd needs root');

  // What systemd does at boot: without it, compose.yaml's `/:/host:ro,rslave` (node-exporter) is refused.
  const propagation = (await run('findmnt', ['--noheadings', '--output', 'PROPAGATION', '/'])).stdout.trim();
  if (propagation === 'private') await run('mount', ['--make-rshared', '/']);

  const flags = dockerdFlags();
  const log = openSync(DOCKERD_LOG, 'a');
  // Its own session, output to a file: it outlives the test (see the top of this file).
  const child = spawn(dockerd, flags, { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = signal ?? String(code)));
  child.once('error', (error) => (exited = error.message));
  child.unref();

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const server = await engineAnswers();
    if (server) return { server, started: true, log: DOCKERD_LOG };
    const tail = async () => (await run('tail', ['-n', '15', DOCKERD_LOG]).catch(() => ({ stdout: '' }))).stdout;
    if (exited !== undefined) throw new EngineUnavailable(`\`dockerd ${flags.join(' ')}\` exited (${exited}); the end of ${DOCKERD_LOG}:\n${await tail()}`);
    if (Date.now() > deadline) {
      throw new EngineUnavailable(`\`dockerd ${flags.join(' ')}\` (pid ${child.pid}) did not answer \`docker info\` within ${timeoutMs} ms; the end of ${DOCKERD_LOG}:\n${await tail()}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * The host's address on Docker's default bridge, where a container reaches a server
 * the test runs on the host. `docker network inspect bridge` names it as the IPAM
 * gateway when dockerd allocated the bridge itself, but leaves the gateway out when
 * dockerd restored the network from its store on a later start (seen on the CI
 * machine: dockerd 20.10, `"Config": [{"Subnet": "172.17.0.0/16"}]`); the bridge
 * interface (docker0) holds the address either way. Read with `ip`: Node's
 * networkInterfaces() leaves out an interface that is down, as docker0 is while no
 * container runs.
 */
export async function defaultBridgeAddress(): Promise<string> {
  const [network] = JSON.parse((await docker(['network', 'inspect', 'bridge'])).stdout) as {
    IPAM: { Config: { Gateway?: string }[] | null };
    Options?: Record<string, string>;
  }[];
  const gateway = network?.IPAM.Config?.find((c) => c.Gateway)?.Gateway;
  if (gateway) return gateway;
  const name = network?.Options?.['com.docker.network.bridge.name'] ?? 'docker0';
  const shown = (await run('ip', ['-4', '-o', 'address', 'show', 'dev', name])).stdout;
  const address = /\binet (\d+\.\d+\.\d+\.\d+)\//.exec(shown)?.[1];
  if (!address) throw new Error(`Docker's default bridge names no gateway and its interface ${name} has no IPv4 address: ${shown.trim() || '(none)'}`);
  return address;
}
