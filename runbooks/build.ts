// `npm run runbooks:build`: renders runbooks/*.md to the static site Caddy serves
// (runbooks/dist: <name>.html, index.html from README.md, style.css; see site.ts).
// Pages whose Markdown is gone are removed.

import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../base/paths.ts';
import { SITE_DIR, renderRunbookSite } from './site.ts';

const files = renderRunbookSite();
await mkdir(join(REPO_ROOT, SITE_DIR), { recursive: true });
for (const existing of await readdir(join(REPO_ROOT, SITE_DIR))) {
  if (!files.has(`${SITE_DIR}/${existing}`)) await rm(join(REPO_ROOT, SITE_DIR, existing), { recursive: true });
}
for (const [path, content] of files) {
  await writeFile(join(REPO_ROOT, path), content);
}
console.log(`wrote ${files.size} files to ${SITE_DIR}/`);
