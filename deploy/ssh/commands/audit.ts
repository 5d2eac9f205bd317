// The deploy record: one JSON line per deploy appended to <app>/deploys.log
// (O_APPEND: concurrent appends of one short line do not interleave).
//
// The audit trail takes it from there: the deploy tool holds no Redis credentials,
// so the API, which mounts <app> read-only (deploy/compose.yaml, AUDIT_DEPLOYS_LOG),
// appends every new line as a `deploy` entry of the hash chain, once, keyed by the
// line's sha256 (services/shared/audit/deploy-import.ts); `npm run audit:verify --
// --deploys-log FILE` then checks that every line is in the trail unchanged.

import { change, raw, type Command } from '../command.ts';
import type { RemoteLayout } from '../layout.ts';

export type DeployOutcome = 'deployed' | 'unchanged' | 'rolled_back' | 'failed' | 'refused_locked';

export interface DeployRecord {
  time: string;
  who: string;
  from: string;
  app: string;
  commit: string;
  previous: string | null;
  outcome: DeployOutcome;
  duration_ms: number;
  changed: string[];
  reason: string;
  error?: string;
}

export function appendRecord(layout: RemoteLayout, record: DeployRecord): Command {
  return change('record the deploy in deploys.log', ['cat', raw('>>'), layout.deploysLog], {
    stdin: { source: 'text', text: `${JSON.stringify(record)}\n` },
  });
}
