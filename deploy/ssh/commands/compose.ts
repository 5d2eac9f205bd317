// docker compose, always with an explicit project name, compose file and environment
// file of one release: switching `current` never changes what a running command means.

import { read, change, type Command } from '../command.ts';
import { releaseFiles, type RemoteLayout } from '../layout.ts';

export function composeVersion(): Command {
  return read('is the Docker Compose plugin there', ['docker', 'compose', 'version']);
}

function composeBase(layout: RemoteLayout, project: string, sha: string): string[] {
  const { composeFile, envFile } = releaseFiles(layout, sha);
  return ['docker', 'compose', '--project-name', project, '--file', composeFile, '--env-file', envFile];
}

/**
 * Starts (or converges) the stack of a release and waits until every service with a
 * health check is healthy; compose exits non-zero when one is not.
 * `forceRecreate` restarts every container: needed when secrets changed, because
 * containers read them only at start.
 */
export function up(layout: RemoteLayout, project: string, sha: string, options: { forceRecreate?: boolean } = {}): Command {
  return change(`start release ${sha.slice(0, 12)} (docker compose up --wait)`, [
    ...composeBase(layout, project, sha),
    'up',
    '--detach',
    '--wait',
    '--remove-orphans',
    ...(options.forceRecreate ? ['--force-recreate'] : []),
  ]);
}

export function ps(layout: RemoteLayout, project: string, sha: string): Command {
  return read('container states', [...composeBase(layout, project, sha), 'ps', '--all']);
}
