// A small reader of the Markdown the repository writes, enough for tests to check
// what documents name: which lines are prose and which are inside fenced code
// blocks, the inline code spans of prose, the fenced blocks with their language,
// and the headings with the anchors GitHub gives them.

export interface MarkdownLine {
  /** 1-based line number. */
  n: number;
  text: string;
  /** The language of the fenced block the line is in ('' for a bare fence); undefined in prose. Fence lines themselves count as in the block. */
  fence: string | undefined;
}

export interface FencedBlock {
  language: string;
  /** The rest of the info string after the language (GitHub does not show it). */
  info: string;
  /** Line numbers of the opening and the closing fence. */
  line: number;
  end: number;
  body: string;
}

export interface Heading {
  line: number;
  level: number;
  text: string;
  /** The anchor GitHub links to (`#slug`), made unique within the file as GitHub does (`slug-1`, `slug-2`, …). */
  slug: string;
}

export interface Markdown {
  lines: MarkdownLine[];
  blocks: FencedBlock[];
  headings: Heading[];
}

const FENCE = /^\s*(`{3,}|~{3,})\s*([\w+-]*)(.*)$/;

/** GitHub's heading anchor: the heading's text (markup removed) lowercased, punctuation dropped, each space a hyphen. */
export function githubSlug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

export function parseMarkdown(text: string): Markdown {
  const lines: MarkdownLine[] = [];
  const blocks: FencedBlock[] = [];
  const headings: Heading[] = [];
  const slugs = new Map<string, number>();
  let open: { marker: string; block: FencedBlock; body: string[] } | undefined;
  text.split('\n').forEach((line, i) => {
    const n = i + 1;
    const fence = FENCE.exec(line);
    if (open) {
      lines.push({ n, text: line, fence: open.block.language });
      if (fence && fence[1]!.startsWith(open.marker[0]!) && fence[1]!.length >= open.marker.length && fence[2] === '' && fence[3]!.trim() === '') {
        blocks.push({ ...open.block, end: n, body: open.body.join('\n') });
        open = undefined;
      } else {
        open.body.push(line);
      }
      return;
    }
    if (fence) {
      open = { marker: fence[1]!, block: { language: fence[2]!, info: fence[3]!.trim(), line: n, end: n, body: '' }, body: [] };
      lines.push({ n, text: line, fence: fence[2]! });
      return;
    }
    lines.push({ n, text: line, fence: undefined });
    const heading = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      const base = githubSlug(heading[2]!);
      const seen = slugs.get(base) ?? 0;
      slugs.set(base, seen + 1);
      headings.push({ line: n, level: heading[1]!.length, text: heading[2]!, slug: seen === 0 ? base : `${base}-${seen}` });
    }
  });
  return { lines, blocks, headings };
}

/** The inline code spans of a prose line (`…`), without their backticks. */
export function codeSpans(line: string): string[] {
  return [...line.matchAll(/(`+)(.+?)\1(?!`)/g)].map((m) => m[2]!.trim());
}

/** A prose line with its inline code spans blanked, so that what is quoted as code is not read as a link. */
export function withoutCodeSpans(line: string): string {
  return line.replace(/(`+)(.+?)\1(?!`)/g, (span) => ' '.repeat(span.length));
}
