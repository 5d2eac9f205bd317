// `npm run alerts:build`: renders the rule files (alerts/dist/*.yml), the
// production Prometheus configuration and the Alertmanager configuration.
// Files of alerts/dist that are no longer generated are removed.

import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '../base/paths.ts';
import { RULES_DIR, renderAlertFiles } from './render.ts';

const files = renderAlertFiles();
await mkdir(join(REPO_ROOT, RULES_DIR), { recursive: true });
for (const existing of await readdir(join(REPO_ROOT, RULES_DIR))) {
  if (existing.endsWith('.yml') && !files.has(`${RULES_DIR}/${existing}`)) await rm(join(REPO_ROOT, RULES_DIR, existing));
}
for (const [path, content] of files) {
  await mkdir(dirname(join(REPO_ROOT, path)), { recursive: true });
  await writeFile(join(REPO_ROOT, path), content);
  console.log(`wrote ${path}`);
}
