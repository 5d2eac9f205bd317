// The documentation cannot drift from the repository: in every Markdown file git
// tracks, every relative link (and its #anchor) resolves, every npm script named
// exists, every repository path named exists, and every environment variable named
// is one the code reads or sets. Generated references are up to date. Each failure
// names the file, the line and the reference.
//
// What counts:
// - Links: Markdown links and reference definitions in prose (not in code); a
//   target with a scheme (https:, mailto:) is not checked. `#anchor` is GitHub's
//   slug of a heading of the target file.
// - npm scripts: `npm run <name>`, `npm start` and `npm test` anywhere, code included.
// - Repository paths: in inline code and fenced blocks, a path beginning with a
//   top-level directory of the repository (TOP_DIRS) that is not part of a longer
//   path: `/opt/bpe/releases/x/deploy/compose.yaml` is a path on the deployed host,
//   not in the repository. Paths with a placeholder or glob (`<ts>`, `*`, `{a,b}`,
//   `…`, `$VAR`) are skipped. A path exists when git tracks it (or it is new and not
//   ignored), or it is a directory of such files. One exception: the image runs the
//   services compiled to JavaScript (deploy/Dockerfile), so `services/x.js` or
//   `telemetry/x.js` in a command run inside it exists when `x.ts` does.
// - Environment variables: UPPER_SNAKE names (at least one underscore) in inline
//   code, `$NAME` and `NAME=value` included, but not after `@` or `/` (`deploy@NEW_HOST`
//   is a placeholder of a command, not a variable), nor in fenced blocks, whose
//   commands use placeholders (YOUR_IP) and shell variables of their own; each must be a key of a configuration
//   schema or appear in the code (.ts, .js, .sh, .yaml and the other non-Markdown
//   files git tracks), or be in EXTERNAL_VARIABLES. `PREFIX_*` needs one that starts
//   with PREFIX_.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../base/paths.ts';
import { ingesterSchema } from '../services/ingester/config.ts';
import { writerSchema } from '../services/writer/config.ts';
import { apiSchema } from '../services/api/config.ts';
import { telemetrySchema } from '../telemetry/start.ts';
import { provisionEnvSchema } from '../deploy/provision/config.ts';
import { renderConfigReference } from '../tools/config-reference.ts';
import { codeSpans, parseMarkdown, withoutCodeSpans, type Markdown } from './helpers/markdown.ts';

const TOP_DIRS = ['services', 'telemetry', 'dashboards', 'alerts', 'deploy', 'loadtest', 'runbooks', 'test', 'scripts'];

/**
 * Variables the docs may name that belong to other programs, not to this code.
 * Keep it small: a variable of ours belongs in a schema or in the code.
 */
const EXTERNAL_VARIABLES = new Set([
  // restic's own, set by deploy/backup/bpe-backup.service for restic to read:
  'RESTIC_PASSWORD_FILE', // the file holding the repository password
  'RESTIC_REPOSITORY', // where the repository is
]);

const git = (...args: string[]) => execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);
/** Files of the working tree git knows or would add: tracked, or new and not ignored. */
const repoFiles = git('ls-files', '--cached', '--others', '--exclude-standard').filter((f) => existsSync(join(REPO_ROOT, f)));
const repoPaths = new Set(repoFiles.flatMap((f) => f.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'))));

const docFiles = repoFiles.filter((f) => f.endsWith('.md') && !f.startsWith('node_modules/') && !f.startsWith('loadtest/reports/'));
const docs = new Map<string, Markdown>(docFiles.map((f) => [f, parseMarkdown(readFileSync(join(REPO_ROOT, f), 'utf8'))]));

/** Every prose line of every document, without its code spans. */
const proseLines = [...docs].flatMap(([file, md]) => md.lines.filter((l) => l.fence === undefined).map((l) => ({ file, n: l.n, text: l.text })));
/** Every inline code span of the prose, and every line of every fenced block. */
const codeTexts = [...docs].flatMap(([file, md]) =>
  md.lines.flatMap((l) => (l.fence === undefined ? codeSpans(l.text).map((text) => ({ file, n: l.n, text })) : [{ file, n: l.n, text: l.text }])),
);

function anchorsOf(file: string): Set<string> | undefined {
  const md = docs.get(file);
  if (!md) return undefined;
  const explicit = md.lines.flatMap((l) => [...l.text.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)].map((m) => m[1]!));
  return new Set([...md.headings.map((h) => h.slug), ...explicit]);
}

describe('documentation (every tracked Markdown file)', () => {
  it('finds the documents', () => {
    expect(docFiles).toContain('README.md');
    expect(docFiles).toContain('services/api/README.md');
    expect(docFiles.some((f) => f.startsWith('runbooks/'))).toBe(true);
  });

  it('every relative link resolves to a file of the repository, and every #anchor to a heading', () => {
    const bad: string[] = [];
    for (const { file, n, text } of proseLines) {
      const line = withoutCodeSpans(text);
      const targets = [...line.matchAll(/\]\(\s*<?([^)\s>]+)>?/g), ...line.matchAll(/^\s*\[[^\]]+\]:\s*<?([^\s>]+)>?/g)].map((m) => m[1]!);
      for (const target of targets) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
        const [rawPath, anchor] = target.split('#', 2) as [string, string | undefined];
        const path = decodeURIComponent(rawPath);
        const resolved = path === '' ? file : normalize(join(dirname(file), path)).replace(/\/$/, '');
        if (path.startsWith('/') || resolved.startsWith('..') || !repoPaths.has(resolved)) {
          bad.push(`${file}:${n}: link ${target}: no such file in the repository`);
          continue;
        }
        if (anchor === undefined) continue;
        const anchors = anchorsOf(resolved);
        if (!anchors) bad.push(`${file}:${n}: link ${target}: #${anchor} into a file that is not Markdown`);
        else if (!anchors.has(decodeURIComponent(anchor))) bad.push(`${file}:${n}: link ${target}: no heading #${anchor} in ${resolved}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('every npm script named exists in package.json', () => {
    const scripts = Object.keys((JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts);
    const bad: string[] = [];
    for (const [file, md] of docs) {
      for (const { n, text } of md.lines) {
        for (const m of text.matchAll(/\bnpm (?:run(?:-script)? ([\w:.-]*\w)|(start|test)\b)/g)) {
          const script = m[1] ?? m[2]!;
          if (!scripts.includes(script)) bad.push(`${file}:${n}: ${m[0]}: no such script in package.json`);
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it('every repository path named exists', () => {
    const path = new RegExp(`(?<![\\w./~$@-])((?:${TOP_DIRS.join('|')})/[\\w./@-]*)([<*{…$]|\\.\\.\\.)?`, 'g');
    const bad: string[] = [];
    for (const { file, n, text } of codeTexts) {
      for (const m of text.matchAll(path)) {
        if (m[2] !== undefined) continue; // a placeholder or a glob follows
        const named = m[1]!.replace(/[.]+$/, '').replace(/\/$/, '');
        // What deploy/tsconfig.build.json compiles into the image, named as the image runs it.
        const compiled = /^(services|telemetry|deploy\/backup)\/.*\.js$/.test(named) && repoPaths.has(named.replace(/\.js$/, '.ts'));
        if (!repoPaths.has(named) && !compiled) bad.push(`${file}:${n}: ${m[1]}: no such file or directory in the repository`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('every environment variable named is read or set by the code, or is a known external one', () => {
    const schemaKeys = [ingesterSchema, writerSchema, apiSchema, telemetrySchema, provisionEnvSchema].flatMap((s) => Object.keys(s.shape));
    const codeFiles = repoFiles.filter(
      (f) => !f.endsWith('.md') && f !== relative(REPO_ROOT, fileURLToPath(import.meta.url)) && !f.startsWith('node_modules/') && !f.endsWith('package-lock.json'),
    );
    const code = codeFiles.map((f) => readFileSync(join(REPO_ROOT, f), 'utf8')).join('\n');
    const inCode = new Set(code.match(/\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b/g));
    const known = (name: string) => schemaKeys.includes(name) || inCode.has(name) || EXTERNAL_VARIABLES.has(name);
    const bad: string[] = [];
    for (const [file, md] of docs) {
      for (const { n, text } of md.lines.filter((l) => l.fence === undefined)) {
        for (const span of codeSpans(text)) {
          for (const m of span.matchAll(/(?<![\w.@/-])\$?\{?([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z][A-Z0-9]*(?=_\*))(_?\*)?(?![\w-])/g)) {
            const name = m[1]!;
            const ok = m[2] ? [...inCode, ...schemaKeys].some((k) => k.startsWith(`${name}_`)) : known(name);
            if (!ok) bad.push(`${file}:${n}: ${name}${m[2] ?? ''}: no such variable in the configuration schemas or the code`);
          }
        }
      }
    }
    expect(bad).toEqual([]);
  });
});

describe('generated references', () => {
  it('services/CONFIGURATION.md is rendered from the configuration schemas (npm run docs:config)', () => {
    expect(readFileSync(join(REPO_ROOT, 'services/CONFIGURATION.md'), 'utf8'), 'services/CONFIGURATION.md is stale: run `npm run docs:config`').toBe(renderConfigReference());
  });
});
