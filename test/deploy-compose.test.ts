// The production stack files: deploy/compose.yaml validated by a real Compose parser
// (Debian's docker-compose 1.29, which knows every key this file uses: no need for
// the Compose spec's JSON schema), the placeholder configs it mounts checked by their
// own tools (promtool, amtool, caddy), and the image's production build (compiled
// JavaScript, see deploy/Dockerfile) started for real without tsx.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, rm, symlink, writeFile, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../services/stack/service-process.ts';
import { freePort } from '../services/stack/redis-server.ts';
import { REQUIRED_SECRETS } from '../deploy/ssh/commands/secrets.ts';
import { tempDir, waitUntil } from './helpers/pipeline.ts';
import { loadIngesterConfig } from '../services/ingester/config.ts';
import { loadWriterConfig } from '../services/writer/config.ts';
import { loadApiConfig } from '../services/api/config.ts';

const run = promisify(execFile);

interface ComposeService {
  image?: string;
  build?: unknown;
  ports?: unknown[];
  restart?: string;
  mem_limit?: string | number;
  logging?: { driver: string; options?: Record<string, string> };
  healthcheck?: { test: string[] | string };
  networks?: Record<string, unknown>;
  network_mode?: string;
  volumes?: (string | { source?: string; type?: string })[];
  environment?: Record<string, string>;
  command?: string[];
  stop_grace_period?: string;
}

/** A Compose duration ("15s", "1m30s", "1h") in seconds. */
function parseComposeDuration(text: string): number {
  const units: Record<string, number> = { h: 3600, m: 60, s: 1 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(h|m|s)/g)];
  if (parts.map((p) => p[0]).join('') !== text) throw new Error(`not a Compose duration: ${text}`);
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * units[unit!]!, 0);
}

interface ComposeConfig {
  services: Record<string, ComposeService>;
  networks: Record<string, { internal?: boolean }>;
  volumes: Record<string, unknown>;
}

const EXPECTED_SERVICES = [
  'alertmanager',
  'api',
  'blackbox-exporter',
  'caddy',
  'grafana',
  'ingester',
  'loki',
  'node-exporter',
  'prometheus',
  'redis',
  'redis-exporter',
  'secrets-init',
  'writer',
];

describe('deploy/compose.yaml and the files it mounts', () => {
  let dir: string;
  let config: ComposeConfig;

  beforeAll(async () => {
    dir = await tempDir('compose');
    // Stand-ins for the operator's secret files (the parser reads env files in).
    for (const name of REQUIRED_SECRETS) await writeFile(join(dir, name), name.endsWith('.env') ? `REDIS_URL=redis://${name.slice(0, -4)}:secret@redis:6379\n` : '');
    const { stdout } = await run('docker-compose', ['--file', 'deploy/compose.yaml', 'config'], {
      cwd: REPO_ROOT,
      env: { ...process.env, BPE_SECRETS_DIR: dir, BPE_RELEASE: 'abc123', BPE_DOMAIN: 'bpe.example.org' },
    });
    // docker-compose 1.29 prints YAML only; its own YAML library (PyYAML) turns it into JSON.
    const json = await new Promise<string>((resolve, reject) => {
      const child = spawn('python3', ['-c', 'import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))']);
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`python3 exited ${code}`))));
      child.stdin.end(stdout);
    });
    config = JSON.parse(json) as ComposeConfig;
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('parses with docker-compose and holds every service of the stack', () => {
    expect(Object.keys(config.services).sort()).toEqual(EXPECTED_SERVICES);
  });

  it('publishes ports only from caddy: 80 and 443', () => {
    const publishing = Object.entries(config.services).filter(([, s]) => s.ports?.length);
    expect(publishing.map(([name]) => name)).toEqual(['caddy']);
    expect(config.services.caddy!.ports).toEqual([
      { published: 80, target: 80 },
      { published: 443, target: 443 },
      { protocol: 'udp', published: 443, target: 443 },
    ]);
    for (const [name, service] of Object.entries(config.services)) expect(service.network_mode === 'host', name).toBe(false);
  });

  it('pins every image, sets restart policies, memory limits and rotated logs', () => {
    for (const [name, service] of Object.entries(config.services)) {
      expect(service.image, name).toMatch(/^[\w./-]+:[\w.-]+$/);
      expect(service.image, name).not.toMatch(/:latest$/);
      expect(service.restart, name).toBe(name === 'secrets-init' ? 'no' : 'unless-stopped');
      expect(service.mem_limit, name).toBeTruthy();
      expect(service.logging, name).toMatchObject({ driver: 'json-file', options: { 'max-size': '20m', 'max-file': '5' } });
    }
    for (const app of ['ingester', 'writer', 'api']) {
      expect(config.services[app]!.image).toBe('bpe-app:abc123');
      expect(config.services[app]!.build).toMatchObject({ dockerfile: 'deploy/Dockerfile' });
    }
  });

  it('has health checks wherever the image can run one (the app image has its own HEALTHCHECK)', () => {
    const withoutCheck = Object.entries(config.services)
      .filter(([, s]) => !s.healthcheck)
      .map(([name]) => name)
      .sort();
    // secrets-init exits; loki and redis-exporter ship no HTTP client (Prometheus' `up` covers them);
    // ingester, writer, api use the Dockerfile's HEALTHCHECK with their HEALTHCHECK_URL.
    expect(withoutCheck).toEqual(['api', 'ingester', 'loki', 'redis-exporter', 'secrets-init', 'writer']);
    for (const app of ['ingester', 'writer', 'api']) expect(config.services[app]!.environment!.HEALTHCHECK_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/healthz$/);
  });

  it('runs redis as a buffer: AOF everysec, maxmemory with noeviction, an ACL file from a secret', () => {
    const command = config.services.redis!.command!.join(' ');
    expect(command).toContain('--appendonly yes');
    expect(command).toContain('--appendfsync everysec');
    expect(command).toMatch(/--maxmemory \d+mb/);
    expect(command).toContain('--maxmemory-policy noeviction');
    expect(command).toContain('--aclfile /run/bpe-secrets/redis/users.acl');
    expect(config.services['secrets-init']!.command!.join(' ')).toContain('/secrets/redis.acl /run/bpe-secrets/redis/users.acl');
  });

  it('secrets-init, run for real (as root, as in its container): owners and modes per reader, optional notification secrets, blackbox targets for BPE_DOMAIN', async () => {
    // The script as Compose hands it to sh (`config` prints $$ still escaped), with its container paths moved under a temp root.
    const root = join(dir, 'init-root');
    const script = config.services['secrets-init']!.command![2]!.replaceAll('$$', () => '$').replaceAll(/(?<![\w.-])\/(secrets|run\/bpe-secrets|audit|file_sd)(?=[/\s"']|$)/gm, `${root}/$1`);
    await mkdir(join(root, 'secrets'), { recursive: true });
    await mkdir(join(root, 'audit'));
    await mkdir(join(root, 'file_sd'));
    for (const name of [...REQUIRED_SECRETS, 'slack_webhook_url']) await writeFile(join(root, 'secrets', name), `${name}-value`);
    await run('sh', ['-euc', script], { env: { ...process.env, BPE_DOMAIN: 'bpe.example.org' } });
    const owner = async (path: string) => {
      const { stdout } = await run('stat', ['-c', '%u %a', join(root, path)]);
      return stdout.trim();
    };
    expect(await owner('run/bpe-secrets/redis/users.acl')).toBe('999 400');
    expect(await owner('run/bpe-secrets/api/redis_password')).toBe('10003 400');
    expect(await owner('run/bpe-secrets/alertmanager/slack_webhook_url')).toBe('65534 400');
    expect(await owner('audit')).toBe('10003 700');
    await expect(readFile(join(root, 'run/bpe-secrets/alertmanager/smtp_password'))).rejects.toThrow(/ENOENT/); // not given: skipped
    const targets = (await import('yaml')).parse(await readFile(join(root, 'file_sd/blackbox-public.yml'), 'utf8')) as unknown;
    expect(targets).toEqual([{ targets: ['https://bpe.example.org/healthz', 'https://grafana.bpe.example.org/api/health'], labels: { probe: 'public' } }]);
    // Where Prometheus and Alertmanager look for them.
    const prometheusYml = await readFile(join(REPO_ROOT, 'deploy/config/prometheus/prometheus.yml'), 'utf8');
    expect(prometheusYml).toContain('/etc/prometheus/file_sd/blackbox-*.yml');
    expect(config.services.prometheus!.volumes).toContain('prometheus-file-sd:/etc/prometheus/file_sd:ro');
    const alertmanagerYml = await readFile(join(REPO_ROOT, 'deploy/config/alertmanager/alertmanager.yml'), 'utf8');
    expect(alertmanagerYml).toContain('/run/bpe-secrets/alertmanager/slack_webhook_url');
    expect(config.services.alertmanager!.volumes).toContain('runtime-secrets:/run/bpe-secrets:ro');
  });

  it('keeps the data networks internal and state in named volumes', () => {
    expect(config.networks.backend).toMatchObject({ internal: true });
    expect(config.networks.monitoring).toMatchObject({ internal: true });
    const egress = Object.entries(config.services)
      .filter(([, s]) => s.networks && 'egress' in s.networks)
      .map(([name]) => name)
      .sort();
    expect(egress).toEqual(['alertmanager', 'blackbox-exporter', 'caddy', 'ingester']);
    expect(Object.keys(config.volumes).sort()).toEqual(['alertmanager', 'caddy-config', 'caddy-data', 'grafana', 'loki', 'parquet', 'prometheus', 'prometheus-file-sd', 'redis', 'runtime-secrets']);
    const mounts = (name: string) => (config.services[name]!.volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source}`));
    expect(mounts('writer').join(' ')).toContain('parquet:/data/parquet');
    expect(mounts('redis').join(' ')).toContain('redis:/data');
  });

  it('configures the services as their code expects: DATA_DIR, REDIS_PREFIX, health on all interfaces, credentials from env files', () => {
    const env = (name: string) => config.services[name]!.environment!;
    expect(env('writer').DATA_DIR).toBe('/data/parquet');
    expect(env('api').DATA_DIR).toBe('/data/parquet');
    for (const app of ['ingester', 'writer', 'api']) {
      expect(env(app).REDIS_PREFIX).toBe('bpe');
      // REDIS_URL, with the service's credentials, comes from its env file (`environment` would win over it).
      expect(env(app).REDIS_URL).toBe(`redis://${app}:secret@redis:6379`);
    }
    expect(env('ingester').HEALTH_HOST).toBe('0.0.0.0');
    expect(env('writer').HEALTH_HOST).toBe('0.0.0.0');
    expect(env('api').API_HOST).toBe('0.0.0.0');
    expect(env('grafana')).toMatchObject({ GF_AUTH_ANONYMOUS_ENABLED: 'false', GF_SECURITY_ADMIN_PASSWORD__FILE: '/run/bpe-secrets/grafana/admin_password' });
  });

  it('gives every pipeline service longer to stop than its own shutdown grace, so it exits on its own before Docker\'s SIGKILL', () => {
    const graces = { ingester: loadIngesterConfig, writer: loadWriterConfig, api: loadApiConfig };
    for (const [name, load] of Object.entries(graces)) {
      const service = config.services[name]!;
      const grace = load({ SHUTDOWN_GRACE_SECONDS: service.environment?.SHUTDOWN_GRACE_SECONDS }).SHUTDOWN_GRACE_SECONDS;
      // docker-compose config normalises durations: "15s", "1m30s".
      const stopSeconds = parseComposeDuration(service.stop_grace_period ?? '10s');
      expect(stopSeconds, `${name}: stop_grace_period ${service.stop_grace_period} vs SHUTDOWN_GRACE_SECONDS ${grace}`).toBeGreaterThan(grace);
    }
  });

  it('references only secrets the deploy tool requires', async () => {
    const text = await readFile(join(REPO_ROOT, 'deploy', 'compose.yaml'), 'utf8');
    const referenced = new Set([...text.matchAll(/BPE_SECRETS_DIR[^}]*\}\/([\w.-]+)/g), ...text.matchAll(/\/secrets\/([\w.-]+)/g)].map((m) => m[1]!));
    for (const name of referenced) expect(REQUIRED_SECRETS as readonly string[], name).toContain(name);
  });

  it('mounts configs that promtool, amtool, the blackbox exporter and caddy accept', async () => {
    await run('promtool', ['check', 'config', 'deploy/config/prometheus/prometheus.yml'], { cwd: REPO_ROOT });
    await run('amtool', ['check-config', 'deploy/config/alertmanager/alertmanager.yml'], { cwd: REPO_ROOT });
    const blackbox = await run('prometheus-blackbox-exporter', ['--config.check', '--config.file=deploy/config/blackbox/blackbox.yml'], { cwd: REPO_ROOT });
    expect(blackbox.stderr).toContain('Config file is ok');
    expect(blackbox.stderr, 'no deprecated setting').not.toContain('level=warn');
    await run('caddy', ['validate', '--config', 'deploy/config/caddy/Caddyfile', '--adapter', 'caddyfile'], {
      cwd: REPO_ROOT,
      env: { ...process.env, BPE_DOMAIN: 'bpe.example.org', XDG_DATA_HOME: join(dir, 'xdg-data'), XDG_CONFIG_HOME: join(dir, 'xdg-config') },
    });
    const caddyfile = await readFile(join(REPO_ROOT, 'deploy', 'config', 'caddy', 'Caddyfile'), 'utf8');
    for (const service of ['ingester', 'writer', 'api']) expect(caddyfile).toContain(`handle /_ready/${service} {`);
  });
});

describe('deploy/Dockerfile and its production build', () => {
  let dir: string;
  let api: ChildProcess | undefined;

  beforeAll(async () => {
    dir = await tempDir('image-build');
  });
  afterAll(async () => {
    api?.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('is multi-stage, installs production dependencies only, runs as a non-root user, has a HEALTHCHECK', async () => {
    const dockerfile = await readFile(join(REPO_ROOT, 'deploy', 'Dockerfile'), 'utf8');
    const stages = [...dockerfile.matchAll(/^FROM \S+ AS (\S+)$/gm)].map((m) => m[1]);
    expect(stages).toEqual(['build', 'prod-deps', 'runtime']);
    expect(dockerfile).toMatch(/^RUN npm ci --omit=dev /m);
    expect(dockerfile).toMatch(/^USER app:app$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20\.\d+\.\d+-bookworm-slim$/m);
    // The runtime stage copies node_modules from prod-deps only.
    const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime'));
    expect(runtime).toContain('COPY --from=prod-deps /app/node_modules ./node_modules');
    expect(runtime).not.toMatch(/npm (ci|install)(?!.*--omit=dev)/);
  });

  it('compiles the services to JavaScript that plain node runs (no tsx): the API starts and is ready', async () => {
    const out = join(dir, 'app');
    await run('npx', ['tsc', '-p', 'deploy/tsconfig.build.json', '--outDir', out], { cwd: REPO_ROOT });
    // As the Dockerfile does: the log transport is plain JavaScript, copied as is.
    await copyFile(join(REPO_ROOT, 'telemetry', 'loki-transport.mjs'), join(out, 'telemetry', 'loki-transport.mjs'));
    // The image's layout: compiled sources, package.json beside them, production node_modules.
    await copyFile(join(REPO_ROOT, 'package.json'), join(out, 'package.json'));
    await symlink(join(REPO_ROOT, 'node_modules'), join(out, 'node_modules'));
    const dataDir = join(dir, 'data');
    await mkdir(dataDir);

    const manifest = await run(process.execPath, [join(out, 'deploy', 'backup', 'manifest.js'), dataDir]);
    expect(JSON.parse(manifest.stdout)).toMatchObject({ posts: { rows: 0, files: 0 } });

    const port = await freePort();
    api = spawn(process.execPath, ['services/api/main.js'], {
      cwd: out,
      env: { ...process.env, API_HOST: '127.0.0.1', API_PORT: String(port), METRICS_PORT: '0', DATA_DIR: dataDir, REDIS_URL: 'redis://127.0.0.1:6379', LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    });
    const status = await waitUntil(
      async () => {
        const response = await fetch(`http://127.0.0.1:${port}/readyz`);
        return response.status === 200 ? response.status : undefined;
      },
      'the compiled API to be ready',
      30_000,
      200,
    );
    expect(status).toBe(200);
  });
});
