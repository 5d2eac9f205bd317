// The production stack run for real: `docker-compose -f deploy/compose.yaml -f <override>
// up -d` on a real engine (Debian's dockerd, started here when it is not running:
// deploy/testing/engine.ts), prepared as a deploy prepares it (a secrets directory with
// the Redis ACL and passwords, the app directory with its audit directory, the release's
// variables, BPE_DOMAIN=localhost so Caddy uses its internal CA).
//
// No image registry is reachable here, so the images are made locally
// (deploy/testing/images.ts): a Debian base by debootstrap, the app image by
// deploy/Dockerfile FROM a local Node 20 image, and stand-ins built from Debian packages
// for the third-party images compose.yaml pins. They are cached in the engine's store by a
// hash of their recipe: the first run on a machine builds them (1 min 45 s on the 2-core
// machine), later runs do not; the test itself takes about as long again.
//
// The override changes only images and addresses: the stand-in images' names, the
// ingester's JETSTREAM_URL (a replay server this test runs on the host, on the default
// bridge's gateway address), each container's DNS server (its own loopback, where none
// answers: names outside the project's networks, such as Grafana's and the notification
// hosts of alertmanager.yml, are not looked up on the host's resolver, so nothing leaves
// the machine) and, for the services that log to Loki, Loki's address (their own loopback:
// refused at once). Through compose's own variables Caddy publishes free host ports instead
// of 80/443. Grafana and Loki have no Debian package and are not started (`up` names every
// other service); nothing depends on them at start (the services' logs to Loki are dropped
// and counted). Everything else is as it ships: batch sizes and intervals (a batch is
// written 30 s after its first event), health checks, networks, users, read-only mounts,
// ACLs.
//
// Skipped, with the reason, only when no container engine can run here.
// BPE_COMPOSE_TEST_KEEP=1 leaves the stack running afterwards (it prints how to reach it).

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { startReplayServer, type ReplayServer } from '../loadtest/jetstream-replay/server.ts';
import { REQUIRED_SECRETS } from '../deploy/ssh/commands/secrets.ts';
import { renderSecrets } from '../deploy/config/redis/render.ts';
import { defaultBridgeAddress, docker, EngineUnavailable, run, startEngine, type EngineInfo, type RunOptions } from '../deploy/testing/engine.ts';
import { buildTestImages, REPO_ROOT, SHELL_IMAGE, STANDINS, type StandinName, type TestImages } from '../deploy/testing/images.ts';
import { freePort } from '../base/ports.ts';
import { checkIntegrity, tempDir, waitUntil } from './helpers/pipeline.ts';

/** Not started here: no Debian package (Grafana, Loki). */
const LEFT_OUT = ['grafana', 'loki'];

const engine: EngineInfo | { unavailable: string } = await startEngine().catch((error: unknown) => {
  if (error instanceof EngineUnavailable) return { unavailable: error.message };
  throw error;
});
const unavailable = 'unavailable' in engine ? engine.unavailable : undefined;
if (unavailable) console.warn(`test/compose-stack.test.ts is SKIPPED: no container engine can run here: ${unavailable}`);

interface ContainerState {
  service: string;
  status: string;
  exitCode: number;
  health?: string;
}

describe.skipIf(unavailable !== undefined)(`deploy/compose.yaml run for real${unavailable ? ` (SKIPPED: ${unavailable.split('\n')[0]})` : ''}`, { timeout: 600_000 }, () => {
  const project = `bpe-compose-test-${randomBytes(3).toString('hex')}`;
  let dir: string;
  let images: TestImages;
  let replay: ReplayServer;
  /** Settles once the ingester's first connection is open and the replay server releases events. */
  let releasing: Promise<void>;
  let composeEnv: NodeJS.ProcessEnv;
  let composeArgs: string[];
  let services: string[];
  let httpsPort: number;
  let httpPort: number;

  const compose = (args: string[], options: RunOptions = {}) =>
    run('docker-compose', [...composeArgs, ...args], { cwd: REPO_ROOT, env: composeEnv, timeoutMs: 5 * 60_000, ...options });

  async function containers(): Promise<ContainerState[]> {
    const ids = (await docker(['ps', '--all', '--quiet', '--filter', `label=com.docker.compose.project=${project}`])).stdout.split('\n').filter(Boolean);
    if (ids.length === 0) return [];
    const inspected = JSON.parse((await docker(['inspect', ...ids])).stdout) as {
      Config: { Labels: Record<string, string> };
      State: { Status: string; ExitCode: number; Health?: { Status: string } };
    }[];
    return inspected.map((c) => ({
      service: c.Config.Labels['com.docker.compose.service']!,
      status: c.State.Status,
      exitCode: c.State.ExitCode,
      health: c.State.Health?.Status,
    }));
  }

  async function volumePath(volume: string): Promise<string> {
    return (await docker(['volume', 'inspect', '--format', '{{.Mountpoint}}', `${project}_${volume}`])).stdout.trim();
  }

  /** Prints how long a step took (the test's output shows where its minutes go; nothing is asserted on it). */
  async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
    const started = Date.now();
    const result = await work();
    console.log(`[compose-stack] ${label}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return result;
  }

  const sent = () => Array.from({ length: replay.releasedCount() }, (_, i) => replay.releasedEvent(i));

  /** Polls the Parquet store on the `parquet` volume until every event the replay server sent is stored; returns the comparison. */
  async function storedExactlyOnce(what: string) {
    const dataDir = await volumePath('parquet');
    let last: Awaited<ReturnType<typeof checkIntegrity>> | undefined;
    try {
      return await waitUntil(
        async () => {
          last = await checkIntegrity(dataDir, sent());
          return last.missing === 0 ? last : undefined;
        },
        what,
        // The writer writes a batch BATCH_MAX_AGE_MS (30 s) after its first event.
        180_000,
        2_000,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}; last check: ${JSON.stringify(last)}`, { cause: error });
    }
  }

  async function allUp(): Promise<ContainerState[]> {
    return waitUntil(
      async () => {
        const states = await containers();
        const ready = services.every((service) => {
          const state = states.find((s) => s.service === service);
          if (!state) return false;
          if (service === 'secrets-init') return state.status === 'exited' && state.exitCode === 0;
          return state.status === 'running' && (state.health === undefined || state.health === 'healthy');
        });
        return ready ? states : undefined;
      },
      'every container to be healthy (or running, without a health check) and secrets-init to complete',
      // Health checks run every 10-15 s; caddy starts only once the API is healthy.
      240_000,
      2_000,
    ).catch(async (error: unknown) => {
      throw new Error(`${(error as Error).message}: ${JSON.stringify(await containers())}`, { cause: error });
    });
  }

  beforeAll(async () => {
    dir = await tempDir('compose-stack');
    images = await buildTestImages();
    console.log(`[compose-stack] engine: dockerd ${(engine as EngineInfo).server}${(engine as EngineInfo).started ? ' (started by this test)' : ''}`);
    for (const t of images.timings) console.log(`[compose-stack] ${t.step}: ${(t.ms / 1000).toFixed(1)} s${t.cached ? ' (cached)' : ''}`);

    // What a deploy prepares: the secrets directory (npm run redis:acl and the operator's files), the app directory.
    const secrets = join(dir, 'secrets');
    await mkdir(secrets, { mode: 0o700 });
    await renderSecrets(secrets, 'bpe');
    const files: Record<string, string> = {
      grafana_admin_password: `${randomBytes(16).toString('hex')}\n`,
      'ingester.env': 'REDIS_URL=redis://redis:6379\n',
      'writer.env': 'REDIS_URL=redis://redis:6379\n',
      'api.env': 'REDIS_URL=redis://redis:6379\n',
      'backup.env': 'RESTIC_REPOSITORY=/srv/backup-not-used-by-compose\nBPE_REDIS_USER=backup\n',
    };
    for (const [name, text] of Object.entries(files)) await writeFile(join(secrets, name), text, { mode: 0o600 });
    expect((await readdir(secrets)).filter((name) => (REQUIRED_SECRETS as readonly string[]).includes(name)).sort()).toEqual([...REQUIRED_SECRETS].sort());
    const appDir = join(dir, 'app');
    await mkdir(join(appDir, 'audit'), { recursive: true });
    await writeFile(join(appDir, 'deploys.log'), '');
    await chmod(join(appDir, 'deploys.log'), 0o644);
    const textfileDir = join(dir, 'textfile');
    await mkdir(textfileDir);

    // The demo events: a replay server on the host, where the ingester reaches it (the default bridge's gateway).
    const gateway = await defaultBridgeAddress();
    // Paused until the ingester's first connection (a live tail: it would miss what came before).
    replay = await startReplayServer({ host: gateway, port: 0, seed: 2027, rate: 200, total: 6_000, paused: true, outboxLimit: 0 });
    releasing = waitUntil(async () => replay.stats().connections.open > 0, 'the ingester to connect to the replay server', 300_000, 250).then(() => replay.resume());
    releasing.catch(() => undefined); // awaited (and reported) by the test of the first events

    httpPort = await freePort();
    httpsPort = await freePort();
    composeEnv = {
      ...process.env,
      BPE_RELEASE: images.app.slice('bpe-app:'.length),
      BPE_SECRETS_DIR: secrets,
      BPE_APP_DIR: appDir,
      BPE_DOMAIN: 'localhost',
      BPE_TEXTFILE_DIR: textfileDir,
      BPE_HOST_HTTP_PORT: String(httpPort),
      BPE_HOST_HTTPS_PORT: String(httpsPort),
    };

    // The images compose.yaml pins, replaced by the stand-ins only where the names match.
    composeArgs = ['--project-name', project, '--file', 'deploy/compose.yaml'];
    const production = parse((await compose(['config'])).stdout) as { services: Record<string, { image: string; network_mode?: string; environment?: Record<string, string> }> };
    const override: { services: Record<string, { image?: string; environment?: Record<string, string>; dns?: string[]; extra_hosts?: string[] }> } = { services: {} };
    for (const [name, image] of Object.entries(STANDINS) as [StandinName, string][]) {
      expect(production.services[name]?.image, `compose.yaml's ${name} image: update deploy/testing/images.ts and its stand-in`).toBe(image);
      override.services[name] = { image: images.standins[name] };
    }
    expect(production.services['secrets-init']?.image).toBe(SHELL_IMAGE);
    override.services['secrets-init'] = { image: images.base };
    override.services.ingester = { ...override.services.ingester, environment: { JETSTREAM_URL: replay.url } };
    services = Object.keys(production.services).filter((name) => !LEFT_OUT.includes(name));
    // Nothing leaves the machine: a name outside the project's networks (loki, grafana.localhost of the
    // public probe, the notification hosts of alertmanager.yml) is looked up from the container's own
    // loopback, where no DNS server answers, instead of the host's resolver.
    for (const name of services.filter((s) => production.services[s]?.network_mode !== 'none')) override.services[name] = { ...override.services[name], dns: ['127.0.0.1'] };
    // Loki, not started, refuses at once (its name would otherwise take the resolver's 10 s
    // timeout, which a stopping service spends on its last push of logs).
    for (const name of services.filter((s) => Object.values(production.services[s]?.environment ?? {}).some((v) => /\/\/loki:/.test(v)))) {
      override.services[name] = { ...override.services[name], extra_hosts: ['loki:127.0.0.1'] };
    }
    const overrideFile = join(dir, 'compose.test-override.yaml');
    await writeFile(overrideFile, `# test/compose-stack.test.ts: local images and addresses only (see the top of the test).\n${stringify(override)}`);
    composeArgs.push('--file', overrideFile);
    await timed('docker-compose up', () => compose(['up', '--detach', ...services]));
  }, 30 * 60_000);

  afterEach(async (context) => {
    if (context.task.result?.state !== 'fail' || !composeArgs) return;
    const ps = await compose(['ps']).catch((error: Error) => ({ stdout: error.message }));
    const logs = await compose(['logs', '--no-color', '--tail', '40']).catch((error: Error) => ({ stdout: error.message }));
    console.error(`--- docker-compose ps\n${ps.stdout}\n--- docker-compose logs (last lines)\n${logs.stdout}`);
  });

  afterAll(async () => {
    if (process.env.BPE_COMPOSE_TEST_KEEP && composeArgs) {
      const vars = ['BPE_RELEASE', 'BPE_SECRETS_DIR', 'BPE_APP_DIR', 'BPE_DOMAIN', 'BPE_TEXTFILE_DIR', 'BPE_HOST_HTTP_PORT', 'BPE_HOST_HTTPS_PORT'].map((v) => `${v}=${composeEnv[v]}`);
      console.log(`[compose-stack] BPE_COMPOSE_TEST_KEEP: the stack stays up (the replay server does not):\n  cd ${REPO_ROOT} && ${vars.join(' ')} docker-compose ${composeArgs.join(' ')} ps\n  remove it with the same command and \`down --volumes\`, then rm -r ${dir}`);
      await replay?.close();
      return;
    }
    // The project's containers, networks and volumes go; the cached images stay.
    if (composeArgs) await timed('docker-compose down --volumes', () => compose(['down', '--volumes', '--remove-orphans'])).catch((error: Error) => console.error(error.message));
    await replay?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 180_000);

  it('starts every service but Grafana and Loki: secrets-init completes, every container becomes healthy (or runs, without a health check)', async () => {
    const states = await allUp();
    expect(states.map((s) => s.service).sort()).toEqual([...services].sort());
    const withoutCheck = states.filter((s) => s.health === undefined && s.service !== 'secrets-init').map((s) => s.service);
    // As deploy/compose.yaml says: redis_exporter's image has no HTTP client (Prometheus' `up` covers it).
    expect(withoutCheck).toEqual(['redis-exporter']);
  });

  it('demo events from the replay server flow to Parquet on the parquet volume, each stored exactly once', async () => {
    // Events have flowed since the ingester connected, while the stack was still starting.
    await releasing;
    await replay.whenReleased(2_000);
    replay.pause();
    const report = await storedExactlyOnce('the first events to be stored');
    expect(report).toMatchObject({ expected: replay.releasedCount(), missing: 0, duplicates: 0, unexpected: 0 });
    expect(report.tables.posts?.stored ?? 0).toBeGreaterThan(0);
  });

  it('answers through Caddy over TLS, with a certificate from Caddy\'s internal CA; the API needs a key made with the keys CLI', async () => {
    const rootPath = join(await volumePath('caddy-data'), 'caddy', 'pki', 'authorities', 'local', 'root.crt');
    await waitUntil(async () => existsSync(rootPath), 'Caddy\'s internal CA', 60_000, 500);
    const ca = await readFile(rootPath, 'utf8');
    const get = (path: string, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: httpsPort, servername: 'localhost', ca, path, headers: { host: 'localhost', ...headers } }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        });
        req.once('error', reject);
        req.end();
      });

    const health = await waitUntil(async () => {
      const response = await get('/healthz');
      return response.status === 200 ? response : undefined;
    }, 'the API\'s /healthz through Caddy', 60_000, 1_000);
    expect(health.headers['strict-transport-security']).toMatch(/max-age=31536000/);
    expect((await get('/v1/search?text=coffee')).status).toBe(401);

    // HTTP only redirects to HTTPS.
    const redirect = await new Promise<{ status: number; location?: string }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: httpPort, path: '/healthz', headers: { host: 'localhost' } }, (res) => {
        res.resume();
        resolve({ status: res.statusCode!, location: res.headers.location });
      });
      req.once('error', reject);
      req.end();
    });
    expect(redirect.status).toBe(308);
    expect(redirect.location).toBe('https://localhost/healthz');

    // A key, as runbooks/security.md makes one: the keys CLI in the api image, as the `keys` Redis user, the password over stdin.
    const password = await readFile(join(composeEnv.BPE_SECRETS_DIR!, 'redis-keys.password'), 'utf8');
    const created = await compose(
      ['run', '--rm', '--no-deps', '-T', '-e', 'REDIS_USERNAME=keys', '-e', 'REDIS_PASSWORD_FILE=-', '-e', 'AUDIT_ACTOR=compose-test', 'api', 'node', 'services/api/auth/cli.js', 'create', '--name', 'compose-test', '--scopes', 'search', '--json'],
      { input: password },
    );
    const key = (JSON.parse(created.stdout.trim().split('\n').findLast((line) => line.startsWith('{"key"'))!) as { key: string }).key;

    // One stored post, by its key: a post created once and never changed or deleted among the events sent.
    const frames = sent().map((raw) => JSON.parse(raw) as { did: string; kind: string; commit?: { operation: string; collection: string; rkey: string; record?: { text?: string } } });
    const touches = new Map<string, number>();
    for (const f of frames) if (f.commit?.collection === 'app.bsky.feed.post') touches.set(`${f.did}/${f.commit.rkey}`, (touches.get(`${f.did}/${f.commit.rkey}`) ?? 0) + 1);
    const post = frames.find((f) => f.commit?.collection === 'app.bsky.feed.post' && f.commit.operation === 'create' && touches.get(`${f.did}/${f.commit.rkey}`) === 1)!;
    expect(post).toBeDefined();
    const found = await waitUntil(async () => {
      const response = await get(`/v1/posts/${post.did}/${post.commit!.rkey}`, { authorization: `Bearer ${key}` });
      return response.status === 200 ? response : undefined;
    }, 'the post through the API', 60_000, 1_000);
    expect(JSON.parse(found.body)).toMatchObject({ author_did: post.did, uri: `at://${post.did}/app.bsky.feed.post/${post.commit!.rkey}`, text: post.commit!.record?.text ?? '' });
  });

  it('Prometheus scrapes every target that runs; only grafana and loki (not started) are down', async () => {
    interface Target {
      labels: Record<string, string>;
      health: string;
      lastError: string;
    }
    let last: Target[] = [];
    const targets = await waitUntil(
      async () => {
        const { stdout } = await compose(['exec', '-T', 'prometheus', 'wget', '-q', '-O', '-', 'http://127.0.0.1:9090/api/v1/targets']);
        last = (JSON.parse(stdout) as { data: { activeTargets: Target[] } }).data.activeTargets;
        const settled = last.every((t) => (LEFT_OUT.includes(t.labels.job!) ? t.health === 'down' : t.health === 'up'));
        return settled && last.length > 0 ? last : undefined;
      },
      'every running target to be up',
      120_000,
      2_000,
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}: ${JSON.stringify(last.map((t) => [t.labels.job, t.labels.instance, t.health, t.lastError]))}`, { cause: error });
    });
    const jobs = (health: string) => [...new Set(targets.filter((t) => t.health === health).map((t) => t.labels.job))].sort();
    expect(jobs('down')).toEqual(LEFT_OUT);
    // Every other job of the production configuration: the services, Prometheus and Alertmanager, the exporters.
    const configured = parse(await readFile(join(REPO_ROOT, 'deploy/config/prometheus/prometheus.yml'), 'utf8')) as { scrape_configs: { job_name: string }[] };
    expect(jobs('up')).toEqual(configured.scrape_configs.map((c) => c.job_name).filter((job) => !LEFT_OUT.includes(job)).sort());
    expect(jobs('up')).toEqual(expect.arrayContaining(['alertmanager', 'api', 'blackbox', 'ingester', 'node', 'prometheus', 'redis', 'writer']));
  });

  // Its deadlines add up (compose's own, the store's, the health checks'): the test's is above their sum.
  it('`docker-compose down` then `up -d` (volumes kept) loses nothing: every event sent before, during and after is stored exactly once', { timeout: 900_000 }, async () => {
    replay.resume();
    await replay.whenReleased(3_000);
    await timed('docker-compose down', () => compose(['down']));
    expect(await containers()).toEqual([]);
    // Events keep coming while the stack is down: the ingester fetches them from its stored cursor.
    await replay.whenReleased(4_000);
    await timed('docker-compose up (again)', () => compose(['up', '--detach', ...services]));
    await replay.whenReleased(6_000);
    const report = await storedExactlyOnce('every event, before and after the restart, to be stored');
    expect(report).toMatchObject({ expected: 6_000, stored: 6_000, missing: 0, duplicates: 0, unexpected: 0 });
    await allUp();
  });
});
