// The runbooks as a small static site, for Caddy to serve at
// https://grafana.<domain>/runbooks/ behind Grafana's login (deploy/config/caddy/Caddyfile),
// so the link in a notification works even when the code host does not.
//
// Every runbooks/*.md becomes <name>.html (README.md, the index, becomes index.html),
// rendered by marked (CommonMark + GFM tables), in one page template with one
// stylesheet. Links are rewritten so that every one of them works on the served site:
// - another runbook (`x.md`, `x.md#section`, `README.md`) -> `x.html`, `x.html#section`, `./`;
// - any other file of the repository (`../deploy/README.md`) -> plain text naming the
//   path: the site serves only the runbooks, and the repository path is what to look up;
// - absolute URLs and in-page anchors are kept.
// Headings get GitHub's ids, so `x.md#section` means the same here and on a code host.
//
// Everything is a pure function of the Markdown (no dates, no absolute paths), so the
// committed runbooks/dist is compared with a fresh rendering by test/runbooks-site.test.ts.

import { readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { Marked, type Token, type Tokens } from 'marked';
import { runbookPage } from '../mixin/links.ts';
import { REPO_ROOT } from '../base/paths.ts';

export const RUNBOOKS_DIR = 'runbooks';
export const SITE_DIR = 'runbooks/dist';
export const STYLESHEET = 'style.css';

const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The text of inline tokens without markup (for titles and heading ids). */
function plainText(tokens: readonly Token[]): string {
  return tokens
    .map((token) => {
      if ('tokens' in token && Array.isArray(token.tokens) && token.type !== 'codespan') return plainText(token.tokens);
      if (token.type === 'html') return '';
      return 'text' in token && typeof token.text === 'string' ? token.text : '';
    })
    .join('');
}

/** GitHub's heading id: lower case, punctuation dropped, spaces to hyphens (github-slugger). */
export function headingId(text: string): string {
  return text.toLowerCase().trim().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
}

/** Where a link of runbooks/<from> points on the served site, or the repository path it names. */
export function rewriteLink(href: string, runbooks: ReadonlySet<string>): { href: string } | { repoPath: string } {
  if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith('#') || href.startsWith('//')) return { href };
  const [path = '', fragment] = href.split('#', 2);
  const target = posix.normalize(posix.join(RUNBOOKS_DIR, path));
  const suffix = fragment === undefined ? '' : `#${fragment}`;
  if (posix.dirname(target) === RUNBOOKS_DIR && runbooks.has(posix.basename(target))) {
    const page = runbookPage(posix.basename(target));
    return { href: (page === 'index.html' ? './' : page) + suffix };
  }
  return { repoPath: target + suffix };
}

export interface RunbookPage {
  /** runbooks/<source>.md */
  source: string;
  /** <name>.html in the site */
  page: string;
  title: string;
  html: string;
}

/** One Markdown file to its page: the HTML body (links rewritten, headings with ids) and the title (its first heading). */
export function renderRunbook(source: string, markdown: string, runbooks: ReadonlySet<string>): RunbookPage {
  const ids = new Map<string, number>();
  let title = source;
  const marked = new Marked({
    gfm: true,
    renderer: {
      heading({ tokens, depth }: Tokens.Heading) {
        const text = plainText(tokens);
        if (depth === 1 && title === source) title = text.trim();
        const base = headingId(text);
        const seen = ids.get(base) ?? 0;
        ids.set(base, seen + 1);
        const id = seen === 0 ? base : `${base}-${seen}`;
        return `<h${depth} id="${escapeHtml(id)}">${this.parser.parseInline(tokens)}</h${depth}>\n`;
      },
      link({ href, title: linkTitle, tokens }: Tokens.Link) {
        const inner = this.parser.parseInline(tokens);
        const target = rewriteLink(href, runbooks);
        if ('repoPath' in target) {
          const label = plainText(tokens).trim();
          const path = `<code class="repo-path">${escapeHtml(target.repoPath)}</code>`;
          const note = 'a file of the repository, not served here';
          return label === target.repoPath || label === target.repoPath.split('#')[0]
            ? `<span class="repo-file" title="${note}">${path}</span>`
            : `<span class="repo-file" title="${note}">${inner} (${path})</span>`;
        }
        const titleAttribute = linkTitle ? ` title="${escapeHtml(linkTitle)}"` : '';
        return `<a href="${escapeHtml(target.href)}"${titleAttribute}>${inner}</a>`;
      },
    },
  });
  const html = marked.parse(markdown, { async: false });
  return { source, page: runbookPage(source), title, html };
}

function layout(page: RunbookPage): string {
  const isIndex = page.page === 'index.html';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(page.title)}${isIndex ? '' : ' · Runbooks'}</title>
<link rel="stylesheet" href="${STYLESHEET}">
</head>
<body>
<header><nav>${isIndex ? '<strong>Runbooks</strong>' : '<a href="./">Runbooks</a>'} · Bluesky Post Explorer</nav></header>
<main>
${page.html}</main>
<footer>Rendered from <code>${escapeHtml(`${RUNBOOKS_DIR}/${page.source}`)}</code> by <code>npm run runbooks:build</code>.</footer>
</body>
</html>
`;
}

/** A small readable stylesheet: one column, system fonts, code and tables legible, dark mode. */
export const STYLE = `:root { color-scheme: light dark; --fg: #1f2328; --bg: #ffffff; --muted: #59636e; --border: #d1d9e0; --code-bg: #f6f8fa; --link: #0969da; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9198a1; --border: #3d444d; --code-bg: #151b23; --link: #4493f8; }
}
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 56rem; padding: 1rem 1.5rem 3rem; font: 16px/1.6 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header, footer { color: var(--muted); font-size: 0.875rem; }
header { border-bottom: 1px solid var(--border); padding-bottom: 0.5rem; }
footer { border-top: 1px solid var(--border); margin-top: 3rem; padding-top: 0.5rem; }
a { color: var(--link); }
h1, h2, h3 { line-height: 1.25; margin: 1.6em 0 0.6em; }
h1 { font-size: 1.8rem; }
h2 { font-size: 1.4rem; border-bottom: 1px solid var(--border); padding-bottom: 0.2em; }
code, pre { font: 0.875rem/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
code { background: var(--code-bg); padding: 0.1em 0.3em; border-radius: 4px; }
pre { background: var(--code-bg); padding: 0.8rem 1rem; border-radius: 6px; overflow-x: auto; }
pre code { padding: 0; background: none; }
table { border-collapse: collapse; display: block; overflow-x: auto; margin: 1rem 0; }
th, td { border: 1px solid var(--border); padding: 0.35rem 0.7rem; text-align: left; vertical-align: top; }
th { background: var(--code-bg); }
li + li { margin-top: 0.25rem; }
.repo-file { color: var(--muted); }
`;

/** The Markdown files of runbooks/ (names), sorted. */
export function runbookSources(root: string = REPO_ROOT): string[] {
  return readdirSync(join(root, RUNBOOKS_DIR)).filter((name) => name.endsWith('.md')).sort();
}

/** Everything `npm run runbooks:build` writes, as path (relative to the repository root) -> content. */
export function renderRunbookSite(root: string = REPO_ROOT): Map<string, string> {
  const sources = runbookSources(root);
  const known = new Set(sources);
  const files = new Map<string, string>();
  for (const source of sources) {
    const page = renderRunbook(source, readFileSync(join(root, RUNBOOKS_DIR, source), 'utf8'), known);
    files.set(`${SITE_DIR}/${page.page}`, layout(page));
  }
  files.set(`${SITE_DIR}/${STYLESHEET}`, STYLE);
  return files;
}
