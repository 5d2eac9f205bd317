// The deploy lock, as in Kamal's commands/lock.rb: `mkdir` is atomic, so exactly one
// deploy creates the directory; a details file in it says who holds the lock, since
// when and why, so a refused deploy can name the holder.

import { and, change, read, type Command } from '../command.ts';
import type { RemoteLayout } from '../layout.ts';
import { writeFile } from './files.ts';

export interface LockDetails {
  who: string;
  since: string;
  reason: string;
  commit: string;
  /** Where the deploy runs from. */
  from: string;
  /** Random id of this deploy: only the holder releases the lock. */
  token: string;
}

/** Exit code 0: acquired; 1: the lock directory exists (someone holds the lock); 3: there is no app directory. */
export const NO_APP_DIR = 3;
export function acquire(layout: RemoteLayout): Command {
  return change('take the deploy lock', ['sh', '-c', `test -d "$1" || exit ${NO_APP_DIR}; mkdir "$2"`, 'sh', layout.appDir, layout.lock], {
    okCodes: [0, 1, NO_APP_DIR],
  });
}

export function writeDetails(layout: RemoteLayout, details: LockDetails): Command {
  return { ...writeFile(layout.lockDetails, `${JSON.stringify(details)}\n`, '644'), summary: 'say who holds the deploy lock' };
}

/** Exit code 0 with the details as stdout, 1 when there are none (yet). */
export function readDetails(layout: RemoteLayout): Command {
  return read('who holds the deploy lock', ['cat', layout.lockDetails], { okCodes: [0, 1] });
}

/** Removes the lock only when this deploy holds it (its token is in the details); exit 1 otherwise. */
export function release(layout: RemoteLayout, token: string): Command {
  return change('release the deploy lock', and(['grep', '-qF', `"token":"${token}"`, layout.lockDetails], ['rm', '-rf', layout.lock]), {
    okCodes: [0, 1, 2],
  });
}

/** For an operator who knows a deploy died holding the lock. */
export function forceRelease(layout: RemoteLayout): Command {
  return change('remove the deploy lock, whoever holds it', ['rm', '-rf', layout.lock]);
}

export function describeHolder(details: LockDetails | undefined): string {
  if (!details) return 'someone (no details written yet; a deploy may be starting)';
  return `${details.who} since ${details.since} (from ${details.from}, commit ${details.commit.slice(0, 12)}): ${details.reason}`;
}
