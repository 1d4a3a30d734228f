/**
 * A line chart as a standalone SVG document, written directly (no chart library fits without a DOM):
 * series of (x, y) points on one pair of axes, a marker at every point (a saved checkpoint) and a
 * ring around the best one, with ticks, a legend and a title.
 */
export interface ChartSeries {
  label: string;
  colour: string;
  points: { x: number; y: number }[];
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  series: ChartSeries[];
  /** The best checkpoint: ringed on the series called `seriesLabel`. */
  best?: { x: number; y: number; seriesLabel: string; label: string };
  width?: number;
  height?: number;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count: number): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function label(value: number): string {
  return Math.abs(value) >= 1e4 || (value !== 0 && Math.abs(value) < 1e-3) ? value.toExponential(1) : String(Number(value.toPrecision(4)));
}

export function renderSvg(spec: ChartSpec): string {
  const width = spec.width ?? 720;
  const height = spec.height ?? 400;
  const margin = { left: 64, right: 24, top: 44, bottom: 76 };
  const points = spec.series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.y));
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = [y0 - Math.abs(y0 || 1) * 0.1, y1 + Math.abs(y1 || 1) * 0.1];
  // Room around the data, so no marker sits on the frame.
  const pad = (y1 - y0) * 0.08;
  [y0, y1] = [y0 - pad, y1 + pad];
  const xPad = (x1 - x0) * 0.04;
  [x0, x1] = [x0 - xPad, x1 + xPad];
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const sx = (x: number) => margin.left + ((x - x0) / (x1 - x0)) * plotW;
  const sy = (y: number) => margin.top + (1 - (y - y0) / (y1 - y0)) * plotH;
  const f = (n: number) => n.toFixed(1);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(spec.title)}</text>`,
  ];
  for (const t of niceTicks(y0, y1, 6)) {
    out.push(`<line x1="${margin.left}" x2="${width - margin.right}" y1="${f(sy(t))}" y2="${f(sy(t))}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${margin.left - 8}" y="${f(sy(t) + 4)}" text-anchor="end" fill="#444">${label(t)}</text>`);
  }
  const xTicks = niceTicks(x0 + xPad, x1 - xPad, 8).filter((t) => Number.isInteger(t) || x1 - x0 < 8);
  for (const t of xTicks) {
    out.push(`<line x1="${f(sx(t))}" x2="${f(sx(t))}" y1="${height - margin.bottom}" y2="${height - margin.bottom + 5}" stroke="#444"/>`);
    out.push(`<text x="${f(sx(t))}" y="${height - margin.bottom + 18}" text-anchor="middle" fill="#444">${label(t)}</text>`);
  }
  out.push(`<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#444"/>`);
  out.push(`<text x="${margin.left + plotW / 2}" y="${height - margin.bottom + 34}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`);
  for (const s of spec.series) {
    const finite = s.points.filter((p) => Number.isFinite(p.y));
    if (finite.length > 1) out.push(`<polyline fill="none" stroke="${s.colour}" stroke-width="2" points="${finite.map((p) => `${f(sx(p.x))},${f(sy(p.y))}`).join(' ')}"/>`);
    for (const p of finite) out.push(`<circle cx="${f(sx(p.x))}" cy="${f(sy(p.y))}" r="3.5" fill="${s.colour}"><title>${escapeXml(`${s.label} ${label(p.y)} at ${label(p.x)}`)}</title></circle>`);
  }
  if (spec.best && Number.isFinite(spec.best.y)) {
    const [bx, by] = [sx(spec.best.x), sy(spec.best.y)];
    out.push(`<circle cx="${f(bx)}" cy="${f(by)}" r="9" fill="none" stroke="#d62728" stroke-width="2.5"/>`);
    // The label leans away from the nearer side edge so it is never cut off.
    const anchor = bx > margin.left + plotW * 0.75 ? 'end' : bx < margin.left + plotW * 0.25 ? 'start' : 'middle';
    const lx = anchor === 'end' ? bx + 9 : anchor === 'start' ? bx - 9 : bx;
    const ly = by - 14 < margin.top + 12 ? by + 24 : by - 14;
    out.push(`<text x="${f(lx)}" y="${f(ly)}" text-anchor="${anchor}" fill="#d62728" font-weight="bold">${escapeXml(spec.best.label)}</text>`);
  }
  // The legend, in one row under the axis label.
  let lx = margin.left;
  const ly = height - 10;
  const legend = [...spec.series.map((s) => ({ colour: s.colour, text: s.label, ring: false })), ...(spec.best ? [{ colour: '#d62728', text: 'best checkpoint', ring: true }] : [])];
  for (const item of legend) {
    out.push(item.ring ? `<circle cx="${lx + 8}" cy="${ly - 4}" r="6" fill="none" stroke="${item.colour}" stroke-width="2"/>` : `<line x1="${lx}" x2="${lx + 16}" y1="${ly - 4}" y2="${ly - 4}" stroke="${item.colour}" stroke-width="2"/><circle cx="${lx + 8}" cy="${ly - 4}" r="3" fill="${item.colour}"/>`);
    out.push(`<text x="${lx + 22}" y="${ly}">${escapeXml(item.text)}</text>`);
    lx += 34 + item.text.length * 7;
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
