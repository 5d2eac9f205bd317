// The dashboards (dashboards/): the committed dashboards/dist and Grafana
// provisioning are what `npm run dashboards:build` renders; every dashboard has a
// stable UID, the environment and instance variables, links to the other
// dashboards and to the runbooks; every panel has a description, a unit,
// thresholds and a data source; every query parses (PromQL with Prometheus'
// grammar, LogQL with Grafana's) and selects only metrics that exist.

import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { DashboardLinkType } from '@grafana/grafana-foundation-sdk/dashboard';
import { knownMetric, logqlError, promqlError, selectedMetrics } from '../mixin/query-check.ts';
import { dashboards } from '../dashboards/index.ts';
import { DATASOURCES, DIST_DIR, PROVIDERS, renderDashboardFiles } from '../dashboards/render.ts';
import { REPO_ROOT } from '../base/paths.ts';
import { mixinConfig } from '../mixin/config.ts';

interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type?: string; uid?: string };
  gridPos: { x: number; y: number; w: number; h: number };
  fieldConfig?: { defaults?: { unit?: string; thresholds?: { steps?: { value: number | null; color: string }[] } } };
  targets?: { expr?: string; refId?: string; datasource?: { type?: string; uid?: string } }[];
  links?: { url?: string }[];
}

const built = dashboards();
const panels = (d: (typeof built)[number]) => (d.panels ?? []) as unknown as Panel[];

describe('dashboards (dashboards/)', () => {
  it('dashboards/dist and the Grafana provisioning files are what `npm run dashboards:build` renders', async () => {
    const files = renderDashboardFiles();
    for (const [path, content] of files) {
      expect(await readFile(join(REPO_ROOT, path), 'utf8').catch(() => '(missing)'), `${path} is stale: run npm run dashboards:build`).toBe(content);
    }
    // No stray dashboard in dist.
    const dist = (await readdir(join(REPO_ROOT, DIST_DIR))).filter((f) => f.endsWith('.json')).map((f) => `${DIST_DIR}/${f}`);
    expect(dist.sort()).toEqual([...files.keys()].filter((p) => p.startsWith(DIST_DIR)).sort());
  });

  it('has the eight dashboards with their stable UIDs, one file each', () => {
    expect(built.map((d) => d.uid)).toEqual(Object.values(mixinConfig.dashboards).map((r) => r.uid));
    expect(built.map((d) => d.title)).toEqual(Object.values(mixinConfig.dashboards).map((r) => r.title));
    for (const key of Object.keys(mixinConfig.dashboards)) {
      const file = key === 'overview' ? 'overview' : key;
      expect(existsSync(join(REPO_ROOT, 'dashboards', `${file}.ts`)), `dashboards/${file}.ts`).toBe(true);
    }
  });

  it('every dashboard has environment and instance variables and links to the others and to the runbooks', () => {
    for (const d of built) {
      const names = (d.templating?.list ?? []).map((v) => v.name);
      expect(names, d.uid).toEqual(expect.arrayContaining(['env', 'instance']));
      const links = d.links ?? [];
      expect(links.some((l) => l.type === DashboardLinkType.Dashboards && l.tags?.includes('bluesky-post-explorer')), `${d.uid} links the other dashboards`).toBe(true);
      expect(d.tags, d.uid).toContain('bluesky-post-explorer');
      expect(links.some((l) => l.url === mixinConfig.urls.runbookPath), `${d.uid} links the runbooks`).toBe(true);
    }
  });

  it('every panel has a description, a unit, thresholds, a data source, and sits on the 24-column grid', () => {
    for (const d of built) {
      const ids = new Set<number>();
      for (const panel of panels(d)) {
        expect(ids.has(panel.id), `${d.uid}: panel ids are unique`).toBe(false);
        ids.add(panel.id);
        expect(panel.gridPos.x + panel.gridPos.w, `${d.uid}/${panel.title}`).toBeLessThanOrEqual(24);
        if (panel.type === 'row') continue;
        const where = `${d.uid} / ${panel.title}`;
        expect(panel.description?.length ?? 0, `${where}: description`).toBeGreaterThan(15);
        expect(panel.fieldConfig?.defaults?.unit, `${where}: unit`).toBeTruthy();
        expect(panel.fieldConfig?.defaults?.thresholds?.steps?.length ?? 0, `${where}: thresholds`).toBeGreaterThanOrEqual(1);
        expect(panel.datasource?.uid, `${where}: data source`).toMatch(/^(prometheus|loki)$/);
        expect(panel.targets?.length ?? 0, `${where}: queries`).toBeGreaterThan(0);
        for (const target of panel.targets ?? []) expect(target.refId, `${where}: refId`).toMatch(/^[A-Z]$/);
      }
    }
  });

  it('every PromQL query parses and selects only existing metrics; every LogQL query parses', () => {
    let prom = 0;
    let loki = 0;
    for (const d of built) {
      for (const panel of panels(d)) {
        for (const target of panel.targets ?? []) {
          const where = `${d.uid} / ${panel.title} / ${target.refId}: ${target.expr}`;
          if (target.datasource?.type === 'loki') {
            loki++;
            expect(logqlError(target.expr!), where).toBeUndefined();
          } else {
            prom++;
            expect(promqlError(target.expr!), where).toBeUndefined();
            for (const metric of selectedMetrics(target.expr!)) expect(knownMetric(metric), `${where} selects ${metric}`).toBe(true);
          }
        }
      }
    }
    expect(prom).toBeGreaterThan(80);
    expect(loki).toBeGreaterThanOrEqual(4);
  });

  it('runbook links of panels and dashboards point at runbooks that exist', () => {
    let checked = 0;
    for (const d of built) {
      const urls = [...(d.links ?? []).map((l) => l.url ?? ''), ...panels(d).flatMap((p) => (p.links ?? []).map((l) => l.url ?? ''))].filter((u) => u.includes('/runbooks/') && !u.endsWith('/'));
      // The served page (runbooks/dist, rendered from runbooks/<name>.md), host-relative on Grafana's host.
      for (const url of urls) {
        checked++;
        expect(url, `${d.uid}: ${url}`).toMatch(/^\/runbooks\/[a-z0-9-]+\.html$/);
        expect(existsSync(join(REPO_ROOT, 'runbooks', url.split('/').pop()!.replace(/\.html$/, '.md'))), `${d.uid}: ${url}`).toBe(true);
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('the overview shows the daily target, freshness, lag, SLOs, storage growth and compression', () => {
    const overview = built.find((d) => d.uid === mixinConfig.dashboards.overview.uid)!;
    const titles = panels(overview).map((p) => p.title);
    for (const title of ['Events per second by collection', 'Events per day', 'Data freshness', 'End-to-end lag', 'Availability (30 days)', 'Error budget remaining', 'Storage growth per day', 'Compression ratio']) {
      expect(titles).toContain(title);
    }
    const perDay = panels(overview).find((p) => p.title === 'Events per day')!;
    expect(perDay.fieldConfig?.defaults?.thresholds?.steps?.map((s) => s.value)).toContain(mixinConfig.thresholds.eventsPerDayTarget);
  });

  it('Grafana provisioning: the datasources carry the UIDs the dashboards use; the provider loads dashboards/dist into the folder', async () => {
    const datasources = parseYaml(await readFile(join(REPO_ROOT, DATASOURCES), 'utf8')) as { datasources: { uid: string; type: string; url: string }[] };
    expect(datasources.datasources.map((d) => [d.uid, d.type])).toEqual([
      [mixinConfig.grafana.prometheusDatasourceUid, 'prometheus'],
      [mixinConfig.grafana.lokiDatasourceUid, 'loki'],
    ]);
    const providers = parseYaml(await readFile(join(REPO_ROOT, PROVIDERS), 'utf8')) as { providers: { folderUid: string; options: { path: string } }[] };
    expect(providers.providers[0]).toMatchObject({ folderUid: mixinConfig.grafana.folderUid, options: { path: '/var/lib/grafana-dashboards' } });
    // deploy/compose.yaml mounts dashboards/dist there.
    expect(await readFile(join(REPO_ROOT, 'deploy', 'compose.yaml'), 'utf8')).toContain('../dashboards/dist:/var/lib/grafana-dashboards:ro');
  });
});
