// The Redis keys of the audit trail, named once: the trail's modules use them, and
// so does the Redis ACL (deploy/config/redis/keys.ts), so the two cannot drift.

export interface AuditKeys {
  stream: string;
  /** `<seq>:<hash>` of the newest entry. */
  head: string;
  /** Dedupe ids of imported records (deploys.log lines) already in the chain. */
  imported: string;
  /** Held by the process mirroring the stream to files and Loki. */
  mirrorLock: string;
}

export function auditKeys(prefix: string): AuditKeys {
  return { stream: `${prefix}:audit`, head: `${prefix}:audit:head`, imported: `${prefix}:audit:imported`, mirrorLock: `${prefix}:audit:mirror-lock` };
}
