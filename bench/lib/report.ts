// Formatting for bench/RESULTS.md and the chart: markdown tables, number
// formats and a hand-rolled horizontal bar chart in SVG (no chart library).

/** A markdown table; `align` per column: 'l' or 'r'. */
export function markdownTable(headers: string[], rows: string[][], align?: ('l' | 'r')[]): string {
  const escapeCell = (cell: string) => cell.replace(/\|/g, '\\|');
  const separator = headers.map((_, i) => ((align?.[i] ?? 'l') === 'r' ? '---:' : '---'));
  return [headers, separator, ...rows].map((row) => `| ${row.map(escapeCell).join(' | ')} |`).join('\n');
}

/** Whole requests per second with thousands separators. */
export function formatRate(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '-';
}

/** Milliseconds with two decimals. */
export function formatMs(value: number, digits = 2): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

/** A ratio such as 0.95×. */
export function formatRatio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : '-';
}

/** Bytes as B or KiB. */
export function formatBytes(value: number): string {
  if (!Number.isFinite(value)) return '-';
  return value >= 10 * 1024 ? `${(value / 1024).toFixed(1)} KiB` : `${Math.round(value)} B`;
}

/** The numeric top-level counters of a stats object (e.g. our cache.stats()), as "name n, …". */
export function formatCounters(stats: Record<string, unknown> | undefined): string {
  const counters = Object.entries(stats ?? {}).filter(([, value]) => typeof value === 'number');
  return counters.length ? `cache.stats(): ${counters.map(([name, value]) => `${name} ${String(value)}`).join(', ')}` : '';
}

/** One bar of the chart. */
export interface Bar {
  label: string;
  value: number;
  min: number;
  max: number;
  /** Text after the bar, e.g. the ratio to bare. */
  note: string;
  kind: 'ceiling' | 'floor' | 'ours' | 'peer';
}

const COLORS: Record<Bar['kind'], string> = {
  ceiling: '#9e9e9e',
  floor: '#607d8b',
  ours: '#2e7d32',
  peer: '#1565c0',
};

function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A horizontal bar chart: median as the bar, min..max as a whisker. */
export function barChartSvg(title: string, subtitle: string, bars: Bar[]): string {
  const width = 900;
  const labelWidth = 250;
  const noteWidth = 170;
  const rowHeight = 30;
  const top = 62;
  const plotWidth = width - labelWidth - noteWidth - 20;
  const height = top + bars.length * rowHeight + 40;
  const scaleMax = Math.max(1, ...bars.map((bar) => (Number.isFinite(bar.max) ? bar.max : 0))) * 1.05;
  const x = (value: number) => labelWidth + (Math.max(0, value) / scaleMax) * plotWidth;

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="20" y="26" font-size="17" font-weight="bold">${xmlEscape(title)}</text>`,
    `<text x="20" y="46" font-size="12" fill="#555">${xmlEscape(subtitle)}</text>`,
  ];
  // Vertical grid lines at round numbers.
  const step = 10 ** Math.floor(Math.log10(scaleMax / 2));
  const gridStep = scaleMax / step > 10 ? step * 2 : step;
  for (let value = 0; value <= scaleMax; value += gridStep) {
    const gx = x(value).toFixed(1);
    parts.push(`<line x1="${gx}" y1="${top - 6}" x2="${gx}" y2="${top + bars.length * rowHeight}" stroke="#e0e0e0"/>`);
    parts.push(
      `<text x="${gx}" y="${top + bars.length * rowHeight + 16}" font-size="11" fill="#777" text-anchor="middle">${formatRate(value)}</text>`,
    );
  }
  parts.push(
    `<text x="${labelWidth + plotWidth / 2}" y="${height - 6}" font-size="11" fill="#555" text-anchor="middle">requests per second (bar: median; whisker: min–max over rounds)</text>`,
  );

  bars.forEach((bar, index) => {
    const y = top + index * rowHeight;
    parts.push(`<text x="${labelWidth - 8}" y="${y + 19}" font-size="13" text-anchor="end">${xmlEscape(bar.label)}</text>`);
    if (!Number.isFinite(bar.value)) {
      parts.push(`<text x="${labelWidth + 4}" y="${y + 19}" font-size="12" fill="#999">${xmlEscape(bar.note)}</text>`);
      return;
    }
    const barEnd = x(bar.value);
    parts.push(
      `<rect x="${labelWidth}" y="${y + 6}" width="${(barEnd - labelWidth).toFixed(1)}" height="${rowHeight - 12}" fill="${COLORS[bar.kind]}" rx="2"/>`,
    );
    if (Number.isFinite(bar.min) && Number.isFinite(bar.max)) {
      const midY = y + rowHeight / 2;
      parts.push(
        `<line x1="${x(bar.min).toFixed(1)}" y1="${midY}" x2="${x(bar.max).toFixed(1)}" y2="${midY}" stroke="#212121" stroke-width="1.5"/>`,
        `<line x1="${x(bar.min).toFixed(1)}" y1="${midY - 5}" x2="${x(bar.min).toFixed(1)}" y2="${midY + 5}" stroke="#212121" stroke-width="1.5"/>`,
        `<line x1="${x(bar.max).toFixed(1)}" y1="${midY - 5}" x2="${x(bar.max).toFixed(1)}" y2="${midY + 5}" stroke="#212121" stroke-width="1.5"/>`,
      );
    }
    parts.push(`<text x="${labelWidth + plotWidth + 12}" y="${y + 19}" font-size="12" fill="#333">${xmlEscape(bar.note)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
