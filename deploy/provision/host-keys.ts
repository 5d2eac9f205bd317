// The server's SSH host key, generated here before the server exists: cloud-init
// installs it (ssh_keys) and the public half is pinned locally, so the very first
// connection is already verified; no trust-on-first-use.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface HostKeyPair {
  type: 'ed25519';
  /** OpenSSH private key (PEM-like text). Goes into the user data only; never written to disk here. */
  privateKey: string;
  /** `ssh-ed25519 AAAA... comment` */
  publicKey: string;
}

export async function generateHostKey(comment: string): Promise<HostKeyPair> {
  const dir = await mkdtemp(join(tmpdir(), 'bpe-hostkey-'));
  try {
    const file = join(dir, 'ssh_host_ed25519_key');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
    return { type: 'ed25519', privateKey: await readFile(file, 'utf8'), publicKey: (await readFile(`${file}.pub`, 'utf8')).trim() };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
