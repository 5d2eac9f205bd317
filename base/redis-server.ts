// Starts a redis-server of our own (Debian's package), configured as the buffer
// must be in production: AOF with fsync every second, no eviction. Used by
// `npm start` when no Redis answers at REDIS_URL, and by the fault tests.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { freePort, waitForPort } from './ports.ts';

export interface RedisServerOptions {
  dir: string;
  port?: number;
  host?: string;
  appendfsync?: 'always' | 'everysec' | 'no';
  maxmemory?: string;
  /** Extra redis.conf directives as command-line pairs, e.g. ['--aclfile', path]. */
  extraArgs?: string[];
  /** Own process group: a terminal's Ctrl-C reaches the supervisor only (see service-process.ts). */
  detached?: boolean;
}

export interface RedisServer {
  url: string;
  port: number;
  dir: string;
  process: ChildProcess;
  /** SIGTERM: Redis flushes the AOF and exits. */
  stop(): Promise<void>;
  /** SIGKILL: a crash; at most the last fsync interval is lost. */
  kill(): Promise<void>;
  /** Starts the same server again (same port, same files). */
  restart(): Promise<void>;
}

export async function startRedisServer(options: RedisServerOptions): Promise<RedisServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? (await freePort(host));
  const dir = resolve(options.dir);
  await mkdir(dir, { recursive: true });
  const args = [
    '--port', String(port),
    '--bind', host,
    '--dir', dir,
    '--appendonly', 'yes',
    '--appendfsync', options.appendfsync ?? 'everysec',
    '--save', '',
    '--maxmemory', options.maxmemory ?? '0',
    '--maxmemory-policy', 'noeviction',
    '--logfile', join(dir, 'redis.log'),
    '--daemonize', 'no',
    ...(options.extraArgs ?? []),
  ];
  let child!: ChildProcess;
  const launch = async () => {
    child = spawn('redis-server', args, { stdio: 'ignore', detached: options.detached ?? false });
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) => reject(new Error(`redis-server exited with code ${code}; see ${join(dir, 'redis.log')}`))),
    );
    exited.catch(() => undefined);
    await Promise.race([waitForPort(port, host), exited]);
  };
  const waitExit = (signal: NodeJS.Signals) =>
    new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once('exit', () => done());
      child.kill(signal);
    });
  await launch();
  const server: RedisServer = {
    url: `redis://${host}:${port}`,
    port,
    dir,
    get process() {
      return child;
    },
    stop: () => waitExit('SIGTERM'),
    kill: () => waitExit('SIGKILL'),
    restart: launch,
  };
  return server;
}
