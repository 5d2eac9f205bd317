// `npm run query -- "SELECT ..."`: SQL over the Parquet store, one view per table
// (posts, likes, reposts, follows, blocks, profiles, deletes, identities,
// accounts, other). Add --json for one JSON object per row.

import { parseArgs } from 'node:util';
import { openDuckDB } from '../../services/shared/duckdb.ts';
import { createStoreViews } from '../../services/shared/store-views.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { json: { type: 'boolean', default: false }, 'data-dir': { type: 'string', default: process.env.DATA_DIR ?? './.data/parquet' } },
});
const sql = positionals.join(' ').trim();
if (!sql) {
  console.error('usage: npm run query -- [--json] [--data-dir DIR] "SELECT count(*) FROM posts"');
  process.exit(2);
}
const { connection } = await openDuckDB();
await createStoreViews(connection, values['data-dir']);
try {
  const reader = await connection.runAndReadAll(sql);
  const rows = reader.getRowObjectsJson();
  if (values.json) {
    for (const row of rows) console.log(JSON.stringify(row));
  } else {
    const columns = reader.columnNames();
    const cells = rows.map((row) => columns.map((c) => (row[c] === null ? 'NULL' : typeof row[c] === 'string' ? (row[c]) : JSON.stringify(row[c]))));
    const widths = columns.map((c, i) => Math.min(60, Math.max(c.length, ...cells.map((r) => r[i]!.length))));
    const line = (values: string[]) => values.map((v, i) => v.replace(/\s+/g, ' ').slice(0, widths[i]).padEnd(widths[i]!)).join(' | ');
    console.log(line(columns));
    console.log(widths.map((w) => '-'.repeat(w)).join('-+-'));
    for (const row of cells) console.log(line(row));
    console.log(`(${rows.length} row${rows.length === 1 ? '' : 's'})`);
  }
} catch (error) {
  console.error(`query failed: ${(error as Error).message}`);
  process.exit(1);
}
