// Least-privilege Redis: a real redis-server started with the ACL file `npm run
// redis:acl` renders (deploy/config/redis/acl.ts), passwords in 0600 files. Every
// service does its whole job as its own user (the real ingester and writer through
// a replay, the API serving and auditing, the keys CLI, the backup's commands, the
// health check), and every command outside a user's job is refused, scripts
// included (Redis checks the commands a script runs against its caller's ACL).

import { execFile } from 'node:child_process';
import { readFile, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReplayServer, type ReplayServer } from '../loadtest/jetstream-replay/server.ts';
import type { ServiceProcess } from '../base/service-process.ts';
import { startRedisServer } from '../base/redis-server.ts';
import { REPO_ROOT } from '../base/paths.ts';
import { TEMPLATE } from '../deploy/config/redis/render.ts';
import { aclUsers, renderAcl } from '../deploy/config/redis/acl.ts';
import { runKeysCli } from '../services/api/auth/cli.ts';
import { runAuditCli } from '../services/shared/audit/cli.ts';
import { loadApiConfig } from '../services/api/config.ts';
import { ConfigError } from '../base/config.ts';
import { loggedPort, redisKeys, removeDir, startApi, startIngester, startWriter, tempDir, waitForStored, waitUntil } from './helpers/pipeline.ts';
import { startSecureRedis, type SecureRedis } from './helpers/secure-redis.ts';

const run = promisify(execFile);
const REFUSED = /NOPERM|no permissions|can't run this command|can't access at least one of the keys|WRONGPASS|NOAUTH/;

describe('the Redis ACL file', () => {
  it('the committed rules-only copy is what acl.ts renders (npm run redis:acl -- --template), and redis-server loads it', async () => {
    expect(await readFile(TEMPLATE, 'utf8')).toBe(renderAcl('bpe'));
    const dir = await tempDir('acl-template');
    try {
      const server = await startRedisServer({ dir, extraArgs: ['--aclfile', TEMPLATE] });
      await server.stop();
    } finally {
      await removeDir(dir);
    }
  });

  it('renders passwords as sha256 hashes only, in 0600 files', async () => {
    const root = await tempDir('acl-render');
    try {
      const redis = await startSecureRedis(root);
      await redis.close();
      const acl = await readFile(join(redis.secretsDir, 'redis.acl'), 'utf8');
      for (const user of ['ingester', 'writer', 'api', 'keys', 'backup', 'exporter', 'admin']) {
        const password = await redis.password(user);
        expect(password.length).toBeGreaterThanOrEqual(32);
        expect(acl).not.toContain(password);
        expect(acl).toMatch(new RegExp(`^user ${user} on resetpass #[0-9a-f]{64} `, 'm'));
      }
      expect(acl).toMatch(/^user default off /m);
      const { stdout } = await run('stat', ['-c', '%a %n', ...['redis.acl', 'redis-api.password', 'redis-exporter.env'].map((f) => join(redis.secretsDir, f))]);
      for (const line of stdout.trim().split('\n')) expect(line).toMatch(/^600 /);
    } finally {
      await removeDir(root);
    }
  });
});

describe('the ACL and the AOF', () => {
  it('what scripts wrote survives a restart: the AOF loader replays their transactions as the (disabled) default user', async () => {
    // Redis checks each MULTI/EXEC it replays from the AOF against the default user's rules
    // (redis/redis#14541): with `-@all` there, every script's effects were dropped at each
    // restart, the ingester's cursor with them (found by test/compose-stack.test.ts).
    const root = await tempDir('acl-aof');
    try {
      const redis = await startSecureRedis(root);
      const ingester = await redis.client('ingester');
      const cursor = '1796400000000000';
      await ingester.eval("redis.call('SET', KEYS[1], ARGV[1]); redis.call('ZADD', KEYS[2], 1, ARGV[1]); return 1", 2, 'bpe:ingester:cursor', 'bpe:ingester:recent', cursor);
      ingester.disconnect();
      await redis.server.stop();
      await redis.server.restart();
      const admin = await redis.client('admin');
      expect(await admin.get('bpe:ingester:cursor')).toBe(cursor);
      expect(await admin.zscore('bpe:ingester:recent', cursor)).toBe('1');
      expect(await readFile(join(redis.server.dir, 'redis.log'), 'utf8')).not.toMatch(/AOF-loading-client/);
      await redis.close();
    } finally {
      await removeDir(root);
    }
  });
});

describe('every service works as its own Redis user, and nothing more', { timeout: 240_000 }, () => {
  let root: string;
  let dataDir: string;
  let redis: SecureRedis;
  let admin: Redis;
  let replay: ReplayServer;
  const services: ServiceProcess[] = [];
  const keys = redisKeys('bpe');

  beforeAll(async () => {
    root = await tempDir('acl');
    dataDir = join(root, 'parquet');
    redis = await startSecureRedis(root);
    admin = await redis.client('admin');
    replay = await startReplayServer({ seed: 23, rate: 0, total: 3000, invalidRatio: 0.02, outboxLimit: 0 });
  });
  afterAll(async () => {
    for (const service of services) await service.stop('SIGKILL');
    await replay?.close();
    await redis?.close();
    await removeDir(root);
  });

  it('the default user is off: a client without credentials can do nothing', async () => {
    const ping = await run('redis-cli', ['-p', String(redis.server.port), 'ping']);
    expect(ping.stdout).toMatch(/NOAUTH/);
    const asDefault = await run('redis-cli', ['-p', String(redis.server.port), '--no-auth-warning', '--user', 'default', '--pass', '', 'get', 'bpe:ingester:cursor']);
    expect(asDefault.stdout + asDefault.stderr).toMatch(REFUSED);
  });

  it('the ingester and the writer carry a replay into Parquet, each as its own user', async () => {
    services.push(await startWriter({ redisUrl: redis.server.url, prefix: 'bpe', ...redis.env('writer'), DATA_DIR: dataDir, BATCH_MAX_EVENTS: '1000', BATCH_MAX_AGE_MS: '300' }));
    services.push(await startIngester({ redisUrl: redis.server.url, prefix: 'bpe', ...redis.env('ingester'), JETSTREAM_URL: replay.url }));
    await replay.whenReleased(3000);
    const sent = () => Array.from({ length: replay.releasedCount() }, (_, i) => replay.releasedEvent(i));
    const report = await waitForStored(admin, keys, dataDir, sent);
    expect(report).toMatchObject({ missing: 0, duplicates: 0 });
    // Invalid events were dead-lettered by the ingester, as its user.
    expect(await admin.xlen(keys.deadLetter)).toBeGreaterThan(0);
    for (const service of services) expect(service.lines.join('\n')).not.toMatch(/NOPERM/);
  });

  it('the API serves, caches, rate-limits and audits as its user; the keys CLI and audit:verify work as theirs', async () => {
    const keysEnv = { ...redis.env('keys'), REDIS_PREFIX: 'bpe', AUDIT_ACTOR: 'acl-test' };
    const out: string[] = [];
    expect(await runKeysCli(['create', '--name', 'acl test', '--scopes', 'search,export,admin'], keysEnv, (l) => out.push(l))).toBe(0);
    const key = out.at(-1)!;
    const api = await startApi({ redisUrl: redis.server.url, prefix: 'bpe', ...redis.env('api'), DATA_DIR: dataDir, CACHE_TTL_SECONDS: '30', AUDIT_DIR: join(root, 'audit') });
    services.push(api);
    const base = `http://127.0.0.1:${await loggedPort(api, 'api started', 'port')}`;
    const headers = { authorization: `Bearer ${key}` };
    const search = await waitUntil(async () => {
      const response = await fetch(`${base}/v1/search?limit=5`, { headers });
      return response.status === 200 ? response : undefined;
    }, 'a search');
    expect(search.headers.get('x-cache')).toBe('miss');
    expect((await fetch(`${base}/v1/search?limit=5`, { headers })).headers.get('x-cache')).toBe('hit');
    expect(search.headers.get('x-ratelimit-remaining')).not.toBeNull();
    const exported = await fetch(`${base}/v1/export?limit=3&format=ndjson`, { headers });
    expect(exported.status).toBe(200);
    await exported.text();
    expect((await fetch(`${base}/v1/search`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    // An admin revokes a key over the API: the API may mark keys revoked, never write a key record.
    const other: string[] = [];
    await runKeysCli(['create', '--name', 'to revoke', '--scopes', 'search', '--json'], keysEnv, (l) => other.push(l));
    const victim = JSON.parse(other[0]!) as { key: string; id: string };
    expect((await fetch(`${base}/v1/admin/keys/${victim.id}/revoke`, { method: 'POST', headers })).status).toBe(200);
    await waitUntil(async () => (await fetch(`${base}/v1/search`, { headers: { authorization: `Bearer ${victim.key}` } })).status === 401, 'the revoked key refused');
    // The audit trail reached the files through the API's mirror, intact.
    await waitUntil(async () => {
      const lines: string[] = [];
      await runAuditCli(['verify', '--dir', join(root, 'audit')], { ...keysEnv }, (l) => lines.push(l));
      return lines.join('\n').includes('intact') && /files in .*: (\d+) entries/.exec(lines[0]!)?.[1] === /stream: (\d+) entries/.exec(lines[0]!)?.[1];
    }, 'the audit files to catch up');
    const list: string[] = [];
    expect(await runKeysCli(['list'], keysEnv, (l) => list.push(l))).toBe(0);
    expect(list.join('\n')).toMatch(/revoked/);
    expect(api.lines.join('\n')).not.toMatch(/NOPERM/);
  });

  it('the backup user takes a snapshot; the health check user only pings (the exact compose command)', async () => {
    const backup = await redis.client('backup');
    const before = await backup.lastsave();
    expect(await backup.dbsize()).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1100)); // LASTSAVE counts seconds
    expect(await backup.bgsave()).toMatch(/Background saving started/);
    await waitUntil(async () => (await backup.lastsave()) !== before, 'BGSAVE to finish');
    expect(await backup.info('persistence')).toContain('rdb_last_bgsave_status:ok');
    const { stdout } = await run('redis-cli', ['-p', String(redis.server.port), '--no-auth-warning', '--user', 'healthcheck', '--pass', 'healthcheck', 'ping']);
    expect(stdout.trim()).toBe('PONG');
  });

  /** Commands each user must be refused: outside its job, or destructive. */
  const FORBIDDEN: Record<string, string[][]> = {
    ingester: [
      ['XREADGROUP', 'GROUP', 'writers', 'x', 'STREAMS', 'bpe:events', '>'],
      ['XTRIM', 'bpe:events', 'MAXLEN', '0'],
      ['XDEL', 'bpe:events', '0-1'],
      ['DEL', 'bpe:events'],
      ['SET', 'bpe:events', 'x'],
      ['XADD', 'bpe:ingester:cursor', '*', 'a', 'b'],
      ['GET', 'bpe:writer:lease'],
      ['HGETALL', 'bpe:writer:manifests'],
      ['XADD', 'bpe:audit', '*', 'entry', '{}'],
      ['HGETALL', 'bpe:apikeys:0123456789abcdef'],
      ['EVAL', "return redis.call('DEL', KEYS[1])", '1', 'bpe:events'],
      ['EVAL', "return redis.call('SET', KEYS[1], 'x')", '1', 'bpe:events'],
    ],
    writer: [
      ['XADD', 'bpe:events', '*', 'e', '{}'],
      ['SET', 'bpe:ingester:cursor', '0'],
      ['DEL', 'bpe:events'],
      ['XDEL', 'bpe:events', '0-1'],
      ['XGROUP', 'DESTROY', 'bpe:events', 'writers'],
      ['HGETALL', 'bpe:apikeys:0123456789abcdef'],
      ['XADD', 'bpe:audit', '*', 'entry', '{}'],
      ['EVAL', "return redis.call('XADD', KEYS[1], '*', 'e', '{}')", '1', 'bpe:events'],
    ],
    api: [
      ['XADD', 'bpe:events', '*', 'e', '{}'],
      ['XREADGROUP', 'GROUP', 'writers', 'x', 'STREAMS', 'bpe:events', '>'],
      ['GET', 'bpe:ingester:cursor'],
      ['XRANGE', 'bpe:events', '-', '+'],
      ['XDEL', 'bpe:audit', '0-1'],
      ['XTRIM', 'bpe:audit', 'MAXLEN', '0'],
      ['DEL', 'bpe:audit'],
      ['SET', 'bpe:audit', 'x'],
      // It may read key records but never write one: it cannot mint a key.
      ['HSET', 'bpe:apikeys:0123456789abcdef', 'hash', '00'],
      ['HSETNX', 'bpe:apikeys:0123456789abcdef', 'id', 'x'],
      ['SADD', 'bpe:apikeys:index', 'x'],
      ['DEL', 'bpe:apikeys-revoked'],
      ['HDEL', 'bpe:apikeys-revoked', 'x'],
      ['EVAL', "return redis.call('HSET', KEYS[1], 'hash', '00')", '1', 'bpe:apikeys:0123456789abcdef'],
    ],
    keys: [
      ['XADD', 'bpe:events', '*', 'e', '{}'],
      ['GET', 'bpe:ingester:cursor'],
      ['DEL', 'bpe:apikeys:0123456789abcdef'],
      ['HDEL', 'bpe:apikeys-revoked', 'x'],
      ['XDEL', 'bpe:audit', '0-1'],
      ['GET', 'bpe:api:cache:x'],
    ],
    backup: [['GET', 'bpe:ingester:cursor'], ['XRANGE', 'bpe:events', '-', '+'], ['CONFIG', 'SET', 'dir', '/tmp'], ['SAVE'], ['SHUTDOWN']],
    exporter: [['GET', 'bpe:ingester:cursor'], ['XRANGE', 'bpe:events', '-', '+'], ['HGETALL', 'bpe:apikeys:0123456789abcdef'], ['CONFIG', 'SET', 'maxmemory', '1'], ['KEYS', '*']],
    healthcheck: [['INFO'], ['GET', 'bpe:ingester:cursor'], ['DBSIZE'], ['CLIENT', 'LIST']],
  };
  const EVERYONE: string[][] = [
    ['FLUSHALL'],
    ['FLUSHDB'],
    ['KEYS', '*'],
    ['SCAN', '0'],
    ['CONFIG', 'SET', 'appendonly', 'no'],
    ['CONFIG', 'GET', 'requirepass'],
    ['ACL', 'LIST'],
    ['ACL', 'SETUSER', 'intruder', 'on', '>x', '+@all', '~*'],
    ['SHUTDOWN', 'NOSAVE'],
    ['SCRIPT', 'FLUSH'],
    ['MONITOR'],
    ['SUBSCRIBE', 'x'],
    ['PUBLISH', 'x', 'y'],
    ['MODULE', 'LIST'],
    ['REPLICAOF', '127.0.0.1', '1'],
    ['MIGRATE', '127.0.0.1', '1', 'bpe:events', '0', '1000'],
    ['RENAME', 'bpe:events', 'bpe:x'],
    ['CLIENT', 'KILL', 'TYPE', 'normal'],
  ];

  it.each(Object.keys(FORBIDDEN))('%s: every command outside its job is refused', async (user) => {
    const client = await redis.client(user);
    const allowedByException = (cmd: string[]) => user === 'exporter' && cmd[0] === 'CONFIG' && cmd[1] === 'GET';
    for (const command of [...FORBIDDEN[user]!, ...EVERYONE.filter((c) => !allowedByException(c))]) {
      if (command[0] === 'MONITOR' || command[0] === 'SUBSCRIBE') {
        // Connection-mode commands: send through a throwaway duplicate.
        const spare = client.duplicate();
        spare.on('error', () => undefined);
        await expect(spare.call(command[0], ...command.slice(1)), `${user}: ${command.join(' ')}`).rejects.toThrow(REFUSED);
        spare.disconnect();
        continue;
      }
      await expect(client.call(command[0]!, ...command.slice(1)), `${user}: ${command.join(' ')}`).rejects.toThrow(REFUSED);
    }
    // And the data is intact.
    expect(await admin.exists(keys.stream)).toBe(1);
  });

  it('every user the ACL declares is covered above (or is the operator\'s admin)', () => {
    const covered = new Set([...Object.keys(FORBIDDEN), 'default', 'admin']);
    expect(aclUsers('bpe').map((u) => u.name).filter((name) => !covered.has(name))).toEqual([]);
  });

  it('the keys CLI reads its password from standard input, as the runbook runs it (REDIS_PASSWORD_FILE=-)', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, ['--import', 'tsx', 'services/api/auth/cli.ts', 'list'], {
      cwd: REPO_ROOT,
      env: { ...process.env, REDIS_URL: redis.server.url, REDIS_USERNAME: 'keys', REDIS_PASSWORD_FILE: '-', REDIS_PREFIX: 'bpe' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stdin.end(await readFile(join(redis.secretsDir, 'redis-keys.password')));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(out).toMatch(/acl test/);
    expect(code).toBe(0);
  });

  it('a password file readable by others is refused at start-up, naming the variable', async () => {
    const loose = join(root, 'loose.password');
    await writeFile(loose, `${await redis.password('api')}\n`);
    await chmod(loose, 0o644);
    let error: unknown;
    try {
      loadApiConfig({ REDIS_PASSWORD_FILE: loose });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/REDIS_PASSWORD_FILE.*mode 644.*chmod 600/);
    expect((error as Error).message).not.toContain(await redis.password('api'));
  });
});
