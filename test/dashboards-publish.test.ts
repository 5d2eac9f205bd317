// `npm run dashboards:publish` against a local Grafana API stand-in
// (dashboards/testing/grafana-standin.ts: the documented endpoints and status
// codes; no Grafana server can be installed here): folder created when missing,
// upsert by UID with folderUid always sent, unchanged dashboards skipped,
// created/updated/unchanged reported, --dry-run changes nothing, transient
// failures retried, and a clear non-zero exit on 401, 403, 412 and an
// unreachable Grafana.

import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT, publish, PublishError, type DashboardJson, type PublishOptions } from '../dashboards/grafana-client.ts';
import { startGrafanaStandIn, type GrafanaStandIn } from '../dashboards/testing/grafana-standin.ts';
import { freePort } from '../base/ports.ts';
import { REPO_ROOT } from '../base/paths.ts';
import { mixinConfig } from '../mixin/config.ts';

const exec = promisify(execFile);
const TOKEN = 'glsa_standin_token';
const READ_ONLY = 'glsa_viewer_token';

async function distDashboards(): Promise<DashboardJson[]> {
  const dir = join(REPO_ROOT, 'dashboards', 'dist');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(files.map(async (f) => JSON.parse(await readFile(join(dir, f), 'utf8')) as DashboardJson));
}

describe('dashboards:publish against a Grafana API stand-in', () => {
  let grafana: GrafanaStandIn;
  let all: DashboardJson[];
  const options = (extra: Partial<PublishOptions> = {}): PublishOptions => ({
    url: grafana.url,
    token: TOKEN,
    folderUid: mixinConfig.grafana.folderUid,
    folderTitle: mixinConfig.grafana.folderTitle,
    dashboards: all,
    retryDelayMs: 10,
    ...extra,
  });
  const failure = async (promise: Promise<unknown>) => {
    try {
      await promise;
    } catch (error) {
      return error as PublishError;
    }
    throw new Error('expected a failure');
  };

  beforeEach(async () => {
    grafana = await startGrafanaStandIn({ token: TOKEN, readOnlyToken: READ_ONLY });
    all = await distDashboards();
  });
  afterEach(async () => grafana.close());

  it('stand-in: creates the folder, then every dashboard in it, sending folderUid with every save', async () => {
    const result = await publish(options());
    expect(result.folder).toBe('created');
    expect(result.dashboards.map((d) => d.outcome)).toEqual(all.map(() => 'created'));
    expect(grafana.folders.get(mixinConfig.grafana.folderUid)?.title).toBe(mixinConfig.grafana.folderTitle);
    expect([...grafana.dashboards.keys()].sort()).toEqual(all.map((d) => d.uid).sort());
    const saves = grafana.requests.filter((r) => r.path === '/api/dashboards/db');
    expect(saves).toHaveLength(all.length);
    for (const save of saves) {
      expect(save.body).toMatchObject({ folderUid: mixinConfig.grafana.folderUid, overwrite: false, dashboard: { id: null } });
    }
  });

  it('stand-in: a second run changes nothing and reports every dashboard unchanged', async () => {
    await publish(options());
    const before = grafana.requests.length;
    const result = await publish(options());
    expect(result.folder).toBe('exists');
    expect(result.dashboards.every((d) => d.outcome === 'unchanged')).toBe(true);
    expect(grafana.requests.slice(before).filter((r) => r.method === 'POST')).toEqual([]);
  });

  it('stand-in: updates only what changed (an edit in the UI, a dashboard moved out of the folder), by UID', async () => {
    await publish(options());
    grafana.editInUi('bpe-api', { title: 'edited by hand' });
    grafana.dashboards.get('bpe-logs')!.folderUid = '';
    const result = await publish(options());
    const outcome = Object.fromEntries(result.dashboards.map((d) => [d.uid, d.outcome]));
    expect(outcome['bpe-api']).toBe('updated');
    expect(outcome['bpe-logs']).toBe('updated');
    expect(Object.values(outcome).filter((o) => o === 'unchanged')).toHaveLength(all.length - 2);
    expect(grafana.dashboards.get('bpe-api')!.dashboard.title).toBe(mixinConfig.dashboards.api.title);
    expect(grafana.dashboards.get('bpe-logs')!.folderUid).toBe(mixinConfig.grafana.folderUid);
    expect(grafana.dashboards.size).toBe(all.length);
  });

  it('stand-in: --dry-run reports what would change and changes nothing', async () => {
    const result = await publish(options({ dryRun: true }));
    expect(result.folder).toBe('created');
    expect(result.dashboards.every((d) => d.outcome === 'created')).toBe(true);
    expect(grafana.requests.filter((r) => r.method === 'POST')).toEqual([]);
    expect(grafana.folders.size).toBe(0);
  });

  it('stand-in: retries transient failures (503, connection reset) and then succeeds', async () => {
    grafana.failNext(2, 'status-503');
    const lines: string[] = [];
    await publish(options({ log: (l) => lines.push(l) }));
    expect(lines.filter((l) => l.startsWith('retrying'))).toHaveLength(2);
    grafana.failNext(1, 'reset');
    grafana.editInUi('bpe-host', { description: 'changed' });
    const result = await publish(options());
    expect(result.dashboards.find((d) => d.uid === 'bpe-host')?.outcome).toBe('updated');
  });

  it('stand-in: 401 (bad token) and 403 (read-only token) stop with their own exit codes and say why', async () => {
    const unauthorized = await failure(publish(options({ token: 'wrong' })));
    expect(unauthorized).toBeInstanceOf(PublishError);
    expect(unauthorized.exitCode).toBe(EXIT.unauthorized);
    expect(unauthorized.message).toMatch(/401 Unauthorized.*GRAFANA_TOKEN/);
    const forbidden = await failure(publish(options({ token: READ_ONLY })));
    expect(forbidden.exitCode).toBe(EXIT.forbidden);
    expect(forbidden.message).toMatch(/403 Forbidden.*Editor/);
  });

  it('stand-in: 412 (another dashboard of the folder has the title) stops with the conflict exit code', async () => {
    await publish(options());
    // Someone made a different dashboard with the overview's title in the folder.
    const stranger = { ...all[0]!, uid: 'made-by-hand' };
    grafana.dashboards.set('made-by-hand', { dashboard: { ...stranger, id: 99, version: 1 }, folderUid: mixinConfig.grafana.folderUid });
    grafana.dashboards.delete(all[0]!.uid);
    const conflict = await failure(publish(options()));
    expect(conflict.exitCode).toBe(EXIT.conflict);
    expect(conflict.message).toMatch(/412 name-exists/);
  });

  it('stand-in: an unreachable Grafana fails after the retries with its own exit code', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const unreachable = await failure(publish(options({ url: closed, attempts: 2 })));
    expect(unreachable.exitCode).toBe(EXIT.unreachable);
    expect(unreachable.message).toContain(`unreachable at ${closed}`);
  });

  it('stand-in: the npm script reports per dashboard and exits 0; a bad token exits 3 with the reason', async () => {
    const cli = (env: Record<string, string>, args: string[] = []) =>
      exec(process.execPath, ['--import', 'tsx', 'dashboards/publish.ts', ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env } }).then(
        (r) => ({ code: 0, out: r.stdout + r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
      );
    const dry = await cli({ GRAFANA_URL: grafana.url, GRAFANA_TOKEN: TOKEN }, ['--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.out).toContain(`dry run: ${all.length} created, 0 updated, 0 unchanged`);
    const real = await cli({ GRAFANA_URL: grafana.url, GRAFANA_TOKEN: TOKEN });
    expect(real.code).toBe(0);
    expect(real.out).toMatch(/created\s+bpe-overview \(BPE \/ Pipeline overview\)/);
    const bad = await cli({ GRAFANA_URL: grafana.url, GRAFANA_TOKEN: 'nope' });
    expect(bad.code).toBe(EXIT.unauthorized);
    expect(bad.out).toContain('401 Unauthorized');
    const missing = await cli({ GRAFANA_URL: grafana.url, GRAFANA_TOKEN: '' });
    expect(missing.code).toBe(EXIT.usage);
    expect(missing.out).toContain('GRAFANA_TOKEN is not set');
  });
});
