// The runbooks (runbooks/): one per alert, each with Meaning, Impact, Diagnosis,
// Mitigation and Escalation; the PromQL and LogQL they give parse and select
// metrics that exist; every `npm run` script and repository file they name
// exists; the index lists every alert's runbook and links every runbook, has the
// procedures and the troubleshooting guide; incident response defines the
// severities the alerts use; the PromQL of the index and incident response is valid.

import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allAlerts, alertNames } from '../alerts/index.ts';
import { runbookFile } from '../mixin/links.ts';
import { knownMetric, logqlError, promqlError, selectedMetrics } from '../mixin/query-check.ts';
import { REPO_ROOT } from '../base/paths.ts';
import { mixinConfig } from '../mixin/config.ts';

const SECTIONS = ['Meaning', 'Impact', 'Diagnosis', 'Mitigation', 'Escalation'];
const TOP_DIRS = ['alerts', 'dashboards', 'deploy', 'loadtest', 'runbooks', 'scripts', 'services', 'telemetry', 'test'];

const runbooks = alertNames().map((alert) => ({ alert, file: runbookFile(mixinConfig, alert) }));
const read = (file: string) => readFile(join(REPO_ROOT, 'runbooks', file), 'utf8');

function fenced(text: string, language: string): string[] {
  return [...text.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
}

describe('runbooks (runbooks/)', () => {
  it('every alert has a runbook', () => {
    for (const { alert, file } of runbooks) expect(existsSync(join(REPO_ROOT, 'runbooks', file)), `${alert}: runbooks/${file}`).toBe(true);
  });

  it('every runbook has the five sections, in order, each with content', async () => {
    for (const { file } of runbooks) {
      const text = await read(file);
      const headings = [...text.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
      expect(headings, file).toEqual(SECTIONS);
      for (const section of SECTIONS) {
        const body = text.split(`## ${section}\n`)[1]!.split(/^## /m)[0]!;
        expect(body.trim().length, `${file}: ${section}`).toBeGreaterThan(40);
      }
    }
  });

  it('Diagnosis gives PromQL and shell commands; the PromQL parses and selects metrics that exist; the LogQL parses', async () => {
    for (const { file } of runbooks) {
      const text = await read(file);
      const diagnosis = text.split('## Diagnosis\n')[1]!.split('## Mitigation')[0]!;
      const promql = fenced(diagnosis, 'promql').flatMap((block) => block.split('\n').filter((l) => l.trim()));
      expect(promql.length, `${file}: PromQL`).toBeGreaterThan(0);
      expect(fenced(diagnosis, 'sh').length, `${file}: shell`).toBeGreaterThan(0);
      for (const query of promql) {
        expect(promqlError(query), `${file}: ${query}`).toBeUndefined();
        for (const metric of selectedMetrics(query)) expect(knownMetric(metric), `${file}: ${metric}`).toBe(true);
      }
      for (const query of fenced(diagnosis, 'logql').flatMap((block) => block.split('\n').filter((l) => l.trim()))) {
        expect(logqlError(query), `${file}: ${query}`).toBeUndefined();
      }
    }
  });

  it('every `npm run` script, repository path and relative link a runbook names exists', async () => {
    const scripts = (JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    const files = [...runbooks.map((r) => r.file), 'README.md', 'incident-response.md'];
    for (const file of files) {
      const text = await read(file);
      for (const [, script] of text.matchAll(/npm run ([\w:-]+)/g)) expect(Object.keys(scripts), `${file}: npm run ${script}`).toContain(script);
      // Repository paths: a top-level directory of the repo followed by a path, not part of a host path (/opt/.../deploy/...).
      const pathPattern = new RegExp(`(?<![\\w./-])((?:${TOP_DIRS.join('|')})/[\\w./-]*[\\w/])`, 'g');
      for (const [, path] of text.matchAll(pathPattern)) expect(existsSync(join(REPO_ROOT, path!)), `${file}: ${path}`).toBe(true);
      // Markdown links to other files of the repository.
      for (const [, target] of text.matchAll(/\]\((?!https?:|#)([^)#\s]+)/g)) {
        expect(existsSync(normalize(join(REPO_ROOT, 'runbooks', dirname(file), target!))), `${file}: link ${target}`).toBe(true);
      }
    }
  });

  it('the index (runbooks/README.md) lists every alert with its runbook, and links every runbook', async () => {
    const index = await read('README.md');
    for (const { alert, file } of runbooks) {
      expect(index, alert).toContain(`\`${alert}\``);
      expect(index, file).toContain(`(${file})`);
    }
    const all = (await readdir(join(REPO_ROOT, 'runbooks'))).filter((name) => name.endsWith('.md') && name !== 'README.md');
    for (const file of all) expect(index, `runbooks/README.md links ${file}`).toMatch(new RegExp(`\\]\\(${file.replace('.', '\\.')}(#[\\w-]+)?\\)`));
  });

  it('the index has the procedures and the troubleshooting guide by symptom', async () => {
    const index = await read('README.md');
    const headings = [...index.matchAll(/^#{2,3} (.+)$/gm)].map((m) => m[1]);
    expect(headings).toEqual(expect.arrayContaining(['Alerts', 'Procedures', 'Troubleshooting by symptom', 'No new posts in the explorer', 'Search is slow', 'Disk almost full', 'Alerts not arriving']));
    for (const procedure of ['deploy.md', 'rollback.md', 'backup-restore.md', 'disaster-recovery.md', 'security.md#key-rotation', 'capacity.md', 'incident-response.md']) {
      expect(index.split('## Procedures')[1]!.split('## ')[0], procedure).toContain(`](${procedure})`);
    }
  });

  it('incident response defines exactly the severities the alerts use', async () => {
    const text = await read('incident-response.md');
    const used = new Set(allAlerts().map((a) => a.labels.severity));
    const defined = [...text.split('## Severity levels')[1]!.split(/^## /m)[0]!.matchAll(/^\| \*\*(\w+)\*\* \|/gm)].map((m) => m[1]);
    expect(defined.sort()).toEqual([...used].sort());
    for (const section of ['Who is paged', 'Roles', 'Communication', 'After: the post-incident review']) expect(text).toContain(`## ${section}\n`);
  });

  it('the PromQL of the index and of incident response parses and selects metrics that exist', async () => {
    // Beside the catalog's and the exporters': Prometheus' and Alertmanager's own, which they export and Prometheus scrapes (jobs prometheus, alertmanager).
    const selfMonitoring = (metric: string) => /^(prometheus|alertmanager)_/.test(metric);
    for (const file of ['README.md', 'incident-response.md']) {
      const queries = fenced(await read(file), 'promql').flatMap((block) => block.split('\n').filter((l) => l.trim()));
      expect(queries.length, file).toBeGreaterThan(0);
      for (const query of queries.map((q) => q.trim())) {
        expect(promqlError(query), `${file}: ${query}`).toBeUndefined();
        for (const metric of selectedMetrics(query)) expect(knownMetric(metric) || selfMonitoring(metric), `${file}: ${metric}`).toBe(true);
      }
    }
  });
});
