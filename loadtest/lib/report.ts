// Report directories of the load tests: loadtest/reports/<timestamp>-<kind>/
// with the figures as JSON, a Markdown summary and SVG charts.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../../base/paths.ts';

export const REPORTS_ROOT = join(REPO_ROOT, 'loadtest', 'reports');

/** "2026-11-29T05-47-52Z": sortable, and valid in file names everywhere. */
export function timestamp(date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '-');
}

/** Creates <root>/<timestamp>-<kind>/ and returns its path. */
export async function createReportDir(kind: string, root = REPORTS_ROOT, date = new Date()): Promise<string> {
  const dir = join(root, `${timestamp(date)}-${kind}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Writes each file (objects as pretty JSON) into dir; returns the names written. */
export async function writeReportFiles(dir: string, files: Record<string, string | object>): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    await writeFile(join(dir, name), typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`);
  }
  return Object.keys(files);
}

/** A Markdown table; cells are printed as given (null as "–"). */
export function markdownTable(header: readonly string[], rows: readonly (readonly (string | number | null | undefined)[])[]): string {
  const cell = (v: string | number | null | undefined) => (v === null || v === undefined ? '–' : String(v).replace(/\|/g, '\\|'));
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}
