// The deploy record: one JSON line per deploy appended to <app>/deploys.log
// (O_APPEND: concurrent appends of one short line do not interleave).

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
