/**
 * A small CSV reader for the bulk import: RFC 4180 fields (commas, double
 * quotes with "" inside, CRLF or LF line ends), the first line naming the
 * columns. Enough for a spreadsheet export; no dependency for one route.
 */

/** Rows of `text` as arrays of fields; a blank last line is dropped. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  const endField = () => {
    row.push(field);
    field = '';
  };
  while (i < text.length) {
    const char = text.charAt(i);
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (char === '"') quoted = false;
      else field += char;
      i += 1;
      continue;
    }
    if (char === '"' && field === '') quoted = true;
    else if (char === ',') endField();
    else if (char === '\n' || char === '\r') {
      endField();
      rows.push(row);
      row = [];
      if (char === '\r' && text[i + 1] === '\n') i += 1;
    } else field += char;
    i += 1;
  }
  if (quoted) throw new SyntaxError('a quoted field is not closed');
  if (field !== '' || row.length > 0) {
    endField();
    rows.push(row);
  }
  return rows.filter((fields) => !(fields.length === 1 && fields[0] === ''));
}

/** The rows after the header as objects keyed by the header's names. */
export function csvRecords(text: string): { columns: string[]; records: Record<string, string>[] } {
  const [header, ...rows] = parseCsv(text);
  if (header === undefined) return { columns: [], records: [] };
  const columns = header.map((name) => name.trim());
  const records = rows.map((fields, index) => {
    if (fields.length !== columns.length) {
      throw new RangeError(`line ${index + 2} has ${fields.length} fields, the header ${columns.length}`);
    }
    return Object.fromEntries(columns.map((column, i) => [column, fields[i] ?? '']));
  });
  return { columns, records };
}
