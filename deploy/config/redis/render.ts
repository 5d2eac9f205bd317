// `npm run redis:acl`: renders the Redis ACL file from acl.ts.
//
//   npm run redis:acl -- --secrets-dir DIR [--prefix bpe]
//       DIR/redis.acl (0600) with each user's password hash, from DIR/redis-<user>.password
//       (created, 0600, with 256 random bits, when missing: rotate a password by deleting
//       its file and rendering again), and DIR/redis-exporter.env for redis_exporter.
//   npm run redis:acl -- --template     rewrites deploy/config/redis/users.acl (rules only)
//   npm run redis:acl -- --check        exits 1 when deploy/config/redis/users.acl is stale
//
// Passwords are never printed. After a change, load the file into a running Redis
// with `ACL LOAD` as the admin user (runbooks/security.md) or restart it.

import { createHash, randomBytes } from 'node:crypto';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { passwordUsers, renderAcl } from './acl.ts';

export const TEMPLATE = fileURLToPath(new URL('./users.acl', import.meta.url));

export function passwordFile(dir: string, user: string): string {
  return join(dir, `redis-${user}.password`);
}

async function readOrCreatePassword(path: string): Promise<{ password: string; created: boolean }> {
  try {
    const info = await stat(path);
    if ((info.mode & 0o077) !== 0) throw new Error(`${path} is readable by group or others: chmod 600 it first`);
    const password = (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
    if (password.length < 16) throw new Error(`${path} holds a password shorter than 16 characters`);
    return { password, created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const password = randomBytes(32).toString('base64url');
    await writeFile(path, `${password}\n`, { mode: 0o600, flag: 'wx' });
    return { password, created: true };
  }
}

/** Writes DIR/redis.acl and the files derived from the passwords; returns the users whose password was created. */
export async function renderSecrets(dir: string, prefix: string): Promise<string[]> {
  const hashes: Record<string, string> = {};
  const created: string[] = [];
  const passwords: Record<string, string> = {};
  for (const user of passwordUsers(prefix)) {
    const { password, created: isNew } = await readOrCreatePassword(passwordFile(dir, user.name));
    passwords[user.name] = password;
    hashes[user.name] = createHash('sha256').update(password).digest('hex');
    if (isNew) created.push(user.name);
  }
  const write = async (name: string, text: string) => {
    const path = join(dir, name);
    await writeFile(path, text, { mode: 0o600 });
    await chmod(path, 0o600);
  };
  await write('redis.acl', renderAcl(prefix, hashes));
  await write('redis-exporter.env', `REDIS_USER=exporter\nREDIS_PASSWORD=${passwords.exporter}\n`);
  return created;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { 'secrets-dir': { type: 'string' }, prefix: { type: 'string', default: 'bpe' }, template: { type: 'boolean' }, check: { type: 'boolean' } } });
  const prefix = values.prefix;
  if (!/^[a-zA-Z0-9_.-]{1,64}$/.test(prefix)) throw new Error('--prefix: letters, digits, _ . - only (REDIS_PREFIX)');
  if (values.check) {
    if ((await readFile(TEMPLATE, 'utf8')) !== renderAcl('bpe')) {
      console.error('deploy/config/redis/users.acl is stale: run `npm run redis:acl -- --template`');
      process.exit(1);
    }
    console.log('deploy/config/redis/users.acl is up to date');
  } else if (values.template) {
    await writeFile(TEMPLATE, renderAcl('bpe'));
    console.log(`wrote ${TEMPLATE} (rules only, every user off)`);
  } else if (values['secrets-dir']) {
    const created = await renderSecrets(values['secrets-dir'], prefix);
    console.log(`wrote ${join(values['secrets-dir'], 'redis.acl')} and redis-exporter.env (mode 0600)`);
    if (created.length > 0) console.log(`new passwords (files redis-<user>.password, 0600) for: ${created.join(', ')}`);
  } else {
    console.error('usage: npm run redis:acl -- --secrets-dir DIR [--prefix bpe] | --template | --check');
    process.exit(2);
  }
}
