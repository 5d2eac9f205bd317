// `npm run alerts:check`: the committed files are what the TypeScript renders
// (else: run `npm run alerts:build`), promtool accepts the rules and their unit
// tests pass, promtool accepts the Prometheus configuration and amtool the
// Alertmanager one. Exits 1 on any failure.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../base/paths.ts';
import { checkAlertmanagerConfig, checkPrometheusConfig, checkRules, testRules, type ToolResult } from './promtool.ts';
import { ALERTMANAGER_CONFIG, PROMETHEUS_CONFIG, RULES_DIR, renderAlertFiles } from './render.ts';

const files = renderAlertFiles();
const stale: string[] = [];
for (const [path, content] of files) {
  const onDisk = await readFile(join(REPO_ROOT, path), 'utf8').catch(() => undefined);
  if (onDisk !== content) stale.push(path);
}
if (stale.length > 0) {
  console.error(`stale generated files (run \`npm run alerts:build\`): ${stale.join(', ')}`);
  process.exit(1);
}

const ruleFiles = [...files.keys()].filter((p) => p.startsWith(`${RULES_DIR}/`)).map((p) => join(REPO_ROOT, p));
const results: ToolResult[] = [
  await checkRules(ruleFiles),
  ...(await testRules(join(REPO_ROOT, RULES_DIR))),
  await checkPrometheusConfig(join(REPO_ROOT, PROMETHEUS_CONFIG)),
  await checkAlertmanagerConfig(join(REPO_ROOT, ALERTMANAGER_CONFIG)),
];
for (const result of results) {
  console.log(`${result.ok ? 'ok  ' : 'FAIL'} ${result.command.replace(REPO_ROOT, '')}`);
  if (!result.ok) console.log(result.output.replace(/^/gm, '     '));
}
const failed = results.filter((r) => !r.ok).length;
console.log(failed === 0 ? `all ${results.length} checks passed` : `${failed} of ${results.length} checks failed`);
process.exit(failed === 0 ? 0 : 1);
