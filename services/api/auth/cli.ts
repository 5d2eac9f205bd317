// `npm run keys -- <command>`: API keys, for operators.
//
//   create --name NAME --scopes search,export[,admin]   prints the key once
//   list [--json]                                        every key, never a secret
//   revoke ID                                            refused by every API process within API_KEY_CACHE_MS
//   rotate ID [--grace-minutes N]                        a new key; the old one revoked now, or after N minutes
//
// Connects with REDIS_URL, REDIS_PREFIX, REDIS_USERNAME and REDIS_PASSWORD_FILE (in
// production the `keys` ACL user: deploy/config/redis/acl.ts). Every change is an
// audit entry; when the audit trail cannot be written, nothing changes (a key just
// created is revoked again) and the command fails. AUDIT_ACTOR names the operator
// (default: user@host).

import { hostname, userInfo } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { auditSchema, commonSchema, redisSchema } from '../../shared/config.ts';
import { env, loadConfig } from '../../../base/config.ts';
import { connectRedis } from '../../shared/redis.ts';
import type { AuditActor } from '../../shared/audit/chain.ts';
import { AuditLog } from '../../shared/audit/log.ts';
import { ApiKeyStore, parseScopes, type ApiKeyRecord } from './keys.ts';

const USAGE = `usage: npm run keys -- <command>
  create --name NAME --scopes search,export[,admin]   create a key (printed once: store it)
  list [--json]                                        list keys (id, name, scopes, times)
  revoke ID                                            revoke a key now
  rotate ID [--grace-minutes N]                        new key, same name and scopes; the old one is
                                                       revoked now, or expires after N minutes
Environment: REDIS_URL, REDIS_PREFIX, REDIS_USERNAME, REDIS_PASSWORD_FILE, AUDIT_ACTOR`;

const cliSchema = z.object({
  ...commonSchema,
  ...redisSchema,
  ...auditSchema,
  AUDIT_ACTOR: env.string('who runs the command, for the audit trail').default(`${safeUser()}@${hostname()}`),
});

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

class UsageError extends Error {}

function describe(record: ApiKeyRecord): string {
  const state = record.revoked_at ? `revoked ${record.revoked_at}` : record.expires_at ? `expires ${record.expires_at}` : 'active';
  return `${record.id}  ${record.name.padEnd(24)} ${record.scopes.join(',').padEnd(20)} created ${record.created_at}  last used ${record.last_used_at ?? 'never'}  ${state}`;
}

export async function runKeysCli(argv: string[], environment: NodeJS.ProcessEnv = process.env, out: (line: string) => void = console.log): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      scopes: { type: 'string' },
      json: { type: 'boolean', default: false },
      'grace-minutes': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  const [command, id] = positionals;
  if (values.help || !command) {
    out(USAGE);
    return values.help ? 0 : 2;
  }
  const config = loadConfig('keys', cliSchema, environment);
  const redis = connectRedis(config, 'keys-cli', { maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const store = new ApiKeyStore(redis, config.REDIS_PREFIX);
    const audit = new AuditLog(redis, config.REDIS_PREFIX, { maxLen: config.AUDIT_STREAM_MAXLEN });
    const actor: AuditActor = { type: 'operator', name: config.AUDIT_ACTOR };
    const record = (action: 'key_created' | 'key_revoked' | 'key_rotated', details: Record<string, unknown>) =>
      audit.append({ action, actor, source: 'keys-cli', details });

    switch (command) {
      case 'create': {
        if (!values.name || !values.scopes) throw new UsageError('create needs --name and --scopes');
        const scopes = parseScopes(values.scopes);
        const created = await store.create(values.name, scopes);
        try {
          await record('key_created', { key_id: created.record.id, key_name: created.record.name, scopes });
        } catch (error) {
          await store.revoke(created.record.id);
          throw new Error(`the audit trail could not be written (${(error as Error).message}): the key was revoked again`, { cause: error });
        }
        if (values.json) out(JSON.stringify({ key: created.key, ...created.record }));
        else {
          out(`API key ${created.record.id} "${created.record.name}" (scopes ${scopes.join(',')}). It is shown only now: store it.`);
          out(created.key);
        }
        return 0;
      }
      case 'list': {
        const keys = await store.list();
        if (values.json) out(JSON.stringify(keys));
        else if (keys.length === 0) out('no keys');
        else for (const key of keys) out(describe(key));
        return 0;
      }
      case 'revoke': {
        if (!id) throw new UsageError('revoke needs the key id (npm run keys -- list)');
        const before = await store.get(id);
        if (!before) throw new Error(`no key ${id}`);
        if (before.revoked_at) {
          out(`key ${id} was already revoked at ${before.revoked_at}`);
          return 0;
        }
        // Revocation is never held back by the audit trail: revoke first, then record it.
        const revoked = await store.revoke(id);
        out(values.json ? JSON.stringify(revoked) : `revoked ${describe(revoked)}`);
        await record('key_revoked', { key_id: id, key_name: before.name });
        return 0;
      }
      case 'rotate': {
        if (!id) throw new UsageError('rotate needs the key id (npm run keys -- list)');
        const grace = values['grace-minutes'] === undefined ? 0 : Number(values['grace-minutes']);
        if (!Number.isInteger(grace) || grace < 0 || grace > 7 * 24 * 60) throw new UsageError('--grace-minutes is a whole number of minutes, at most a week');
        const rotated = await store.rotate(id, { graceSeconds: grace * 60 });
        try {
          await record('key_rotated', { key_id: id, new_key_id: rotated.record.id, key_name: rotated.record.name, grace_minutes: grace });
        } catch (error) {
          await store.revoke(rotated.record.id);
          throw new Error(`the audit trail could not be written (${(error as Error).message}): the new key was revoked; the old one ${grace > 0 ? 'expires as planned' : 'is revoked'}`, { cause: error });
        }
        if (values.json) out(JSON.stringify({ key: rotated.key, ...rotated.record, old: rotated.old }));
        else {
          out(`old key ${id}: ${grace > 0 ? `keeps working until ${rotated.old.expires_at}` : 'revoked'}`);
          out(`new key ${rotated.record.id} "${rotated.record.name}" (scopes ${rotated.record.scopes.join(',')}). It is shown only now: store it.`);
          out(rotated.key);
        }
        return 0;
      }
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } finally {
    redis.disconnect();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runKeysCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`keys: ${(error as Error).message}`);
      if (error instanceof UsageError) console.error(USAGE);
      process.exit(error instanceof UsageError ? 2 : 1);
    },
  );
}
