// A release: the files of one commit, unpacked under releases/<sha> and made live
// by pointing `current` at it. Both moves are renames, so a crash leaves either the
// old state or the new one, never a mix.

import { posix } from 'node:path';
import { and, change, read, type Command, type Ensure } from '../command.ts';
import { currentTarget, partialReleaseDir, releaseDir, type RemoteLayout } from '../layout.ts';
import { writeFile } from './files.ts';

/** Environment of a release for `docker compose --env-file`: the commit and where the host keeps things. */
export function releaseEnv(values: Record<string, string>): string {
  return `${Object.entries(values)
    .map(([key, value]) => `${key}=${value}`)
    .join('\n')}\n`;
}

/** Ensures releases/<sha> exists, unpacking the local tarball and writing release.env when it does not. */
export function ensureRelease(layout: RemoteLayout, sha: string, tarball: string, envText: string): Ensure {
  const partial = partialReleaseDir(layout, sha);
  return {
    name: `release ${sha.slice(0, 12)}`,
    check: read(`is release ${sha.slice(0, 12)} on the host`, ['test', '-d', releaseDir(layout, sha)]),
    apply: [
      change(`unpack release ${sha.slice(0, 12)}`, and(['rm', '-rf', partial], ['mkdir', '-p', partial], ['tar', '-xzf', '-', '-C', partial]), {
        stdin: { source: 'file', path: tarball },
      }),
      { ...writeFile(posix.join(partial, 'deploy', 'release.env'), envText, '644'), summary: 'write the release environment' },
      change(`move release ${sha.slice(0, 12)} into place`, ['mv', '-T', partial, releaseDir(layout, sha)]),
    ],
  };
}

/** Exit 0 with the target (releases/<sha>) as stdout; 1 when there is no current release yet. */
export function readCurrent(layout: RemoteLayout): Command {
  return read('which release is current', ['readlink', layout.current], { okCodes: [0, 1] });
}

/** Points `current` at a release: a new symlink renamed over the old one (rename is atomic, `ln -sfn` is not). */
export function activate(layout: RemoteLayout, sha: string): Command {
  const next = `${layout.current}.next`;
  return change(`point current at ${sha.slice(0, 12)}`, and(['ln', '-sfn', currentTarget(sha), next], ['mv', '-Tf', next, layout.current]));
}

/** Newest first. */
export function listReleases(layout: RemoteLayout): Command {
  return read('list releases, newest first', ['ls', '-1t', layout.releases]);
}

export function removeRelease(layout: RemoteLayout, sha: string): Command {
  return change(`remove old release ${sha.slice(0, 12)}`, ['rm', '-rf', releaseDir(layout, sha)]);
}

/** Releases to delete: all but the `keep` newest, never the current or previous one, never a partial upload in progress. */
export function releasesToPrune(newestFirst: readonly string[], keep: number, protectedIds: readonly string[]): string[] {
  const complete = newestFirst.filter((name) => /^[0-9a-f]{7,64}$/.test(name));
  return complete.slice(keep).filter((name) => !protectedIds.includes(name));
}
