// A redis-server of its own started with the ACL file `npm run redis:acl` renders
// (deploy/config/redis/acl.ts) and the passwords it creates, as production runs it:
// the default user off, one user per service, passwords in 0600 files.

import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { passwordFile, renderSecrets } from '../../deploy/config/redis/render.ts';
import { startRedisServer, type RedisServer } from '../../base/redis-server.ts';

export interface SecureRedis {
  server: RedisServer;
  secretsDir: string;
  prefix: string;
  /** A client as `user` (admin: everything; for test setup and checks). */
  client(user: string): Promise<Redis>;
  password(user: string): Promise<string>;
  /** What a service needs to connect as `user`: REDIS_URL without credentials, the user, its password file. */
  env(user: string): { REDIS_URL: string; REDIS_USERNAME: string; REDIS_PASSWORD_FILE: string };
  close(): Promise<void>;
}

export async function startSecureRedis(root: string, prefix = 'bpe'): Promise<SecureRedis> {
  const secretsDir = join(root, 'secrets');
  await mkdir(secretsDir, { recursive: true, mode: 0o700 });
  await renderSecrets(secretsDir, prefix);
  const server = await startRedisServer({ dir: join(root, 'redis'), extraArgs: ['--aclfile', join(secretsDir, 'redis.acl')] });
  const clients: Redis[] = [];
  const password = async (user: string) => (user === 'healthcheck' ? 'healthcheck' : (await readFile(passwordFile(secretsDir, user), 'utf8')).trim());
  return {
    server,
    secretsDir,
    prefix,
    password,
    async client(user: string) {
      const client = new Redis(server.url, { username: user, password: await password(user), lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
      client.on('error', () => undefined);
      await client.connect();
      clients.push(client);
      return client;
    },
    env: (user: string) => ({ REDIS_URL: server.url, REDIS_USERNAME: user, REDIS_PASSWORD_FILE: passwordFile(secretsDir, user) }),
    async close() {
      for (const client of clients) client.disconnect();
      await server.stop();
    },
  };
}
