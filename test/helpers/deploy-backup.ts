// Shared by the backup tests: Parquet files in the store's layout, running
// deploy/backup/backup.sh, listing restic snapshots.

import { execFile, spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../base/paths.ts';
import { openDuckDB, sqlString } from '../../services/shared/duckdb.ts';
import { partitionDir } from '../../services/shared/layout.ts';
import type { TableName } from '../../services/shared/tables.ts';

const run = promisify(execFile);
export const BACKUP_SCRIPT = join(REPO_ROOT, 'deploy', 'backup', 'backup.sh');

export interface ScriptRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Writes `rows` rows into one Parquet file of a table's hour partition, as the writer lays them out. */
export async function writeParquet(dataDir: string, table: TableName, date: string, hour: string, file: string, rows: number): Promise<void> {
  const dir = partitionDir(dataDir, table, { date, hour });
  await mkdir(dir, { recursive: true });
  const { instance, connection } = await openDuckDB({ threads: 1 });
  try {
    await connection.run(
      `COPY (SELECT 'at://did:plc:x/${table}/' || i AS uri, 'rev' || i AS rev, 1700000000000000 + i AS time_us FROM range(${rows}) t(i)) TO ${sqlString(join(dir, file))} (FORMAT parquet, COMPRESSION zstd)`,
    );
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

export function runScript(script: string, env: Record<string, string>): Promise<ScriptRun> {
  const child = spawn('bash', [script], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

export async function snapshots(env: Record<string, string>): Promise<{ short_id: string; time: string; paths: string[]; tags: string[] }[]> {
  const { stdout } = await run('restic', ['snapshots', '--json'], { env: { ...process.env, ...env } });
  return JSON.parse(stdout) as { short_id: string; time: string; paths: string[]; tags: string[] }[];
}

