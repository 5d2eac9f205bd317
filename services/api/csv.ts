// RFC 4180 CSV: fields with a comma, quote, CR or LF are quoted, quotes doubled.
// Lists are joined with '|' inside one field.

export type CsvValue = string | number | boolean | null | undefined | readonly string[];

export function csvField(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'object' ? value.join('|') : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvLine(values: readonly CsvValue[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}
