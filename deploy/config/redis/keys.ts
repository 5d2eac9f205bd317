// The Redis key patterns each service touches, from the modules that name the keys,
// so an ACL cannot drift from the code: a key renamed there is renamed here.

import { redisKeys } from '../../../services/shared/redis-keys.ts';
import { auditKeys } from '../../../services/shared/audit/keys.ts';

export function SERVICE_KEY_PATTERNS(prefix: string) {
  const pipeline = redisKeys(prefix);
  const audit = auditKeys(prefix);
  return {
    stream: pipeline.stream,
    deadLetter: pipeline.deadLetter,
    cursor: pipeline.cursor,
    recent: pipeline.recent,
    writerLease: pipeline.writerLease,
    writerManifests: pipeline.writerManifests,
    /** services/api/cache.ts */
    cache: `${prefix}:api:cache:*`,
    /** services/api/plugins/rate-limits.ts (nameSpace `<prefix>:api:rl:<limit>:`) */
    rateLimits: `${prefix}:api:rl:*`,
    /** services/api/auth/keys.ts: one hash per key and the index set; revocations; last uses */
    apiKeys: `${prefix}:apikeys:*`,
    apiKeysRevoked: `${prefix}:apikeys-revoked`,
    apiKeysLastUse: `${prefix}:apikeys-lastuse`,
    audit: audit.stream,
    auditHead: audit.head,
    auditImported: audit.imported,
    auditMirrorLock: audit.mirrorLock,
  };
}
