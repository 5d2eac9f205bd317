// Where things live on the host, declared once. Every remote path a command uses
// comes from here, so tests can point the whole tree at a temporary directory.

import { posix } from 'node:path';

export const DEFAULT_APP = 'bluesky-post-explorer';

export interface RemoteLayout {
  /** /opt/<app> */
  appDir: string;
  releases: string;
  /** Symlink to releases/<sha>; replaced atomically (rename), never edited in place. */
  current: string;
  secrets: string;
  /** The deploy lock: a directory, because mkdir is atomic; details.json says who holds it. */
  lock: string;
  lockDetails: string;
  /** One JSON line per deploy: who, commit, outcome, duration. */
  deploysLog: string;
}

export function remoteLayout(appDir: string): RemoteLayout {
  const at = (...parts: string[]) => posix.join(appDir, ...parts);
  return {
    appDir,
    releases: at('releases'),
    current: at('current'),
    secrets: at('secrets'),
    lock: at('lock'),
    lockDetails: at('lock', 'details.json'),
    deploysLog: at('deploys.log'),
  };
}

export function releaseDir(layout: RemoteLayout, sha: string): string {
  return posix.join(layout.releases, sha);
}

/** Where a release is unpacked before it is renamed into place. */
export function partialReleaseDir(layout: RemoteLayout, sha: string): string {
  return posix.join(layout.releases, `.${sha}.partial`);
}

/** The compose file and the environment file of one release. */
export function releaseFiles(layout: RemoteLayout, sha: string): { composeFile: string; envFile: string } {
  const dir = releaseDir(layout, sha);
  return { composeFile: posix.join(dir, 'deploy', 'compose.yaml'), envFile: posix.join(dir, 'deploy', 'release.env') };
}

/** Target of the `current` symlink for a release: relative, so the tree can move. */
export function currentTarget(sha: string): string {
  return posix.join('releases', sha);
}

/** Reads a release id back from `readlink current`. */
export function releaseFromTarget(target: string): string | undefined {
  const match = /(?:^|\/)releases\/([0-9a-f]{7,64})\/?$/.exec(target.trim());
  return match?.[1];
}
