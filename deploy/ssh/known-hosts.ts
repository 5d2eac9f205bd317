// Pinned SSH host keys, in OpenSSH's known_hosts format. Provisioning generates the
// server's host keys locally and writes their public halves here; the deploy tool
// accepts a host only when it presents one of them (ssh2 accepts any key unless
// hostVerifier says otherwise).

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface PinnedKey {
  /** Host patterns of the line: `name` for port 22, `[name]:port` otherwise. */
  hosts: string[];
  /** ssh-ed25519, ecdsa-sha2-nistp256, ... */
  type: string;
  /** The raw public key blob, as the server sends it during key exchange. */
  blob: Buffer;
}

export function hostPattern(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export function parseKnownHosts(text: string): PinnedKey[] {
  const keys: PinnedKey[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    // Markers (@cert-authority, @revoked) and hashed names are not written by our tools: skip them.
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith('@') || trimmed.startsWith('|')) continue;
    const [hosts, type, base64] = trimmed.split(/\s+/);
    if (!hosts || !type || !base64) continue;
    keys.push({ hosts: hosts.split(','), type, blob: Buffer.from(base64, 'base64') });
  }
  return keys;
}

export function keysFor(keys: readonly PinnedKey[], host: string, port: number): PinnedKey[] {
  const pattern = hostPattern(host, port);
  return keys.filter((key) => key.hosts.includes(pattern));
}

export async function readPinnedKeys(file: string, host: string, port: number): Promise<PinnedKey[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read the pinned host keys file ${file}: ${(error as Error).message}`, { cause: error });
  }
  const keys = keysFor(parseKnownHosts(text), host, port);
  if (keys.length === 0) {
    throw new Error(`no pinned host key for ${hostPattern(host, port)} in ${file}: provisioning writes it; or add the line "${hostPattern(host, port)} <type> <key>"`);
  }
  return keys;
}

/** Adds or replaces the lines of these hosts; other lines are kept. */
export async function pinHostKeys(file: string, hosts: readonly string[], publicKeys: readonly string[]): Promise<void> {
  let existing = '';
  try {
    existing = await readFile(file, 'utf8');
  } catch {
    // first key: the file does not exist yet
  }
  const kept = existing.split('\n').filter((line) => {
    const names = line.trim().split(/\s+/)[0]?.split(',') ?? [];
    return line.trim() !== '' && !names.some((name) => hosts.includes(name));
  });
  const added = publicKeys.map((key) => {
    const [type, base64] = key.trim().split(/\s+/);
    return `${hosts.join(',')} ${type} ${base64}`;
  });
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${[...kept, ...added].join('\n')}\n`, { mode: 0o644 });
}
