// The operator's side of a release: which commit, who deploys it, the tarball of its
// files (taken from git, so uncommitted changes are never deployed by accident), and
// the local secret files.

import { execFile } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SECRET_NAME, type LocalSecret } from './commands/secrets.ts';

const run = promisify(execFile);

/**
 * What a release holds: the compose file and configs (deploy/), the generated
 * dashboards and alert rules, the runbooks (runbooks/dist, rendered, which Caddy
 * serves; the Markdown beside it, readable on the host when Grafana is down), and
 * the image build context (sources and lockfile).
 */
export const RELEASE_PATHS = ['deploy', 'dashboards/dist', 'alerts/dist', 'runbooks', 'services', 'package.json', 'package-lock.json', 'tsconfig.json'] as const;

async function git(repo: string, args: readonly string[]): Promise<string> {
  const { stdout } = await run('git', ['-C', repo, ...args], { maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

export async function resolveCommit(repo: string, ref: string): Promise<string> {
  try {
    return await git(repo, ['rev-parse', '--verify', `${ref}^{commit}`]);
  } catch (error) {
    throw new Error(`--commit ${ref}: not a commit of the repository at ${repo}`, { cause: error });
  }
}

export async function hasUncommittedChanges(repo: string): Promise<boolean> {
  return (await git(repo, ['status', '--porcelain', '--untracked-files=no'])) !== '';
}

/** Writes <outDir>/<sha>.tar.gz with the release paths that exist in that commit. */
export async function buildReleaseTarball(repo: string, sha: string, outDir: string): Promise<string> {
  const present: string[] = [];
  for (const path of RELEASE_PATHS) {
    if ((await git(repo, ['ls-tree', '--name-only', sha, '--', path])) !== '') present.push(path);
  }
  if (!(await git(repo, ['ls-tree', '--name-only', sha, '--', 'deploy/compose.yaml']))) {
    throw new Error(`commit ${sha.slice(0, 12)} has no deploy/compose.yaml: nothing to deploy`);
  }
  const file = join(outDir, `${sha}.tar.gz`);
  await run('git', ['-C', repo, 'archive', '--format=tar.gz', '-o', file, sha, '--', ...present]);
  return file;
}

/** Who deploys: DEPLOY_WHO, else git's user.email, else user@machine. */
export async function deployer(repo: string, environment: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (environment.DEPLOY_WHO) return environment.DEPLOY_WHO;
  try {
    const email = await git(repo, ['config', 'user.email']);
    if (email) return email;
  } catch {
    // no git identity configured
  }
  return `${userInfo().username}@${hostname()}`;
}

export function origin(): string {
  return `${userInfo().username}@${hostname()}`;
}

/** Every regular, non-hidden file of the directory is a secret of that name. */
export async function listLocalSecrets(dir: string): Promise<LocalSecret[]> {
  const secrets: LocalSecret[] = [];
  for (const name of (await readdir(dir)).sort()) {
    if (name.startsWith('.')) continue;
    const localPath = join(dir, name);
    if (!(await stat(localPath)).isFile()) continue;
    if (!SECRET_NAME.test(name)) throw new Error(`--secrets-dir: ${name}: secret file names use letters, digits, . _ - only`);
    secrets.push({ name, localPath });
  }
  return secrets;
}
