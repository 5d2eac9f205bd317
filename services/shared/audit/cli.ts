// `npm run audit:verify [-- --dir DIR] [--no-redis] [--deploys-log FILE] [--json]`:
// checks the audit trail (chain.ts) and says which entry was edited, removed or
// reordered, in the Redis stream, in the daily files, or between them (verify.ts).
// With --deploys-log, also checks that every line of deploys.log is in the trail
// unchanged. Exits 0 when everything holds, 1 when something does not.
//
// Reads REDIS_URL, REDIS_PREFIX, REDIS_USERNAME, REDIS_PASSWORD_FILE and AUDIT_DIR.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { auditSchema, commonSchema, redisSchema } from '../config.ts';
import { loadConfig } from '../../../base/config.ts';
import { connectRedis, type Redis } from '../redis.ts';
import { readFileCopy, readStreamCopy, verifyAudit, type AuditProblem } from './verify.ts';

const cliSchema = z.object({ ...commonSchema, ...redisSchema, ...auditSchema });

/** Lines of deploys.log whose deploy entry is missing from the trail, or differs. */
async function checkDeploys(file: string, redis: Redis | undefined, prefix: string, dir: string | undefined): Promise<AuditProblem[]> {
  const recorded = new Set<string>();
  const raws = [...(dir ? await readFileCopy(dir) : []), ...(redis ? (await readStreamCopy(redis, prefix)).items : [])];
  for (const { raw } of raws) {
    try {
      const entry = JSON.parse(raw) as { action?: string; details?: { deploys_log_line_sha256?: string } };
      if (entry.action === 'deploy' && entry.details?.deploys_log_line_sha256) recorded.add(entry.details.deploys_log_line_sha256);
    } catch {
      // reported by the chain check
    }
  }
  // Complete lines only: the deploy tool may be writing the last one right now.
  const text = await readFile(file, 'utf8');
  const lines = text.slice(0, text.lastIndexOf('\n') + 1).split('\n');
  const problems: AuditProblem[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const digest = createHash('sha256').update(line).digest('hex');
    if (!recorded.has(digest)) {
      problems.push({
        kind: 'mismatch',
        where: `${file}:${i + 1}`,
        message: `${file}:${i + 1} is not in the audit trail as written (edited since it was imported, or not imported yet: the API imports new lines every AUDIT_SYNC_MS)`,
      });
    }
  });
  return problems;
}

export async function runAuditCli(argv: string[], environment: NodeJS.ProcessEnv = process.env, out: (line: string) => void = console.log): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      dir: { type: 'string' },
      'no-redis': { type: 'boolean', default: false },
      'deploys-log': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const command = positionals[0] ?? 'verify';
  if (command !== 'verify') {
    out('usage: npm run audit:verify [-- --dir DIR] [--no-redis] [--deploys-log FILE] [--json]');
    return 2;
  }
  const config = loadConfig('audit', cliSchema, environment);
  const dir = values.dir ?? config.AUDIT_DIR;
  let redis: Redis | undefined;
  if (!values['no-redis']) {
    redis = connectRedis(config, 'audit-verify', { maxRetriesPerRequest: 1, retryStrategy: () => null });
    redis.on('error', () => undefined);
    await redis.connect();
  }
  try {
    const result = await verifyAudit({ redis, prefix: config.REDIS_PREFIX, dir });
    if (values['deploys-log']) {
      const deployProblems = await checkDeploys(values['deploys-log'], redis, config.REDIS_PREFIX, dir);
      result.problems.push(...deployProblems);
      result.ok = result.problems.length === 0;
    }
    if (values.json) {
      out(JSON.stringify(result));
    } else {
      const describe = (copy?: { entries: number; first?: number; last?: number }) =>
        copy ? `${copy.entries} entries${copy.entries > 0 ? ` (seq ${copy.first} to ${copy.last})` : ''}` : 'not checked';
      out(`stream: ${describe(result.stream)}; files${dir ? ` in ${dir}` : ''}: ${describe(result.files)}`);
      for (const problem of result.problems) out(`${problem.kind.toUpperCase().padEnd(10)} ${problem.message}`);
      out(result.ok ? 'the audit trail is intact' : `the audit trail is NOT intact: ${result.problems.length} problem(s)`);
    }
    return result.ok ? 0 : 1;
  } finally {
    redis?.disconnect();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runAuditCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`audit: ${(error as Error).message}`);
      process.exit(1);
    },
  );
}
