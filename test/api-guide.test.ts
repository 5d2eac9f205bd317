// The API guide (services/api/README.md) is executed. Each example in it is a ```sh
// block holding one curl command, followed by a ```http block with the response the
// guide documents: the status line, the headers it names, a blank line, the body.
// Every command runs as written, with the real curl, against a real API over Parquet
// written by the writer's code (test/helpers/api-fixture.ts, authentication on, the
// production rate limits and cache), with $BPE_API_KEY holding a key with every
// scope and http://127.0.0.1:3000 pointing at that API. The test checks the status
// line, each header named (value included) and the body: JSON and NDJSON equal to the
// documented ones, except the values the block marks as examples
// (```http example=meta.took_ms,keys.*.id), whose type alone must match, and the
// headers it marks the same way (example=content-length), which must be present; CSV
// and text equal. A command that saves its body to a file (-OJ, > file) is checked
// against that file; a Parquet file is shown as DuckDB reads it back (its columns and
// types, then its rows as JSON). Every route of the OpenAPI document has an example.
//
// `UPDATE_API_GUIDE=1 npx vitest run test/api-guide.test.ts` rewrites the response
// blocks from the real responses (keeping the header names and example marks).

import { execFile, execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadApiConfig } from '../services/api/config.ts';
import { sqlString, type DuckDBConnection } from '../services/shared/duckdb.ts';
import { REPO_ROOT } from '../base/paths.ts';
import { buildStore, startTestApi, type ApiFixture, type TestApi } from './helpers/api-fixture.ts';
import { parseMarkdown, type FencedBlock } from './helpers/markdown.ts';

const GUIDE = 'services/api/README.md';
const GUIDE_BASE = 'http://127.0.0.1:3000';
const run = promisify(execFile);

interface Documented {
  statusLine: string;
  headers: [string, string][];
  body: string;
}

interface Example {
  command: string;
  commandBlock: FencedBlock;
  responseBlock: FencedBlock;
  documented: Documented;
  /** Paths (dot-separated, `*` for any array index) whose values are examples: only their type is checked. */
  examples: string[][];
}

interface Response {
  statusLine: string;
  headers: Map<string, string>;
  body: string;
}

function parseResponseBlock(body: string): Documented {
  const [head, ...rest] = body.split(/\n\n/);
  const [statusLine, ...headerLines] = head!.split('\n');
  return {
    statusLine: statusLine!.trim(),
    headers: headerLines.filter((line) => line.trim()).map((line) => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
    }),
    body: rest.join('\n\n'),
  };
}

/** The guide's examples, and what is wrong with its shape (a curl block without a response, a response without a command). */
function readExamples(text: string): { examples: Example[]; problems: string[] } {
  const { blocks } = parseMarkdown(text);
  const examples: Example[] = [];
  const problems: string[] = [];
  blocks.forEach((block, i) => {
    const next = blocks[i + 1];
    if (block.language === 'http' && !(blocks[i - 1]?.language === 'sh' && /\bcurl\b/.test(blocks[i - 1]!.body))) {
      problems.push(`${GUIDE}:${block.line}: a response block without a curl command before it`);
    }
    if (block.language !== 'sh' || !/\bcurl\b/.test(block.body)) return;
    const commands = block.body.replace(/\\\n/g, ' ').split('\n').filter((l) => /\bcurl\b/.test(l));
    if (commands.length !== 1) problems.push(`${GUIDE}:${block.line}: ${commands.length} curl commands in one block; an example has one`);
    else if (next?.language !== 'http') problems.push(`${GUIDE}:${block.line}: ${commands[0]!.trim()}: no \`\`\`http response block after it`);
    else {
      const marks = /(?:^|\s)example=(\S+)/.exec(next.info)?.[1];
      examples.push({
        command: block.body.trim(),
        commandBlock: block,
        responseBlock: next,
        documented: parseResponseBlock(next.body),
        examples: marks ? marks.split(',').map((m) => m.split('.')) : [],
      });
    }
  });
  return { examples, problems };
}

/** A `curl` first in PATH that runs the real one, recording the response head in $GUIDE_HEAD_FILE. */
async function curlShim(dir: string): Promise<void> {
  const realCurl = execFileSync('sh', ['-c', 'command -v curl'], { encoding: 'utf8' }).trim();
  await writeFile(join(dir, 'curl'), `#!/bin/sh\nexec ${realCurl} --silent --show-error --dump-header "$GUIDE_HEAD_FILE" "$@"\n`);
  await chmod(join(dir, 'curl'), 0o755);
}

const PARQUET = 'application/vnd.apache.parquet';

/** A Parquet file as the guide shows it: DuckDB's reading of it, its columns and types, then its rows as JSON. */
async function describeParquet(connection: DuckDBConnection, path: string): Promise<string> {
  const source = `read_parquet(${sqlString(path)})`;
  const columns = (await connection.runAndReadAll(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM ${source})`)).getRowObjectsJS();
  const rows = (await connection.runAndReadAll(`SELECT * FROM ${source}`)).getRowObjectsJS();
  const value = (v: unknown) => (v instanceof Date ? v.toISOString() : v);
  return [
    `-- read back with DuckDB: DESCRIBE, then SELECT * (${rows.length} rows)`,
    ...columns.map((c) => `${c.column_name as string} ${c.column_type as string}`),
    '',
    ...rows.map((row) => JSON.stringify(Object.fromEntries(Object.entries(row).map(([k, v]) => [k, value(v)])))),
  ].join('\n');
}

async function execute(command: string, base: string, key: string, shimDir: string, connection: DuckDBConnection): Promise<Response> {
  const cwd = await mkdtemp(join(tmpdir(), 'bpe-guide-cwd-'));
  const headFile = join(shimDir, `head-${Math.random().toString(36).slice(2)}`);
  try {
    const { stdout } = await run('sh', ['-c', command.replaceAll(GUIDE_BASE, base)], {
      cwd,
      env: { ...process.env, PATH: `${shimDir}:${process.env.PATH ?? ''}`, BPE_API_KEY: key, GUIDE_HEAD_FILE: headFile },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    // The last head: curl writes one per response it receives.
    const heads = (await readFile(headFile, 'utf8')).split(/\r?\n\r?\n/).filter((h) => h.startsWith('HTTP/'));
    const [statusLine, ...lines] = heads.at(-1)!.split(/\r?\n/);
    const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    // The body: what curl printed (after the head, with -i), or the one file it wrote (-O, > file).
    let body = stdout.startsWith('HTTP/') ? stdout.split(/\r?\n\r?\n/).slice(1).join('\n\n') : stdout;
    const written = await readdir(cwd);
    if (body === '' && written.length === 1) {
      const file = join(cwd, written[0]!);
      body = headers.get('content-type') === PARQUET ? await describeParquet(connection, file) : await readFile(file, 'utf8');
    }
    return { statusLine: statusLine!.trim(), headers, body };
  } finally {
    await rm(cwd, { recursive: true, force: true });
    await rm(headFile, { force: true });
  }
}

const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
const matches = (pattern: string[], path: string[]) => pattern.length === path.length && pattern.every((p, i) => p === '*' || p === path[i]);

/** How `actual` differs from `documented`: values everywhere but at example paths (and below them), where only the shape counts. */
function differences(documented: unknown, actual: unknown, examples: string[][], path: string[] = [], shapeOnly = false): string[] {
  const where = path.length ? path.join('.') : '(body)';
  const exampleHere = shapeOnly || examples.some((e) => matches(e, path));
  if (kind(documented) !== kind(actual)) return [`${where}: documented ${JSON.stringify(documented)}, got ${JSON.stringify(actual)}`];
  if (Array.isArray(documented) && Array.isArray(actual)) {
    if (exampleHere) return documented.length === 0 ? [] : actual.flatMap((a, i) => differences(documented[Math.min(i, documented.length - 1)], a, examples, [...path, String(i)], true));
    if (documented.length !== actual.length) return [`${where}: documented ${documented.length} items, got ${actual.length}: ${JSON.stringify(actual)}`];
    return actual.flatMap((a, i) => differences(documented[i], a, examples, [...path, String(i)]));
  }
  if (kind(documented) === 'object') {
    const d = documented as Record<string, unknown>;
    const a = actual as Record<string, unknown>;
    const missing = Object.keys(d).filter((k) => !(k in a));
    const extra = Object.keys(a).filter((k) => !(k in d));
    if (missing.length || extra.length) return [`${where}: keys documented but absent: [${missing.join(', ')}]; present but undocumented: [${extra.join(', ')}]`];
    return Object.keys(d).flatMap((k) => differences(d[k], a[k], examples, [...path, k], exampleHere));
  }
  return exampleHere || documented === actual ? [] : [`${where}: documented ${JSON.stringify(documented)}, got ${JSON.stringify(actual)}`];
}

const isJson = (contentType: string | undefined) => /^application\/json\b/.test(contentType ?? '');
const isNdjson = (contentType: string | undefined) => /^application\/x-ndjson\b/.test(contentType ?? '');
const ndjson = (text: string) => text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as unknown);

function bodyDifferences(example: Example, response: Response): string[] {
  const type = response.headers.get('content-type');
  try {
    if (isJson(type)) return differences(JSON.parse(example.documented.body), JSON.parse(response.body), example.examples);
    if (isNdjson(type)) return differences(ndjson(example.documented.body), ndjson(response.body), example.examples.map((e) => ['*', ...e]));
  } catch (error) {
    return [`the body does not parse: ${(error as Error).message}`];
  }
  // CSV lines end in CRLF (RFC 4180); the guide's in LF, as every line of a Markdown file.
  const text = response.body.replace(/\r\n/g, '\n').trimEnd();
  return example.documented.body.trimEnd() === text ? [] : [`body: documented\n${example.documented.body}\ngot\n${text}`];
}

/** JSON on one line, spaced: `{ "a": [1, 2] }`. */
function inlineJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(inlineJson).join(', ')}]`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const entries = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${inlineJson(v)}`);
  return entries.length ? `{ ${entries.join(', ')} }` : '{}';
}

/** JSON as a reader wants it: objects one key a line, short arrays and objects on one line. */
function formatJson(value: unknown, indent = ''): string {
  const flat = inlineJson(value);
  if (value === null || typeof value !== 'object' || flat.length + indent.length <= 100) return flat;
  const inner = `${indent}  `;
  if (Array.isArray(value)) return `[\n${value.map((v) => inner + formatJson(v, inner)).join(',\n')}\n${indent}]`;
  return `{\n${Object.entries(value).map(([k, v]) => `${inner}${JSON.stringify(k)}: ${formatJson(v, inner)}`).join(',\n')}\n${indent}}`;
}

function renderResponse(example: Example, response: Response): string {
  const type = response.headers.get('content-type');
  const head = [response.statusLine, ...example.documented.headers.map(([name]) => `${name}: ${response.headers.get(name) ?? ''}`)];
  let body = response.body.replace(/\r\n/g, '\n').trimEnd();
  if (isJson(type)) body = formatJson(JSON.parse(response.body));
  else if (isNdjson(type)) body = ndjson(response.body).map((v) => JSON.stringify(v)).join('\n');
  return [...head, '', body].join('\n');
}

describe('the API guide (services/api/README.md), executed', () => {
  let dir: string;
  let shimDir: string;
  let store: ApiFixture;
  let api: TestApi;
  let base: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bpe-api-guide-'));
    shimDir = await mkdtemp(join(tmpdir(), 'bpe-api-guide-bin-'));
    await curlShim(shimDir);
    store = await buildStore(dir);
    // Production limits and cache, so the headers the guide shows are the ones researchers see.
    const defaults = loadApiConfig({});
    api = await startTestApi(dir, {
      CACHE_TTL_SECONDS: String(defaults.CACHE_TTL_SECONDS),
      RATE_LIMIT_IP_MAX: String(defaults.RATE_LIMIT_IP_MAX),
      RATE_LIMIT_KEY_MAX: String(defaults.RATE_LIMIT_KEY_MAX),
      RATE_LIMIT_EXPORT_MAX: String(defaults.RATE_LIMIT_EXPORT_MAX),
    });
    await api.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(api.app.server.address() as { port: number }).port}`;
  });

  afterAll(async () => {
    await api?.close();
    await store?.close();
    await rm(dir, { recursive: true, force: true });
    await rm(shimDir, { recursive: true, force: true });
  });

  it('every curl example is followed by the response it documents, and every route has an example', async () => {
    const { examples, problems } = readExamples(await readFile(join(REPO_ROOT, GUIDE), 'utf8'));
    expect(problems).toEqual([]);
    const openapi = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const requests = examples.map((e) => ({
      method: /(?:-X|--request)\s+(\w+)/.exec(e.command)?.[1] ?? 'GET',
      path: new URL(/https?:\/\/[^\s'"]+/.exec(e.command)?.[0] ?? GUIDE_BASE).pathname,
    }));
    const missing = Object.entries(openapi.paths).flatMap(([template, methods]) =>
      Object.keys(methods)
        .map((m) => m.toUpperCase())
        .filter((method) => {
          const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
          return !requests.some((r) => r.method === method && pattern.test(r.path));
        })
        .map((method) => `${method} ${template}`),
    );
    expect(missing, 'routes without an example in the guide').toEqual([]);
  });

  it('every example answers with the documented status, headers and body', async () => {
    const text = await readFile(join(REPO_ROOT, GUIDE), 'utf8');
    const { examples } = readExamples(text);
    expect(examples.length).toBeGreaterThan(10);
    const bad: string[] = [];
    const rendered: { example: Example; text: string }[] = [];
    for (const example of examples) {
      const response = await execute(example.command, base, api.key!, shimDir, store.connection);
      rendered.push({ example, text: renderResponse(example, response) });
      const where = `${GUIDE}:${example.commandBlock.line}: ${example.command.replace(/\s+/g, ' ')}`;
      if (response.statusLine !== example.documented.statusLine) bad.push(`${where}: documented ${example.documented.statusLine}, got ${response.statusLine}`);
      for (const [name, value] of example.documented.headers) {
        const actual = response.headers.get(name);
        const onlyPresent = example.examples.some((mark) => mark.length === 1 && mark[0] === name);
        if (onlyPresent ? actual === undefined : actual !== value) bad.push(`${where}: header ${name}: documented ${JSON.stringify(value)}, got ${JSON.stringify(actual)}`);
      }
      for (const difference of bodyDifferences(example, response)) bad.push(`${where}: ${difference}`);
    }
    if (process.env.UPDATE_API_GUIDE === '1') {
      const lines = text.split('\n');
      for (const { example, text: block } of rendered.reverse()) lines.splice(example.responseBlock.line, example.responseBlock.end - example.responseBlock.line - 1, ...block.split('\n'));
      await writeFile(join(REPO_ROOT, GUIDE), lines.join('\n'));
      return;
    }
    expect(bad, 'the guide differs from the API: fix the code or the guide (UPDATE_API_GUIDE=1 rewrites the responses)').toEqual([]);
  });
});
