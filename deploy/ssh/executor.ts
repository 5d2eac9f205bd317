// Runs commands over SSH with node-ssh, and only on a host whose key is pinned.
// node-ssh's execCommand resolves whatever the exit code: the caller decides what a
// code means (deployer.ts checks every one); a null code (killed by a signal) is
// always an error here.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { NodeSSH } from 'node-ssh';
import { describe, render, type Command } from './command.ts';
import type { PinnedKey } from './known-hosts.ts';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Executor {
  /** Runs one command; resolves with its exit code, rejects only when it did not exit normally. */
  run(command: Command): Promise<ExecResult>;
  /** A fresh connection (group membership changes take effect at login). */
  reconnect(): Promise<void>;
  close(): void;
}

export class RemoteCommandError extends Error {
  constructor(
    readonly command: Command,
    readonly result: { code: number | null; signal?: string | null; stdout: string; stderr: string },
  ) {
    const how = result.code === null ? `was killed by signal ${result.signal ?? 'unknown'}` : `exited with code ${result.code}`;
    const output = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-10).join('\n');
    super(`${command.summary}: \`${describe(command)}\` ${how}${output ? `:\n${output}` : ''}`);
    this.name = 'RemoteCommandError';
  }
}

export class HostKeyMismatchError extends Error {
  constructor(host: string, offered: string) {
    super(
      `the host key of ${host} (${offered}) matches none pinned for it: refusing to connect. ` +
        'If the server was rebuilt, pin its new key (provisioning does); otherwise someone may be in the middle.',
    );
    this.name = 'HostKeyMismatchError';
  }
}

export interface SshTarget {
  host: string;
  port: number;
  username: string;
  /** Private key file; when unset the SSH agent (SSH_AUTH_SOCK) is used. */
  privateKeyPath?: string;
  pinnedKeys: readonly PinnedKey[];
  readyTimeoutMs?: number;
}

/** As OpenSSH prints it: SHA256 and unpadded base64. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export class SshExecutor implements Executor {
  private ssh = new NodeSSH();

  private constructor(private readonly target: SshTarget) {}

  static async connect(target: SshTarget): Promise<SshExecutor> {
    const executor = new SshExecutor(target);
    await executor.open();
    return executor;
  }

  private async open(): Promise<void> {
    const { target } = this;
    let offered: Buffer | undefined;
    const privateKey = target.privateKeyPath ? await readFile(target.privateKeyPath, 'utf8') : undefined;
    try {
      await this.ssh.connect({
        host: target.host,
        port: target.port,
        username: target.username,
        ...(privateKey ? { privateKey } : { agent: process.env.SSH_AUTH_SOCK }),
        readyTimeout: target.readyTimeoutMs ?? 20_000,
        // Only the pinned key types are negotiated, so the server cannot pick another key.
        algorithms: { serverHostKey: [...new Set(target.pinnedKeys.map((k) => k.type))] },
        hostVerifier: (key: Buffer) => {
          offered = key;
          return target.pinnedKeys.some((pinned) => pinned.blob.equals(key));
        },
      });
    } catch (error) {
      this.ssh.dispose();
      if (offered && !target.pinnedKeys.some((pinned) => pinned.blob.equals(offered!))) {
        throw new HostKeyMismatchError(`${target.host}:${target.port}`, fingerprint(offered));
      }
      throw new Error(`cannot connect to ${target.username}@${target.host}:${target.port}: ${(error as Error).message}`, { cause: error });
    }
  }

  async run(command: Command): Promise<ExecResult> {
    const stdin = command.stdin
      ? command.stdin.source === 'text'
        ? Readable.from([Buffer.from(command.stdin.text)])
        : createReadStream(command.stdin.path)
      : undefined;
    const result = await this.ssh.execCommand(render(command), { ...(stdin ? { stdin } : {}), noTrim: true });
    if (result.code === null) throw new RemoteCommandError(command, result);
    return { code: result.code, stdout: result.stdout, stderr: result.stderr };
  }

  async reconnect(): Promise<void> {
    this.ssh.dispose();
    this.ssh = new NodeSSH();
    await this.open();
  }

  close(): void {
    this.ssh.dispose();
  }
}
