// Redis ACL users, least privilege, declared once: one user per service, each
// allowed the commands it runs on the keys it uses, and nothing else. Rendered by
// `npm run redis:acl` (render.ts) into an ACL file:
//
// - `deploy/config/redis/users.acl` (committed): the rules only, every user `off`
//   and without a password, for review and diffs (a test fails when it is stale);
// - `<secrets-dir>/redis.acl` (a secret, mode 0600): the same rules with each user
//   `on` and the sha256 of its password (`#<hex>`; Redis never sees the password
//   itself), the file deploy/compose.yaml gives redis-server (`--aclfile`).
//
// Commands inside a Lua script are checked against the user that runs the script,
// so allowing EVAL grants nothing beyond the commands and keys listed. Redis ACLs
// tie commands to key patterns with selectors, `(~pattern +command …)`: a user may
// run a command on a key only if the root rules or one selector allow both. What
// ACLs cannot express: the options of an allowed command (XADD … MAXLEN can trim
// the stream it adds to) and which script runs (EVAL takes any script). The
// services hold no command that deletes or rewrites another's data.

import { createHash } from 'node:crypto';
import { SERVICE_KEY_PATTERNS } from './keys.ts';

export interface AclUser {
  name: string;
  /** Who connects as this user, and why it may do what it may. */
  purpose: string;
  /** Rules after `user <name> on|off <password>`: commands, key patterns, selectors. */
  rules: string[];
  /** A fixed, public password (the compose health check's PING-only user); otherwise a secret file. */
  fixedPassword?: string;
}

/** The rules every user starts from: nothing, then what it needs. */
const BASE = ['resetkeys', 'resetchannels', '-@all'];
/** What every client library connection does: PING (readiness), INFO (ioredis' ready check waits for the AOF to load), CLIENT SETNAME. */
const CONNECTION = ['+ping', '+info', '+client|setname'];

export function aclUsers(prefix: string): AclUser[] {
  const k = SERVICE_KEY_PATTERNS(prefix);
  const sel = (keys: string[], commands: string[]) => `(${[...keys.map((key) => `~${key}`), ...commands.map((c) => `+${c}`)].join(' ')})`;
  return [
    {
      name: 'default',
      // Off: no connection can authenticate as it (a client without credentials gets NOAUTH),
      // so its rules grant no client anything. They are the rules of Redis's AOF loader, which
      // replays MULTI/EXEC blocks (every Lua script's effects: the ingester's appends and
      // cursor, the writer's commits) as the default user and re-checks EXEC against its
      // rules: with `-@all` each of them is dropped on every restart, silently
      // (redis/redis#14541: in 7.0 here and 7.2.x, fixed upstream after the 7.2.7 compose pins;
      // found by test/compose-stack.test.ts).
      purpose: 'disabled: every client names its user; all commands only for the AOF loader, which replays transactions as this user',
      rules: ['resetkeys', 'resetchannels', '~*', '&*', '+@all'],
    },
    {
      name: 'ingester',
      purpose: 'adds events to the stream with its append script (which moves the cursor and the recent-keys set), dead-letters',
      rules: [
        ...BASE,
        ...CONNECTION,
        '+eval',
        '+evalsha',
        `~${k.stream}`,
        `~${k.recent}`,
        `~${k.cursor}`,
        sel([k.stream], ['xadd', 'xlen']),
        sel([k.deadLetter], ['xadd']),
        sel([k.cursor], ['get', 'set']),
        sel([k.recent], ['zscore', 'zadd', 'zremrangebyscore']),
      ],
    },
    {
      name: 'writer',
      purpose: 'reads, acknowledges, claims and trims the stream as the consumer group, holds its lease, records manifests, dead-letters',
      rules: [
        ...BASE,
        ...CONNECTION,
        '+eval',
        '+evalsha',
        `~${k.stream}`,
        `~${k.writerLease}`,
        `~${k.writerManifests}`,
        sel([k.stream], ['xgroup|create', 'xreadgroup', 'xautoclaim', 'xclaim', 'xack', 'xpending', 'xinfo|groups', 'xinfo|stream', 'xlen', 'xtrim', 'xrange']),
        sel([k.writerLease], ['get', 'set', 'pexpire', 'del']),
        sel([k.writerManifests], ['hset', 'hgetall', 'hdel']),
        sel([k.deadLetter], ['xadd']),
      ],
    },
    {
      name: 'api',
      purpose: 'its response cache and rate-limit counters, API-key lookups (never writing a key record: it cannot mint keys), last use and revocation marks, appends to the audit trail and mirrors it',
      rules: [
        ...BASE,
        ...CONNECTION,
        '+eval',
        '+evalsha',
        `~${k.rateLimits}`,
        `~${k.audit}`,
        `~${k.auditHead}`,
        `~${k.auditImported}`,
        `~${k.auditMirrorLock}`,
        sel([k.cache], ['get', 'set']),
        sel([k.rateLimits], ['incr', 'pexpire', 'pttl', 'get']),
        sel([k.apiKeys], ['hgetall', 'smembers']),
        sel([k.apiKeysRevoked], ['hget', 'hgetall', 'hsetnx']),
        sel([k.apiKeysLastUse], ['hget', 'hgetall', 'hset']),
        sel([k.audit], ['xadd', 'xrange']),
        sel([k.auditHead], ['get', 'set']),
        sel([k.auditImported], ['sismember', 'sadd']),
        sel([k.auditMirrorLock], ['set', 'get', 'del']),
      ],
    },
    {
      name: 'keys',
      purpose: 'npm run keys (create, list, revoke, rotate) and npm run audit:verify: API keys and audit appends, by an operator',
      rules: [
        ...BASE,
        ...CONNECTION,
        '+eval',
        '+evalsha',
        '+multi',
        '+exec',
        `~${k.audit}`,
        `~${k.auditHead}`,
        `~${k.auditImported}`,
        sel([k.apiKeys], ['hsetnx', 'hset', 'hgetall', 'sadd', 'smembers']),
        sel([k.apiKeysRevoked], ['hget', 'hgetall', 'hsetnx']),
        sel([k.apiKeysLastUse], ['hget', 'hgetall']),
        sel([k.audit], ['xadd', 'xrange']),
        sel([k.auditHead], ['get', 'set']),
        sel([k.auditImported], ['sismember', 'sadd']),
      ],
    },
    {
      name: 'backup',
      purpose: 'deploy/backup/backup.sh: a snapshot (BGSAVE, LASTSAVE, INFO persistence) and the key count',
      rules: [...BASE, '+ping', '+info', '+dbsize', '+lastsave', '+bgsave'],
    },
    {
      name: 'exporter',
      purpose: 'redis_exporter (Prometheus): server statistics and the length of the buffer stream, no data',
      rules: [
        ...BASE,
        ...CONNECTION,
        '+config|get',
        '+client|list',
        '+slowlog|get',
        '+slowlog|len',
        '+latency|latest',
        '+dbsize',
        '+select',
        '+cluster|info',
        sel([k.stream], ['xlen', 'type', 'xinfo|stream']),
      ],
    },
    {
      name: 'healthcheck',
      purpose: "compose's health check of the redis container (redis-cli --user healthcheck --pass healthcheck ping): PING only, so its password is no secret",
      rules: [...BASE, '+ping'],
      fixedPassword: 'healthcheck',
    },
    {
      name: 'admin',
      purpose: 'an operator at a shell (incident response, ACL LOAD after a password change); never used by a service',
      rules: ['~*', '&*', '+@all'],
    },
  ];
}

/** Users that get a password file in the secrets directory (all but the disabled default and the fixed-password health check). */
export function passwordUsers(prefix: string): AclUser[] {
  return aclUsers(prefix).filter((u) => u.name !== 'default' && u.fixedPassword === undefined);
}

/**
 * The ACL file. With `passwordHashes` (user -> sha256 hex), the users are on with
 * those passwords; without, every user is off and passwordless (the committed copy).
 */
export function renderAcl(prefix: string, passwordHashes?: Record<string, string>): string {
  return `${aclUsers(prefix)
    .map((user) => {
      let state: string[];
      if (user.name === 'default' || !passwordHashes) state = ['off', 'resetpass'];
      else if (user.fixedPassword !== undefined) state = ['on', 'resetpass', `#${createHash('sha256').update(user.fixedPassword).digest('hex')}`];
      else {
        const hash = passwordHashes[user.name];
        if (!hash || !/^[0-9a-f]{64}$/.test(hash)) throw new Error(`no password hash for the Redis user ${user.name}`);
        state = ['on', 'resetpass', `#${hash}`];
      }
      return ['user', user.name, ...state, ...user.rules].join(' ');
    })
    .join('\n')}\n`;
}
