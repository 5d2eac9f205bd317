// The deploy tool run for real (`tsx deploy/deploy.ts`) over SSH against a test host
// on loopback: Debian's sshd for a dedicated user created by the test, the host key
// pinned. The release and secret steps really run there, in a temporary app
// directory; host preparation (apt, systemd) is skipped with --skip-host-setup and
// its commands are asserted as data in deploy-commands.test.ts. The container runtime
// on the host is a STAND-IN `docker` (deploy/testing/docker-standin.sh) that records
// its calls and can be told to fail the health gate; the gate itself goes through a
// real Caddy over HTTPS.

import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, cp, mkdir, readFile, readlink, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../base/paths.ts';
import { REQUIRED_SECRETS } from '../deploy/ssh/commands/secrets.ts';
import { startTestHost, type TestHost } from './helpers/deploy-ssh-host.ts';
import { tempDir, waitUntil } from './helpers/pipeline.ts';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;

interface DeployRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Fixture {
  repo: string;
  commits: string[];
  secrets: string;
}

/** A small git repository shaped like this one: what a release needs, and three commits. */
async function fixtureRepo(dir: string): Promise<Fixture> {
  const repo = join(dir, 'repo');
  await mkdir(join(repo, 'services'), { recursive: true });
  await cp(join(REPO_ROOT, 'deploy', 'compose.yaml'), join(repo, 'deploy', 'compose.yaml'));
  await cp(join(REPO_ROOT, 'deploy', 'config'), join(repo, 'deploy', 'config'), { recursive: true });
  await cp(join(REPO_ROOT, 'deploy', 'backup'), join(repo, 'deploy', 'backup'), { recursive: true });
  await writeFile(join(repo, 'package.json'), '{"name":"fixture","private":true}\n');
  const git = (...args: string[]) => run('git', ['-C', repo, '-c', 'user.email=fixture@example.org', '-c', 'user.name=Fixture', ...args]);
  await git('init', '-q');
  const commits: string[] = [];
  for (const version of ['one', 'two', 'three']) {
    await writeFile(join(repo, 'services', 'version.ts'), `export const VERSION = '${version}';\n`);
    await git('add', '-A');
    await git('commit', '-q', '-m', `version ${version}`);
    commits.push((await git('rev-parse', 'HEAD')).stdout.trim());
  }
  const secrets = join(dir, 'secrets');
  await mkdir(secrets);
  for (const name of REQUIRED_SECRETS) await writeFile(join(secrets, name), `test value of ${name} ${Math.random()}\n`);
  return { repo, commits, secrets };
}

describe.skipIf(!isRoot)('deploy over SSH to a loopback test host (stand-in docker, real sshd and Caddy)', () => {
  let host: TestHost;
  let work: string;
  let fixture: Fixture;

  beforeAll(async () => {
    host = await startTestHost();
    work = await tempDir('deploy-ssh');
    fixture = await fixtureRepo(work);
  });
  afterAll(async () => {
    await host?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  function deployArgs(commit: string, extra: string[] = []): string[] {
    return [
      '--host', '127.0.0.1',
      '--port', String(host.port),
      '--user', host.user,
      '--identity', host.identity,
      '--known-hosts', host.knownHosts,
      '--app', 'bpe-test',
      '--app-dir', host.appDir,
      '--repo', fixture.repo,
      '--commit', commit,
      '--secrets-dir', fixture.secrets,
      '--skip-host-setup',
      '--gate-url', host.gateUrl,
      '--gate-ca-file', host.gateCaFile,
      '--gate-attempts', '3',
      '--gate-interval-ms', '100',
      ...extra,
    ];
  }

  /** Runs the real CLI, as an operator would. */
  function deploy(args: string[], who = 'tester@example.org'): Promise<DeployRun> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'deploy/deploy.ts', ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, DEPLOY_WHO: who },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
  }

  const calls = async () => (existsSync(join(host.state, 'calls.log')) ? (await readFile(join(host.state, 'calls.log'), 'utf8')).split('\n').filter(Boolean) : []);
  const upCalls = async () => (await calls()).filter((line) => / up /.test(` ${line} `));
  const records = async () =>
    (await readFile(join(host.appDir, 'deploys.log'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  const current = async () => readlink(join(host.appDir, 'current'));

  it('--plan prints every command and runs nothing on the host', async () => {
    const [first] = fixture.commits;
    const result = await deploy(deployArgs(first!, ['--plan']));
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`mkdir "$2"' sh ${host.appDir} ${host.appDir}/lock`);
    expect(result.stdout).toContain(`docker compose --project-name bpe-test --file ${host.appDir}/releases/${first}/deploy/compose.yaml`);
    expect(result.stdout).toContain('up --detach --wait --remove-orphans');
    expect(result.stdout).toContain(`curl --fail`);
    expect(result.stdout).toContain('Prepare the host: skipped (--skip-host-setup)');
    // Secrets are shown as secrets, never their content.
    expect(result.stdout).toContain(`secret local file ${fixture.secrets}/redis.acl`);
    expect(result.stdout).not.toContain('test value of');
    // Nothing ran on the host: no file in the app directory, no call to docker.
    expect(await readdir(host.appDir)).toEqual([]);
    expect(await calls()).toEqual([]);
  });

  it('refuses a host whose key is not the pinned one', async () => {
    const result = await deploy([...deployArgs(fixture.commits[0]!), '--known-hosts', host.wrongKnownHosts]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/matches none pinned/);
    expect(await readdir(host.appDir)).toEqual([]);
  });

  it('says so when the app directory is missing (with --skip-host-setup nothing creates it)', async () => {
    const result = await deploy([...deployArgs(fixture.commits[0]!), '--app-dir', `${host.appDir}/missing`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${host.appDir}/missing does not exist on ${host.user}@127.0.0.1:${host.port}`);
    expect(await readdir(host.appDir)).toEqual([]);
  });

  it('deploys a first release: files, current link, secrets with mode 0600, compose up, gate through Caddy, record', async () => {
    const [first] = fixture.commits;
    const result = await deploy(deployArgs(first!));
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Deployed ${first!.slice(0, 12)}`);

    expect(await current()).toBe(`releases/${first}`);
    const release = join(host.appDir, 'releases', first!);
    expect(await readFile(join(release, 'services', 'version.ts'), 'utf8')).toContain("'one'");
    expect(await readFile(join(release, 'deploy', 'release.env'), 'utf8')).toContain(`BPE_RELEASE=${first}\n`);

    const secretsDir = join(host.appDir, 'secrets');
    expect((await stat(secretsDir)).mode & 0o777).toBe(0o700);
    for (const name of REQUIRED_SECRETS) {
      const file = await stat(join(secretsDir, name));
      expect(file.mode & 0o777, name).toBe(0o600);
      expect(file.uid, name).toBe(host.uid);
      expect(await readFile(join(secretsDir, name), 'utf8')).toBe(await readFile(join(fixture.secrets, name), 'utf8'));
    }

    const ups = await upCalls();
    expect(ups).toHaveLength(1);
    expect(ups[0]).toBe(
      `compose --project-name bpe-test --file ${release}/deploy/compose.yaml --env-file ${release}/deploy/release.env up --detach --wait --remove-orphans`,
    );
    expect((await readFile(join(host.state, 'running'), 'utf8')).trim()).toBe(first);

    const [record] = await records();
    expect(record).toMatchObject({ who: 'tester@example.org', app: 'bpe-test', commit: first, previous: null, outcome: 'deployed' });
    expect(record!.duration_ms).toEqual(expect.any(Number));
    expect(existsSync(join(host.appDir, 'lock'))).toBe(false);
  });

  it('a second deploy of the same commit changes nothing and says so', async () => {
    const [first] = fixture.commits;
    const secret = join(host.appDir, 'secrets', 'redis.acl');
    const before = { release: await stat(join(host.appDir, 'releases', first!)), secret: await stat(secret), ups: (await upCalls()).length };

    const result = await deploy(deployArgs(first!));
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Nothing changed');
    expect(result.stdout).toContain('"changed":[]');

    expect((await upCalls()).length).toBe(before.ups);
    const after = { release: await stat(join(host.appDir, 'releases', first!)), secret: await stat(secret) };
    expect(after.release.mtimeMs).toBe(before.release.mtimeMs);
    expect(after.secret.ino).toBe(before.secret.ino);
    expect(after.secret.mtimeMs).toBe(before.secret.mtimeMs);
    expect((await records()).at(-1)).toMatchObject({ commit: first, outcome: 'unchanged', changed: [] });
  });

  it('a changed secret is rewritten (still 0600) and the containers are recreated', async () => {
    const [first] = fixture.commits;
    await writeFile(join(fixture.secrets, 'api.env'), 'REDIS_URL=redis://api:rotated@redis:6379\n');
    const result = await deploy(deployArgs(first!));
    expect(result.code).toBe(0);
    const file = join(host.appDir, 'secrets', 'api.env');
    expect(await readFile(file, 'utf8')).toBe('REDIS_URL=redis://api:rotated@redis:6379\n');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await upCalls()).at(-1)).toMatch(/ up --detach --wait --remove-orphans --force-recreate$/);
    expect((await records()).at(-1)).toMatchObject({ outcome: 'deployed', changed: ['secret api.env'] });
  });

  it('rolls back to the previous release when the health gate fails', async () => {
    const [first, second] = fixture.commits;
    await writeFile(join(host.state, 'fail-gate'), second!);
    try {
      const result = await deploy(deployArgs(second!));
      expect(result.code).toBe(1);
      expect(result.stdout).toContain(`Rolling back to ${first!.slice(0, 12)}`);
      expect(result.stdout).toContain(`Rolled back to ${first!.slice(0, 12)}`);
    } finally {
      await rm(join(host.state, 'fail-gate'));
    }
    expect(await current()).toBe(`releases/${first}`);
    const ups = (await upCalls()).slice(-2);
    expect(ups[0]).toContain(`/releases/${second}/deploy/compose.yaml`);
    expect(ups[1]).toContain(`/releases/${first}/deploy/compose.yaml`);
    expect((await readFile(join(host.state, 'running'), 'utf8')).trim()).toBe(first);
    expect((await records()).at(-1)).toMatchObject({ commit: second, previous: first, outcome: 'rolled_back', error: 'the health gate failed' });
  });

  it('rolls back when docker compose up --wait fails', async () => {
    const [first, second] = fixture.commits;
    await writeFile(join(host.state, 'fail-up'), second!);
    try {
      const result = await deploy(deployArgs(second!));
      expect(result.code).toBe(1);
      expect(result.stdout).toContain('is unhealthy (stand-in told to fail)');
    } finally {
      await rm(join(host.state, 'fail-up'));
    }
    expect(await current()).toBe(`releases/${first}`);
    expect((await records()).at(-1)).toMatchObject({ commit: second, outcome: 'rolled_back' });
  });

  it('refuses a concurrent deploy, naming the holder of the lock', async () => {
    const [, , third] = fixture.commits;
    await writeFile(join(host.state, 'block-up'), third!);
    const first = deploy([...deployArgs(third!), '--reason', 'ship version three'], 'alice@example.org');
    try {
      // The first deploy is in flight (inside compose up) and holds the lock.
      await waitUntil(async () => existsSync(join(host.state, 'up-blocked')), 'the first deploy to reach compose up', 30_000, 50);
      const second = await deploy(deployArgs(third!), 'bob@example.org');
      expect(second.code).toBe(75);
      expect(second.stderr).toContain('another deploy holds the lock');
      expect(second.stderr).toContain('alice@example.org');
      expect(second.stderr).toContain('ship version three');
    } finally {
      await writeFile(join(host.state, 'up-unblock'), '');
    }
    const result = await first;
    expect(result.code).toBe(0);
    await rm(join(host.state, 'block-up'));
    await rm(join(host.state, 'up-blocked'));
    await rm(join(host.state, 'up-unblock'));

    expect(await current()).toBe(`releases/${third}`);
    const log = await records();
    expect(log.at(-2)).toMatchObject({ who: 'bob@example.org', outcome: 'refused_locked' });
    expect(log.at(-1)).toMatchObject({ who: 'alice@example.org', commit: third, outcome: 'deployed', reason: 'ship version three' });
    expect(existsSync(join(host.appDir, 'lock'))).toBe(false);
  });

  it('--unlock removes a lock left by a deploy that died, naming it', async () => {
    // As a deploy that died would have left it (owned by the deploy user).
    const lockDir = join(host.appDir, 'lock');
    await mkdir(lockDir);
    await writeFile(join(lockDir, 'details.json'), JSON.stringify({ who: 'carol@example.org', since: '2026-01-01T00:00:00Z', reason: 'crashed', commit: 'f'.repeat(40), from: 'laptop', token: 'x' }));
    await chown(lockDir, host.uid, host.uid);
    await chown(join(lockDir, 'details.json'), host.uid, host.uid);
    const refused = await deploy(deployArgs(fixture.commits[2]!));
    expect(refused.code).toBe(75);
    expect(refused.stderr).toContain('carol@example.org');
    const unlocked = await deploy([...deployArgs(fixture.commits[2]!), '--unlock']);
    expect(unlocked.code).toBe(0);
    expect(unlocked.stdout).toContain('released the deploy lock held by carol@example.org');
    expect(existsSync(join(host.appDir, 'lock'))).toBe(false);
  });
});
