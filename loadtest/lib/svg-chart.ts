// Line charts as standalone SVG, written by hand (no charting dependency): a
// title, axes with round ticks, one polyline per series, a legend, and shaded
// bands for time ranges worth marking (a spike). Opens in any browser and
// renders inline on GitHub.

export interface ChartSeries {
  name: string;
  points: readonly { x: number; y: number | null }[];
  color?: string;
}

export interface ChartBand {
  from: number;
  to: number;
  label: string;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly ChartSeries[];
  bands?: readonly ChartBand[];
  /** Horizontal reference lines (a limit, a target). */
  lines?: readonly { y: number; label: string }[];
  width?: number;
  height?: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Round tick values covering [min, max]: steps of 1, 2 or 5 times a power of ten. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) max = min + 1;
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const ticks: number[] = [];
  for (let v = Math.floor(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1]! < max) ticks.push(Number((ticks[ticks.length - 1]! + step).toPrecision(12)));
  return ticks;
}

function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${Number((v / 1e9).toPrecision(3))}G`;
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (a >= 1e4) return `${Number((v / 1e3).toPrecision(3))}k`;
  return String(Number(v.toPrecision(4)));
}

export function lineChart(options: ChartOptions): string {
  const width = options.width ?? 860;
  const height = options.height ?? 340;
  const margin = { left: 70, right: 20, top: 40, bottom: 70 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const all = options.series.flatMap((s) => s.points.filter((p): p is { x: number; y: number } => p.y !== null && Number.isFinite(p.y)));
  const xs = all.map((p) => p.x);
  const xMin = xs.length > 0 ? Math.min(...xs) : 0;
  const xMax = xs.length > 0 ? Math.max(...xs) : 1;
  const yValues = [...all.map((p) => p.y), ...(options.lines ?? []).map((l) => l.y)];
  const yMax = yValues.length > 0 ? Math.max(...yValues) : 1;
  const xTicks = niceTicks(xMin, xMax, 8);
  const yTicks = niceTicks(0, yMax > 0 ? yMax : 1, 5);
  const x0 = xTicks[0]!;
  const x1 = xTicks[xTicks.length - 1]!;
  const y1 = yTicks[yTicks.length - 1]!;
  const sx = (x: number) => margin.left + ((x - x0) / (x1 - x0 || 1)) * plotW;
  const sy = (y: number) => margin.top + plotH - (y / (y1 || 1)) * plotH;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`);
  (options.bands ?? []).forEach((band, i) => {
    const a = sx(Math.max(band.from, x0));
    const b = sx(Math.min(band.to, x1));
    if (b <= a) return;
    const fill = ['#fdd835', '#66bb6a', '#90a4ae'][i % 3]!;
    out.push(`<rect x="${a.toFixed(1)}" y="${margin.top}" width="${(b - a).toFixed(1)}" height="${plotH}" fill="${fill}" fill-opacity="0.18"/>`);
    // Labels on alternate rows, so narrow neighbouring bands stay readable.
    out.push(`<text x="${(a + 3).toFixed(1)}" y="${margin.top + 13 + (i % 2) * 14}" fill="#555">${escapeXml(band.label)}</text>`);
  });
  for (const t of yTicks) {
    out.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${sy(t).toFixed(1)}" y2="${sy(t).toFixed(1)}" stroke="#e0e0e0"/>`);
    out.push(`<text x="${margin.left - 6}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end">${formatTick(t)}</text>`);
  }
  for (const t of xTicks) {
    out.push(`<line x1="${sx(t).toFixed(1)}" x2="${sx(t).toFixed(1)}" y1="${margin.top + plotH}" y2="${margin.top + plotH + 5}" stroke="#333"/>`);
    out.push(`<text x="${sx(t).toFixed(1)}" y="${margin.top + plotH + 18}" text-anchor="middle">${formatTick(t)}</text>`);
  }
  out.push(`<line x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#333"/>`);
  out.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${margin.top + plotH}" y2="${margin.top + plotH}" stroke="#333"/>`);
  out.push(`<text x="${margin.left + plotW / 2}" y="${margin.top + plotH + 36}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`);
  for (const line of options.lines ?? []) {
    out.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${sy(line.y).toFixed(1)}" y2="${sy(line.y).toFixed(1)}" stroke="#b71c1c" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${margin.left + plotW - 4}" y="${(sy(line.y) - 4).toFixed(1)}" text-anchor="end" fill="#b71c1c">${escapeXml(line.label)}</text>`);
  }
  options.series.forEach((series, i) => {
    const color = series.color ?? PALETTE[i % PALETTE.length]!;
    // A gap (null) ends one polyline and starts the next.
    let run: string[] = [];
    const flush = () => {
      if (run.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.6" points="${run.join(' ')}"/>`);
      else if (run.length === 1) out.push(`<circle cx="${run[0]!.split(',')[0]}" cy="${run[0]!.split(',')[1]}" r="2" fill="${color}"/>`);
      run = [];
    };
    for (const p of series.points) {
      if (p.y === null || !Number.isFinite(p.y)) flush();
      else run.push(`${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`);
    }
    flush();
    const lx = margin.left + i * Math.min(200, plotW / Math.max(1, options.series.length));
    const ly = height - 14;
    out.push(`<rect x="${lx}" y="${ly - 9}" width="14" height="4" fill="${color}"/>`);
    out.push(`<text x="${lx + 18}" y="${ly - 4}">${escapeXml(series.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
