// The production stack files: deploy/compose.yaml validated by a real Compose parser
// (Debian's docker-compose 1.29, which knows every key this file uses: no need for
// the Compose spec's JSON schema), the placeholder configs it mounts checked by their
// own tools (promtool, amtool, caddy), and the image's production build (compiled
// JavaScript, see deploy/Dockerfile) started for real without tsx.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, readFile, rm, symlink, writeFile, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../base/paths.ts';
import { durationSeconds } from '../base/duration.ts';
import { freePort } from '../base/ports.ts';
import { REQUIRED_SECRETS } from '../deploy/ssh/commands/secrets.ts';
import { tempDir, waitUntil } from './helpers/pipeline.ts';
import { loadIngesterConfig } from '../services/ingester/config.ts';
import { loadWriterConfig } from '../services/writer/config.ts';
import { loadApiConfig } from '../services/api/config.ts';
import { parse as parseYaml } from 'yaml';
import { DEFAULTS as LOKI_TRANSPORT } from '../telemetry/loki-transport.mjs';

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

/** A Loki size ("2MB", "256KB": powers of 1024, as Loki's flagext.ByteSize reads them) in bytes. */
function bytes(text: string): number {
  const match = /^(\d+)(B|KB|MB|GB)$/.exec(text);
  if (!match) throw new Error(`not a size: ${text}`);
  return Number(match[1]) * { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[match[2] as 'B' | 'KB' | 'MB' | 'GB'];
}

interface LokiConfig {
  auth_enabled: boolean;
  server: { http_listen_port: number };
  common: { path_prefix: string; replication_factor: number; ring: { kvstore: { store: string } }; storage: { filesystem: { chunks_directory: string; rules_directory: string } } };
  schema_config: { configs: { store: string; object_store: string; schema: string; index: { period: string } }[] };
  storage_config: { tsdb_shipper: { active_index_directory: string; cache_location: string } };
  ingester: { wal: { dir: string } };
  compactor: { working_directory: string; retention_enabled: boolean; delete_request_store: string };
  limits_config: {
    retention_period: string;
    max_query_lookback: string;
    ingestion_rate_mb: number;
    ingestion_burst_size_mb: number;
    per_stream_rate_limit: string;
    per_stream_rate_limit_burst: string;
    unordered_writes: boolean;
    reject_old_samples: boolean;
    reject_old_samples_max_age: string;
    max_line_size_truncate: boolean;
  };
}

/**
 * The fields of each block of loki.yml that this project uses, as Loki 3.x's configuration
 * reference names them (a subset of each block: a new field goes here after checking it
 * there). Blocks not listed are not checked.
 */
const LOKI_DOCUMENTED_FIELDS: Record<string, string[]> = {
  '': ['target', 'auth_enabled', 'server', 'distributor', 'querier', 'query_range', 'ruler', 'ingester_client', 'ingester', 'pattern_ingester', 'index_gateway', 'storage_config', 'chunk_store_config', 'schema_config', 'compactor', 'limits_config', 'frontend_worker', 'frontend', 'query_scheduler', 'table_manager', 'memberlist', 'runtime_config', 'tracing', 'analytics', 'common'],
  server: ['http_listen_address', 'http_listen_port', 'grpc_listen_address', 'grpc_listen_port', 'log_level', 'log_format', 'graceful_shutdown_timeout', 'http_server_read_timeout', 'http_server_write_timeout', 'http_server_idle_timeout', 'grpc_server_max_recv_msg_size', 'grpc_server_max_send_msg_size'],
  common: ['path_prefix', 'storage', 'persist_tokens', 'replication_factor', 'ring', 'instance_interface_names', 'instance_addr', 'compactor_address', 'compactor_grpc_address'],
  'common.storage': ['filesystem', 's3', 'gcs', 'azure', 'swift', 'bos', 'cos', 'hedging'],
  'common.storage.filesystem': ['chunks_directory', 'rules_directory'],
  storage_config: ['tsdb_shipper', 'boltdb_shipper', 'filesystem', 'aws', 'gcs', 'azure', 'bos', 'swift', 'cos', 'named_stores', 'index_queries_cache_config'],
  'storage_config.tsdb_shipper': ['active_index_directory', 'cache_location', 'cache_ttl', 'resync_interval', 'query_ready_num_days', 'index_gateway_client'],
  ingester: ['lifecycler', 'concurrent_flushes', 'flush_check_period', 'flush_op_timeout', 'chunk_retain_period', 'chunk_idle_period', 'chunk_block_size', 'chunk_target_size', 'chunk_encoding', 'max_chunk_age', 'autoforget_unhealthy', 'wal', 'index_shards'],
  'ingester.wal': ['enabled', 'dir', 'checkpoint_duration', 'flush_on_shutdown', 'replay_memory_ceiling'],
  compactor: ['working_directory', 'compaction_interval', 'apply_retention_interval', 'retention_enabled', 'retention_delete_delay', 'retention_delete_worker_count', 'retention_table_timeout', 'delete_request_store', 'delete_request_store_key_prefix', 'delete_batch_size', 'delete_request_cancel_period', 'delete_max_interval', 'max_compaction_parallelism', 'upload_parallelism', 'compactor_ring'],
  limits_config: [
    'ingestion_rate_strategy', 'ingestion_rate_mb', 'ingestion_burst_size_mb', 'max_label_name_length', 'max_label_value_length', 'max_label_names_per_series',
    'reject_old_samples', 'reject_old_samples_max_age', 'creation_grace_period', 'max_line_size', 'max_line_size_truncate', 'increment_duplicate_timestamp',
    'max_streams_per_user', 'max_global_streams_per_user', 'unordered_writes', 'per_stream_rate_limit', 'per_stream_rate_limit_burst',
    'max_query_lookback', 'max_query_length', 'max_query_series', 'max_entries_limit_per_query', 'query_timeout', 'split_queries_by_interval',
    'retention_period', 'retention_stream', 'allow_structured_metadata', 'volume_enabled',
  ],
  analytics: ['reporting_enabled', 'usage_stats_url'],
};

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
      const stopSeconds = durationSeconds(service.stop_grace_period ?? '10s', { fractions: true });
      expect(stopSeconds, `${name}: stop_grace_period ${service.stop_grace_period} vs SHUTDOWN_GRACE_SECONDS ${grace}`).toBeGreaterThan(grace);
    }
  });

  it('ships the logs of every container that runs our code to Loki: LOKI_URL names the loki service, on a network each shares with it', async () => {
    // Our code runs in the app image; every service of it logs through services/shared/logger.ts.
    const ours = Object.entries(config.services).filter(([, s]) => s.image?.startsWith('bpe-app:'));
    expect(ours.map(([name]) => name).sort()).toEqual(['api', 'ingester', 'writer']);
    const lokiYml = parseYaml(await readFile(join(REPO_ROOT, 'deploy/config/loki/loki.yml'), 'utf8')) as { server: { http_listen_port: number } };
    const lokiNetworks = Object.keys(config.services.loki!.networks ?? {});
    for (const [name, service] of ours) {
      const url = new URL(service.environment?.LOKI_URL ?? '', 'unset:/');
      expect(`${url.protocol}//${url.host}`, `${name}: LOKI_URL`).toBe(`http://loki:${lokiYml.server.http_listen_port}`);
      expect(Object.keys(service.networks ?? {}).filter((n) => lokiNetworks.includes(n)), `${name} shares a network with loki`).not.toEqual([]);
    }
  });

  it('mounts a production Loki configuration, checked against Loki 3.3\'s documented fields (no Loki binary runs here): 90-day retention by the compactor, storage on the loki volume, TSDB v13, limits for our volume', async () => {
    const text = await readFile(join(REPO_ROOT, 'deploy/config/loki/loki.yml'), 'utf8');
    expect(text).not.toMatch(/placeholder/i);
    const loki = parseYaml(text) as LokiConfig;
    // Loki refuses a file with an unknown field: every one used here is in its configuration
    // reference (grafana/loki docs/sources/shared/configuration.md, 3.x).
    for (const [path, keys] of Object.entries(LOKI_DOCUMENTED_FIELDS)) {
      const block = path === '' ? loki : (path.split('.').reduce<unknown>((at, key) => (at as Record<string, unknown> | undefined)?.[key], loki) as Record<string, unknown> | undefined);
      for (const key of Object.keys(block ?? {})) expect(keys, `${path || '(top level)'}.${key} is a documented Loki field`).toContain(key);
    }

    // Compose runs it from this file, with its state on the loki volume at /loki.
    const service = config.services.loki!;
    expect(service.image).toMatch(/^grafana\/loki:3\.3\.\d+$/);
    expect(service.command).toEqual(['-config.file=/etc/loki/loki.yml']);
    expect(service.volumes).toContain('./config/loki/loki.yml:/etc/loki/loki.yml:ro'.replace('./', `${REPO_ROOT}deploy/`));
    expect(service.volumes).toContain('loki:/loki:rw');
    const paths = [
      loki.common.path_prefix,
      loki.common.storage.filesystem.chunks_directory,
      loki.common.storage.filesystem.rules_directory,
      loki.storage_config.tsdb_shipper.active_index_directory,
      loki.storage_config.tsdb_shipper.cache_location,
      loki.ingester.wal.dir,
      loki.compactor.working_directory,
    ];
    for (const path of paths) expect(path).toMatch(/^\/loki(\/|$)/);

    // Single binary, one tenant, filesystem storage, the TSDB index with schema v13.
    expect(loki.auth_enabled).toBe(false);
    expect(loki.common.replication_factor).toBe(1);
    expect(loki.common.ring.kvstore.store).toBe('inmemory');
    expect(loki.schema_config.configs.at(-1)).toMatchObject({ store: 'tsdb', object_store: 'filesystem', schema: 'v13', index: { period: '24h' } });

    // 90 days, enforced by the compactor (which needs somewhere to keep delete requests).
    expect(durationSeconds(loki.limits_config.retention_period) / 3600).toBe(90 * 24);
    expect(loki.compactor).toMatchObject({ retention_enabled: true, delete_request_store: 'filesystem' });
    expect(durationSeconds(loki.limits_config.max_query_lookback) / 3600).toBeLessThanOrEqual(90 * 24);

    // Limits for about 30 lines/s of about 1 KB at worst (three services and the audit copy),
    // with headroom, and for what the transport sends (telemetry/loki-transport.mjs).
    const expectedMbPerSecond = (30 * 1024) / 1024 ** 2;
    const limits = loki.limits_config;
    expect(limits.ingestion_rate_mb).toBeGreaterThanOrEqual(100 * expectedMbPerSecond);
    // Loki: the burst "should be set at least to the maximum logs size expected in a single
    // push request"; four transports (three services and the audit copy) may push at once.
    expect(limits.ingestion_burst_size_mb * 1024 ** 2).toBeGreaterThanOrEqual(4 * LOKI_TRANSPORT.batchBytes);
    expect(bytes(limits.per_stream_rate_limit_burst)).toBeGreaterThanOrEqual(LOKI_TRANSPORT.batchBytes);
    expect(bytes(limits.per_stream_rate_limit)).toBeGreaterThanOrEqual(10 * expectedMbPerSecond * 1024 ** 2);
    // Records held through an outage arrive late and, from several processes, out of order.
    expect(limits.unordered_writes).toBe(true);
    expect(limits.reject_old_samples).toBe(true);
    expect(durationSeconds(limits.reject_old_samples_max_age) / 3600).toBeGreaterThanOrEqual(24);
    // A refused line would be lost (the transport cannot retry a 400): long ones are cut instead.
    expect(limits.max_line_size_truncate).toBe(true);
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
    // compose.yaml always sets BPE_ACME_EMAIL, empty when the deploy has none: Caddy must accept that too.
    for (const email of [undefined, '', 'ops@example.org']) {
      await run('caddy', ['validate', '--config', 'deploy/config/caddy/Caddyfile', '--adapter', 'caddyfile'], {
        cwd: REPO_ROOT,
        env: { ...process.env, BPE_DOMAIN: 'bpe.example.org', BPE_ACME_EMAIL: email, XDG_DATA_HOME: join(dir, 'xdg-data'), XDG_CONFIG_HOME: join(dir, 'xdg-config') },
      });
    }
    const caddyfile = await readFile(join(REPO_ROOT, 'deploy', 'config', 'caddy', 'Caddyfile'), 'utf8');
    for (const service of ['ingester', 'writer', 'api']) expect(caddyfile).toContain(`handle /_ready/${service} {`);
  });
});

describe('deploy/Dockerfile and its production build', () => {
  let dir: string;
  let api: ChildProcess | undefined;
  let lokiStandIn: Server | undefined;

  beforeAll(async () => {
    dir = await tempDir('image-build');
  });
  afterAll(async () => {
    api?.kill('SIGKILL');
    await new Promise((resolve) => (lokiStandIn ? lokiStandIn.close(resolve) : resolve(undefined)));
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

    // With LOKI_URL, pino's worker loads the copied transport from the compiled layout: a
    // stand-in of Loki's push API (Loki does not run here) receives the API's first lines.
    const pushed: { stream: Record<string, string> }[] = [];
    const loki = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        pushed.push(...(JSON.parse(body) as { streams: typeof pushed }).streams);
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => loki.listen(0, '127.0.0.1', resolve));
    lokiStandIn = loki;
    const port = await freePort();
    api = spawn(process.execPath, ['services/api/main.js'], {
      cwd: out,
      env: {
        ...process.env,
        API_HOST: '127.0.0.1',
        API_PORT: String(port),
        METRICS_PORT: '0',
        DATA_DIR: dataDir,
        REDIS_URL: 'redis://127.0.0.1:6379',
        LOG_LEVEL: 'info',
        LOKI_URL: `http://127.0.0.1:${(loki.address() as AddressInfo).port}`,
        LOKI_BATCH_SECONDS: '1',
      },
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
    await waitUntil(async () => pushed.some((p) => p.stream.service === 'api' && p.stream.level === 'info'), 'the compiled API\'s logs in the Loki stand-in', 30_000, 200);
  });

  it('the log transport, loaded as plain JavaScript by pino\'s worker, imports only Node\'s modules and production dependencies (the image has no others)', async () => {
    const source = await readFile(join(REPO_ROOT, 'telemetry', 'loki-transport.mjs'), 'utf8');
    const dependencies = Object.keys((JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies);
    const imported = [...source.matchAll(/^import\s[^;]*?\sfrom\s+'([^']+)';/gm)].map((m) => m[1]!);
    expect(imported).toContain('pino-abstract-transport');
    for (const name of imported.filter((n) => !n.startsWith('node:'))) expect(dependencies, name).toContain(name);
  });
});
