// `npm run dashboards:publish [-- --dry-run]`: pushes dashboards/dist/*.json
// (what `npm run dashboards:build` wrote, the same files Grafana's provisioning
// loads) to a Grafana through its HTTP API: GRAFANA_URL, GRAFANA_TOKEN (a
// service account token with the Editor role). Reports created / updated /
// unchanged per dashboard.
//
// Exit codes: 0 done; 1 other failure; 2 usage (missing variable); 3 401 (token);
// 4 403 (permission); 5 412 (conflict); 6 Grafana unreachable.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../base/paths.ts';
import { mixinConfig } from '../mixin/config.ts';
import { EXIT, PublishError, publish, type DashboardJson } from './grafana-client.ts';

const USAGE = `usage: GRAFANA_URL=https://grafana.example.org GRAFANA_TOKEN=glsa_... npm run dashboards:publish [-- --dry-run]
  --dry-run   read Grafana and report what would change, change nothing`;

const { values } = parseArgs({ options: { 'dry-run': { type: 'boolean', default: false }, help: { type: 'boolean', default: false } } });
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const url = process.env.GRAFANA_URL;
const token = process.env.GRAFANA_TOKEN;
for (const [name, value] of [['GRAFANA_URL', url], ['GRAFANA_TOKEN', token]] as const) {
  if (!value) {
    console.error(`${name} is not set\n${USAGE}`);
    process.exit(EXIT.usage);
  }
}

const dist = join(REPO_ROOT, 'dashboards', 'dist');
const files = (await readdir(dist)).filter((f) => f.endsWith('.json')).sort();
const dashboards = await Promise.all(files.map(async (f) => JSON.parse(await readFile(join(dist, f), 'utf8')) as DashboardJson));

try {
  const result = await publish({
    url: url!,
    token: token!,
    folderUid: mixinConfig.grafana.folderUid,
    folderTitle: mixinConfig.grafana.folderTitle,
    dashboards,
    dryRun: values['dry-run'],
    log: (line) => console.log(line),
  });
  const count = (o: string) => result.dashboards.filter((d) => d.outcome === o).length;
  console.log(`${values['dry-run'] ? 'dry run: ' : ''}${count('created')} created, ${count('updated')} updated, ${count('unchanged')} unchanged`);
} catch (error) {
  if (error instanceof PublishError) {
    console.error(`dashboards:publish failed: ${error.message}`);
    process.exit(error.exitCode);
  }
  throw error;
}
