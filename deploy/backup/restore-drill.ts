// `npm run backup:restore-drill`: restores the latest backup snapshot into a scratch
// directory and proves it usable:
//   - every table's row count in the restored Parquet equals the count recorded in the
//     snapshot's manifest (written by backup.sh at snapshot time, from the same files);
//   - the Redis snapshot loads: a redis-server started on the restored RDB, on a free
//     port, answers DBSIZE (compared with the key count recorded at BGSAVE time);
//   - Grafana's database is a SQLite file; the audit files came back.
// Run it where restic, redis-server and this repository's npm dependencies are (the
// operator's machine or a scratch VM: a drill restores away from the live host), with
// the repository's credentials in the environment (RESTIC_REPOSITORY,
// RESTIC_PASSWORD_FILE, backend keys). Prints a JSON report; exits 1 when a check fails.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { z } from 'zod';
import { Redis } from 'ioredis';
import { startRedisServer } from '../../base/redis-server.ts';
import { countTables, type TableCounts } from './manifest.ts';

const run = promisify(execFile);

export interface Manifest {
  created_at: string;
  host: string;
  release: string;
  redis: { dbsize: number; lastsave_before: number };
  tables: Partial<TableCounts>;
}

export interface DrillReport {
  ok: boolean;
  snapshot: { id: string; time: string; host: string };
  scratch: string;
  tables: Record<string, { expected: number; restored: number; ok: boolean }>;
  redis: { expected_dbsize: number; restored_dbsize: number | null; ok: boolean; note?: string };
  grafana: { present: boolean; ok: boolean };
  audit_paths: string[];
  problems: string[];
}

interface Snapshot {
  id: string;
  short_id: string;
  time: string;
  hostname: string;
  paths: string[];
  tags?: string[];
}

const flagsSchema = z.object({
  repo: z.string().optional(),
  'password-file': z.string().optional(),
  snapshot: z.string().regex(/^(latest|[0-9a-f]{8,64})$/, 'latest or a snapshot id').default('latest'),
  tag: z.string().default('bpe'),
  scratch: z.string().optional(),
  keep: z.boolean().default(false),
});

async function restic(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  try {
    return (await run('restic', args, { env, maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`restic ${args[0]} failed: ${stderr.trim() || (error as Error).message}`, { cause: error });
  }
}

async function isSqlite(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const header = Buffer.alloc(16);
    await handle.read(header, 0, 16, 0);
    return header.toString('latin1') === 'SQLite format 3\0';
  } finally {
    await handle.close();
  }
}

/** Loads the RDB in a throwaway redis-server (no AOF: with AOF on, Redis would ignore the RDB). */
async function redisKeyCount(dir: string): Promise<number> {
  const server = await startRedisServer({ dir, extraArgs: ['--appendonly', 'no', '--dbfilename', 'dump.rdb'] });
  const client = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    return await client.dbsize();
  } finally {
    client.disconnect();
    await server.stop();
  }
}

export async function restoreDrill(options: z.output<typeof flagsSchema>, environment: NodeJS.ProcessEnv = process.env): Promise<DrillReport> {
  const env = { ...environment };
  if (options.repo) env.RESTIC_REPOSITORY = options.repo;
  if (options['password-file']) env.RESTIC_PASSWORD_FILE = options['password-file'];
  if (!env.RESTIC_REPOSITORY) throw new Error('RESTIC_REPOSITORY (or --repo) is missing: which repository to restore from');

  const snapshots = JSON.parse(await restic(['snapshots', '--json', '--tag', options.tag, ...(options.snapshot === 'latest' ? ['latest'] : [options.snapshot])], env)) as Snapshot[];
  const snapshot = snapshots.at(-1);
  if (!snapshot) throw new Error(`no snapshot tagged ${options.tag} in ${env.RESTIC_REPOSITORY}`);

  const scratch = options.scratch ?? (await mkdtemp(join(tmpdir(), 'bpe-restore-drill-')));
  await restic(['restore', snapshot.id, '--target', scratch], env);

  // The staging directory of backup.sh is the snapshot path holding manifest.json.
  const staging = snapshot.paths.map((p) => join(scratch, p)).find((p) => existsSync(join(p, 'manifest.json')));
  if (!staging) throw new Error(`snapshot ${snapshot.short_id} has no manifest.json (not made by deploy/backup/backup.sh?)`);
  const manifest = JSON.parse(await readFile(join(staging, 'manifest.json'), 'utf8')) as Manifest;
  const problems: string[] = [];

  const restored = await countTables(join(staging, 'parquet'));
  const tables: DrillReport['tables'] = {};
  for (const [table, counts] of Object.entries(restored)) {
    const expected = manifest.tables[table as keyof TableCounts]?.rows ?? 0;
    tables[table] = { expected, restored: counts.rows, ok: expected === counts.rows };
    if (expected !== counts.rows) problems.push(`table ${table}: ${counts.rows} rows restored, ${expected} recorded at snapshot time`);
  }

  const redis: DrillReport['redis'] = { expected_dbsize: manifest.redis.dbsize, restored_dbsize: null, ok: false };
  try {
    redis.restored_dbsize = await redisKeyCount(join(staging, 'redis'));
    redis.ok = manifest.redis.dbsize === 0 || redis.restored_dbsize > 0;
    if (!redis.ok) problems.push(`redis: the restored snapshot holds no key, ${manifest.redis.dbsize} were recorded`);
    // DBSIZE is read just before BGSAVE: on a live buffer a key may come or go in between.
    else if (redis.restored_dbsize !== manifest.redis.dbsize) redis.note = `DBSIZE ${redis.restored_dbsize} restored, ${manifest.redis.dbsize} read just before BGSAVE`;
  } catch (error) {
    problems.push(`redis: the restored RDB does not load: ${(error as Error).message}`);
  }

  const grafanaDb = join(staging, 'grafana', 'grafana.db');
  const grafana = { present: existsSync(grafanaDb), ok: true };
  if (grafana.present && !(await isSqlite(grafanaDb))) {
    grafana.ok = false;
    problems.push('grafana: grafana.db is not a SQLite database');
  }

  const auditPaths = snapshot.paths.filter((p) => join(scratch, p) !== staging && existsSync(join(scratch, p)));
  const report: DrillReport = {
    ok: problems.length === 0,
    snapshot: { id: snapshot.short_id, time: snapshot.time, host: snapshot.hostname },
    scratch,
    tables,
    redis,
    grafana,
    audit_paths: auditPaths,
    problems,
  };
  if (!options.keep && !options.scratch) await rm(scratch, { recursive: true, force: true });
  return report;
}

async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      repo: { type: 'string' },
      'password-file': { type: 'string' },
      snapshot: { type: 'string' },
      tag: { type: 'string' },
      scratch: { type: 'string' },
      keep: { type: 'boolean' },
    },
    strict: true,
  });
  const parsed = flagsSchema.safeParse(values);
  if (!parsed.success) {
    throw new Error(parsed.error.issues.map((i) => `--${String(i.path[0])}: ${i.message}`).join('; '));
  }
  const report = await restoreDrill(parsed.data);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(report.ok ? `restore drill passed: snapshot ${report.snapshot.id} of ${report.snapshot.time}\n` : `restore drill FAILED:\n${report.problems.map((p) => `  - ${p}`).join('\n')}\n`);
  return report.ok ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`restore drill: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}
