// The audit trail: a hash chain appended from several processes at once, mirrored
// in order to daily files and to Loki, deploys imported from deploys.log, exports
// recorded by the API, and `npm run audit:verify` naming whatever was edited,
// removed or reordered, in the stream, in the files, or between them.

import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { appendFile, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GENESIS, entryHash, type AuditEntry, type AuditRecord } from '../services/shared/audit/chain.ts';
import { auditKeys } from '../services/shared/audit/keys.ts';
import { AuditLog } from '../services/shared/audit/log.ts';
import { AuditMirror, createAuditLokiLogger } from '../services/shared/audit/mirror.ts';
import { DeployImporter } from '../services/shared/audit/deploy-import.ts';
import { verifyAudit } from '../services/shared/audit/verify.ts';
import { runAuditCli } from '../services/shared/audit/cli.ts';
import { API_KEY_PATTERN, keyId } from '../services/api/auth/keys.ts';
import { REPO_ROOT } from '../base/paths.ts';
import { SHARED_REDIS_URL, clearPrefix, redisClient, removeDir, tempDir, uniquePrefix, waitUntil } from './helpers/pipeline.ts';
import { WINDOW_END, WINDOW_START, buildStore, startTestApi, type ApiFixture } from './helpers/api-fixture.ts';

const run = promisify(execFile);

const record = (i: number, source = 'test'): AuditRecord => ({
  action: i % 2 ? 'export' : 'auth_failure',
  actor: { type: 'key', id: `k${i % 3}` },
  source,
  ip: '192.0.2.1',
  details: { i, filters: { text: `q${i} "quoted" \u00e9\u{1F98B}` } },
});

describe('the audit trail', { timeout: 120_000 }, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  const connections: Redis[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });
  afterAll(() => {
    for (const c of connections) c.disconnect();
  });

  async function setup(name: string) {
    const prefix = uniquePrefix(name);
    const dir = await tempDir(name);
    const redis = redisClient(SHARED_REDIS_URL);
    connections.push(redis);
    cleanups.push(async () => {
      await clearPrefix(redis, prefix);
      await removeDir(dir);
    });
    return { prefix, dir, redis, auditDir: join(dir, 'audit') };
  }

  async function verifyCli(env: Record<string, string>, ...args: string[]): Promise<{ code: number; out: string }> {
    const lines: string[] = [];
    const code = await runAuditCli(['verify', ...args], { REDIS_URL: SHARED_REDIS_URL, ...env }, (line) => lines.push(line));
    return { code, out: lines.join('\n') };
  }

  it('appends from several processes at once form one chain: seq 1..n, each entry holding the hash of the one before', async () => {
    const { prefix, redis } = await setup('audit-chain');
    const other = redisClient(SHARED_REDIS_URL);
    connections.push(other);
    const a = new AuditLog(redis, prefix);
    const b = new AuditLog(other, prefix);
    await Promise.all(Array.from({ length: 120 }, (_, i) => (i % 2 ? a : b).append(record(i))));
    const entries = (await redis.xrange(auditKeys(prefix).stream, '-', '+')).map(([, f]) => JSON.parse(f[1]!) as AuditEntry);
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    expect(entries[0]!.prev).toBe(GENESIS);
    for (let i = 1; i < entries.length; i++) expect(entries[i]!.prev).toBe(entries[i - 1]!.hash);
    for (const entry of entries) expect(entryHash(entry)).toBe(entry.hash);
    expect(await redis.get(auditKeys(prefix).head)).toBe(`120:${entries.at(-1)!.hash}`);
    expect(await verifyAudit({ redis, prefix })).toMatchObject({ ok: true, problems: [] });
  });

  it('mirrors the stream to daily files in order (one mirror at a time), mode 0600, and repairs a torn last line', async () => {
    const { prefix, redis, auditDir } = await setup('audit-mirror');
    const log = new AuditLog(redis, prefix);
    const mirrors = [new AuditMirror(redis, prefix, { dir: auditDir }), new AuditMirror(redisClient(SHARED_REDIS_URL), prefix, { dir: auditDir })];
    // Appends and mirror passes interleaved, the two mirrors racing.
    for (let round = 0; round < 5; round++) {
      await Promise.all([...Array.from({ length: 20 }, (_, i) => log.append(record(round * 20 + i))), ...mirrors.map((m) => m.sync()), ...mirrors.map((m) => m.sync())]);
    }
    await mirrors[0]!.sync();
    const files = await readdir(auditDir);
    expect(files).toEqual([`audit-${new Date().toISOString().slice(0, 10)}.jsonl`]);
    const lines = (await readFile(join(auditDir, files[0]!), 'utf8')).trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as AuditEntry).seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect((await stat(join(auditDir, files[0]!))).mode & 0o777).toBe(0o600);
    expect((await stat(auditDir)).mode & 0o777).toBe(0o700);
    expect(await verifyAudit({ redis, prefix, dir: auditDir })).toMatchObject({ ok: true, stream: { entries: 100 }, files: { entries: 100 } });

    // A crash mid-write leaves half a line: the next pass cuts it off and goes on.
    await appendFile(join(auditDir, files[0]!), '{"v":1,"seq":101,"ti');
    await log.append(record(100));
    await mirrors[1]!.sync();
    expect(await verifyAudit({ redis, prefix, dir: auditDir })).toMatchObject({ ok: true, files: { entries: 101, last: 101 } });
  });

  describe('npm run audit:verify names what was tampered with', () => {
    async function trail(name: string, count = 10) {
      const ctx = await setup(name);
      const log = new AuditLog(ctx.redis, ctx.prefix);
      for (let i = 0; i < count; i++) await log.append(record(i));
      await new AuditMirror(ctx.redis, ctx.prefix, { dir: ctx.auditDir }).sync();
      const [file] = await readdir(ctx.auditDir);
      const path = join(ctx.auditDir, file!);
      const lines = (await readFile(path, 'utf8')).trim().split('\n');
      const env = { REDIS_PREFIX: ctx.prefix, AUDIT_DIR: ctx.auditDir };
      return { ...ctx, log, file: file!, path, lines, env, write: (l: string[]) => writeFile(path, `${l.join('\n')}\n`) };
    }

    it('intact: exit 0', async () => {
      const t = await trail('audit-intact');
      const { code, out } = await verifyCli(t.env);
      expect(out).toMatch(/stream: 10 entries \(seq 1 to 10\); files in .*: 10 entries/);
      expect(out).toMatch(/intact/);
      expect(code).toBe(0);
    });

    it('an edited entry (its hash no longer matches)', async () => {
      const t = await trail('audit-edited');
      const lines = [...t.lines];
      lines[3] = lines[3]!.replace('"i":3', '"i":33');
      await t.write(lines);
      const { code, out } = await verifyCli(t.env);
      expect(code).toBe(1);
      expect(out).toContain(`EDITED     seq 4 (${t.file}:4) was edited: its content does not match its hash`);
      expect(out).toMatch(/MISMATCH +seq 4 differs between the stream/);
    });

    it('an edited entry given a fresh hash (the next entry still holds the old one)', async () => {
      const t = await trail('audit-rehashed');
      const lines = [...t.lines];
      const entry = JSON.parse(lines[5]!) as AuditEntry;
      entry.details = { ...entry.details, rows: 0 };
      entry.hash = entryHash(entry);
      lines[5] = JSON.stringify(entry);
      await t.write(lines);
      const { code, out } = await verifyCli(t.env, '--no-redis');
      expect(code).toBe(1);
      expect(out).toContain(`EDITED     seq 6 (${t.file}:6) was altered: seq 7 (${t.file}:7) records a different hash for it`);
    });

    it('a removed entry', async () => {
      const t = await trail('audit-removed');
      await t.write(t.lines.filter((_, i) => i !== 4));
      const { code, out } = await verifyCli(t.env, '--no-redis');
      expect(code).toBe(1);
      expect(out).toContain(`REMOVED    seq 5 was removed (before ${t.file}:5)`);
    });

    it('reordered entries', async () => {
      const t = await trail('audit-reordered');
      const lines = [...t.lines];
      [lines[2], lines[6]] = [lines[6]!, lines[2]!];
      await t.write(lines);
      const { code, out } = await verifyCli(t.env, '--no-redis');
      expect(code).toBe(1);
      expect(out).toMatch(/REORDERED +seq 4 \(.*:4\) is out of order: it comes after seq 7/);
      expect(out).toMatch(/REORDERED +seq 3 \(.*:7\) is out of order/);
      expect(out).not.toMatch(/EDITED|REMOVED/);
    });

    it('entries deleted from the Redis stream, in the middle and at the end', async () => {
      const t = await trail('audit-stream');
      const ids = (await t.redis.xrange(auditKeys(t.prefix).stream, '-', '+')).map(([id]) => id);
      await t.redis.xdel(auditKeys(t.prefix).stream, ids[2]!, ids[9]!);
      const { code, out } = await verifyCli(t.env);
      expect(code).toBe(1);
      expect(out).toMatch(/REMOVED +seq 3 was removed \(before stream /);
      expect(out).toMatch(/REMOVED +the chain head is seq 10 but the stream ends at 9/);
    });

    it('the real command exits 1 on a tampered trail and 0 on an intact one', async () => {
      const t = await trail('audit-npm');
      const env = { ...process.env, REDIS_URL: SHARED_REDIS_URL, ...t.env };
      const ok = await run('npm', ['run', '--silent', 'audit:verify'], { cwd: REPO_ROOT, env });
      expect(ok.stdout).toMatch(/intact/);
      await t.write(t.lines.slice(1));
      const failed = await run('npm', ['run', '--silent', 'audit:verify'], { cwd: REPO_ROOT, env }).catch((error: { code: number; stdout: string }) => error);
      expect((failed as { code: number }).code).toBe(1);
      expect((failed as { stdout: string }).stdout).toMatch(/REMOVED +seq 1 to 1 are missing from the start of the files|REMOVED +seq 1/);
    });
  });

  it('deploys.log lines become deploy entries once, whoever imports them; audit:verify --deploys-log catches an edited line', async () => {
    const { prefix, redis, dir } = await setup('audit-deploys');
    const deploysLog = join(dir, 'deploys.log');
    const line = (n: number) => JSON.stringify({ time: `2026-11-2${n}T10:00:00Z`, who: 'ops@example.org', commit: `abc${n}`, outcome: 'deployed' });
    await writeFile(deploysLog, `${line(1)}\n${line(2)}\n`);
    const importers = [new DeployImporter(new AuditLog(redis, prefix), deploysLog), new DeployImporter(new AuditLog(redisClient(SHARED_REDIS_URL), prefix), deploysLog)];
    await Promise.all(importers.map((i) => i.sync()));
    await Promise.all(importers.map((i) => i.sync()));
    await appendFile(deploysLog, `${line(3)}\n{"who":"partial`);
    await Promise.all(importers.map((i) => i.sync()));
    const deploys = (await redis.xrange(auditKeys(prefix).stream, '-', '+')).map(([, f]) => JSON.parse(f[1]!) as AuditEntry);
    expect(deploys.map((e) => [e.action, e.actor.name, e.details.commit])).toEqual([
      ['deploy', 'ops@example.org', 'abc1'],
      ['deploy', 'ops@example.org', 'abc2'],
      ['deploy', 'ops@example.org', 'abc3'],
    ]);
    const env = { REDIS_PREFIX: prefix };
    expect((await verifyCli(env, '--deploys-log', deploysLog)).code).toBe(0);
    await writeFile(deploysLog, `${line(1)}\n${line(2).replace('abc2', 'evil')}\n${line(3)}\n`);
    const { code, out } = await verifyCli(env, '--deploys-log', deploysLog);
    expect(code).toBe(1);
    expect(out).toContain(`${deploysLog}:2 is not in the audit trail as written`);
  });

  it('the mirror ships entries to Loki with the label audit="true"', async () => {
    const { prefix, redis, auditDir } = await setup('audit-loki');
    const pushes: { stream: Record<string, string>; values: [string, string][] }[] = [];
    const server: Server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        pushes.push(...(JSON.parse(body) as { streams: typeof pushes }).streams);
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const loki = createAuditLokiLogger({ lokiUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, service: 'api', environment: 'test', batchSeconds: 1 });
    const log = new AuditLog(redis, prefix);
    for (let i = 0; i < 3; i++) await log.append(record(i));
    await new AuditMirror(redis, prefix, { dir: auditDir, loki }).sync();
    await waitUntil(async () => pushes.flatMap((p) => p.values).length >= 3, 'the audit entries in Loki');
    expect(pushes[0]!.stream).toMatchObject({ audit: 'true', service: 'api', env: 'test' });
    const shipped = pushes.flatMap((p) => p.values).map(([, l]) => (JSON.parse(l) as { audit: AuditEntry }).audit);
    expect(shipped.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(shipped[0]!.hash).toBe(entryHash(shipped[0]!));
  });

  describe('exports through the API', () => {
    let dir: string;
    let fixture: ApiFixture;
    beforeAll(async () => {
      dir = await tempDir('audit-export');
      fixture = await buildStore(dir);
    });
    afterAll(async () => {
      await fixture?.close();
      await removeDir(dir);
    });

    it('each export is an entry: who, which filters, how many rows; it reaches the daily files', async () => {
      const api = await startTestApi(dir, { AUDIT_SYNC_MS: '200' });
      try {
        const filters = { text: 'the', lang: 'en', start: new Date(WINDOW_START).toISOString(), end: new Date(WINDOW_END).toISOString(), format: 'ndjson', limit: '37' };
        const response = await api.app.inject({ method: 'GET', url: `/v1/export?${new URLSearchParams(filters).toString()}` });
        expect(response.statusCode).toBe(200);
        const rows = response.body.trim().split('\n').length;
        expect(rows).toBe(37);
        const id = keyId(api.key!);
        const redis = redisClient(SHARED_REDIS_URL);
        connections.push(redis);
        const entry = await waitUntil(async () => {
          const entries = (await redis.xrange(auditKeys(api.prefix).stream, '-', '+')).map(([, f]) => JSON.parse(f[1]!) as AuditEntry);
          return entries.find((e) => e.action === 'export');
        }, 'the export entry');
        // The filters as the API understood them (validated and typed).
        expect(entry).toMatchObject({ actor: { type: 'key', id, name: 'test' }, ip: '127.0.0.1', source: 'api', details: { filters: { ...filters, limit: 37 }, rows: 37, complete: true } });
        expect(JSON.stringify(entry)).not.toMatch(API_KEY_PATTERN);
        expect(api.stats.auditEvents.export).toBe(1);
        // The API's mirror wrote it to the daily file.
        const auditDir = api.config.AUDIT_DIR!;
        await waitUntil(async () => (await readdir(auditDir).catch(() => [])).length > 0 && (await verifyAudit({ redis, prefix: api.prefix, dir: auditDir })).files?.entries === 1, 'the daily file');
      } finally {
        await api.close();
      }
    });
  });
});
