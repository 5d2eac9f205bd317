// `npm run dashboards:build`: writes dashboards/dist/<uid>.json and Grafana's
// provisioning files; removes dist files no dashboard produces any more.

import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '../base/paths.ts';
import { DIST_DIR, renderDashboardFiles } from './render.ts';

const files = renderDashboardFiles();
await mkdir(join(REPO_ROOT, DIST_DIR), { recursive: true });
for (const existing of await readdir(join(REPO_ROOT, DIST_DIR))) {
  if (existing.endsWith('.json') && !files.has(`${DIST_DIR}/${existing}`)) await rm(join(REPO_ROOT, DIST_DIR, existing));
}
for (const [path, content] of files) {
  await mkdir(dirname(join(REPO_ROOT, path)), { recursive: true });
  await writeFile(join(REPO_ROOT, path), content);
  console.log(`wrote ${path}`);
}
