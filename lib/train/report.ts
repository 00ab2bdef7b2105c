/**
 * The end-of-training HTML report (output_dir/report.html): one self-contained file with inline SVG curves
 * (training loss, eval loss, learning rate, caption metrics) and sample images as PNG data URIs with the
 * generated caption next to the references.
 */
import { writeFile } from 'node:fs/promises';
import sharp from 'sharp';
import { isRawImage, type ImageInput } from '../types.js';
import type { LogEntry } from './callbacks.js';

export interface ReportSample {
  id: string;
  /** A data: URI (PNG). */
  image?: string;
  prediction: string;
  references: string[];
}

export interface ReportData {
  title: string;
  log_history: readonly LogEntry[];
  /** Final metrics shown as a table (train_runtime, eval_Bleu_4, ...). */
  summary: Record<string, number | string>;
  samples: readonly ReportSample[];
  /** Training arguments (shown collapsed). */
  args?: Record<string, unknown>;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** About 5 round tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(1);
  return Number(v.toPrecision(3)).toString();
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

export interface Series {
  name: string;
  points: readonly (readonly [number, number])[];
}

/** An SVG line chart (step on x). Series with a single point are drawn as dots. */
export function lineChart(title: string, series: readonly Series[], opts: { width?: number; height?: number; xLabel?: string } = {}): string {
  const W = opts.width ?? 460;
  const H = opts.height ?? 260;
  const m = { l: 56, r: 12, t: 28, b: 40 };
  const pts = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (pts.length === 0) return '';
  let [x0, x1] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
  if (x1 === x0) [x0, x1] = [x0 - Math.max(1, Math.abs(x0) * 0.1), x1 + Math.max(1, Math.abs(x1) * 0.1)]; // one evaluation: readable ticks
  if (y1 === y0) [y0, y1] = [y0 - Math.abs(y0 || 1) * 0.1, y1 + Math.abs(y1 || 1) * 0.1];
  const pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  const sx = (x: number): number => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const sy = (y: number): number => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">`);
  parts.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-size="14" font-weight="600">${esc(title)}</text>`);
  for (const t of ticks(y0, y1)) {
    const y = sy(t).toFixed(1);
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y}" y2="${y}" stroke="#e5e5e5"/><text x="${m.l - 6}" y="${y}" font-size="10" text-anchor="end" dominant-baseline="middle">${fmt(t)}</text>`);
  }
  for (const t of ticks(x0, x1)) {
    const x = sx(t).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${H - m.b}" y2="${H - m.b + 4}" stroke="#888"/><text x="${x}" y="${H - m.b + 15}" font-size="10" text-anchor="middle">${fmt(t)}</text>`);
  }
  parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${H - m.b}" y2="${H - m.b}" stroke="#888"/><line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${H - m.b}" stroke="#888"/>`);
  parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 6}" font-size="11" text-anchor="middle">${esc(opts.xLabel ?? 'step')}</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const p = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (p.length === 0) return;
    if (p.length > 1) {
      parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.6" points="${p.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')}"/>`);
    }
    if (p.length <= 40) for (const [x, y] of p) parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${color}"/>`);
    parts.push(`<rect x="${m.l + 8}" y="${m.t + 4 + i * 14}" width="10" height="3" fill="${color}"/><text x="${m.l + 22}" y="${m.t + 8 + i * 14}" font-size="10">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/** A small PNG data URI of an image (paths and encoded bytes via sharp; raw pixels with sharp's raw input). */
export async function imageDataUri(input: ImageInput, size = 128): Promise<string | undefined> {
  try {
    const img = isRawImage(input)
      ? sharp(Buffer.from(input.data.buffer, input.data.byteOffset, input.data.byteLength), { raw: { width: input.width, height: input.height, channels: input.channels } })
      : sharp(input);
    const meta = isRawImage(input) ? { width: input.width, height: input.height } : await img.metadata();
    const small = Math.max(meta.width ?? size, meta.height ?? size) < size;
    const png = await img.resize(size, size, { fit: 'inside', kernel: small ? 'nearest' : 'lanczos3' }).png().toBuffer();
    return `data:image/png;base64,${png.toString('base64')}`;
  } catch {
    return undefined; // a sample without its picture beats no report
  }
}

function seriesOf(history: readonly LogEntry[], key: string): [number, number][] {
  return history.filter((e) => typeof e[key] === 'number').map((e) => [e.step, e[key] as number]);
}

/** The report as an HTML string. */
export function renderReport(data: ReportData): string {
  const h = data.log_history;
  const charts: string[] = [];
  const loss = lineChart('Loss', [
    { name: 'train loss', points: seriesOf(h, 'loss') },
    { name: 'eval loss', points: seriesOf(h, 'eval_loss') },
  ]);
  if (loss) charts.push(loss);
  const lr = lineChart('Learning rate', [{ name: 'learning_rate', points: seriesOf(h, 'learning_rate') }]);
  if (lr) charts.push(lr);
  const gn = lineChart('Gradient norm', [{ name: 'grad_norm', points: seriesOf(h, 'grad_norm') }]);
  if (gn) charts.push(gn);
  const metricKeys = [...new Set(h.flatMap((e) => Object.keys(e)))].filter((k) => /^eval_(Bleu_\d|ROUGE_L|CIDEr|METEOR)$/.test(k) || (k.startsWith('eval_') && !/(loss|runtime|per_second|epoch)$/.test(k) && k !== 'eval_loss'));
  const caption = lineChart('Caption metrics', metricKeys.map((k) => ({ name: k.slice(5), points: seriesOf(h, k) })));
  if (caption) charts.push(caption);

  const summaryRows = Object.entries(data.summary)
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(typeof v === 'number' ? fmt(v) : v)}</td></tr>`).join('');
  const samples = data.samples.map((s) => `<div class="sample">${s.image ? `<img src="${s.image}" alt="${esc(s.id)}">` : ''}
<div><div class="id">${esc(s.id)}</div><div class="pred"><b>generated:</b> ${esc(s.prediction)}</div>
<div class="refs"><b>references:</b><ul>${s.references.map((r) => `<li>${esc(r)}</li>`).join('')}</ul></div></div></div>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(data.title)}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
.charts{display:flex;flex-wrap:wrap;gap:12px}.charts svg{border:1px solid #eee;border-radius:6px;background:#fff}
table{border-collapse:collapse}th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:left;font-size:13px}
.sample{display:flex;gap:14px;align-items:flex-start;margin:10px 0;padding:8px;border:1px solid #eee;border-radius:6px}
.sample img{width:128px;height:128px;image-rendering:pixelated;background:#000;flex:none}
.id{color:#888;font-size:12px}.pred{margin:4px 0}.refs ul{margin:2px 0;padding-left:18px;font-size:13px;color:#444}
pre{background:#f7f7f7;padding:8px;font-size:12px;overflow:auto}
</style></head><body>
<h1>${esc(data.title)}</h1>
<h2>Summary</h2><table>${summaryRows}</table>
<h2>Curves</h2><div class="charts">${charts.join('\n') || '<p>No values were logged.</p>'}</div>
<h2>Samples</h2>${samples || '<p>No evaluation samples (run with an eval_dataset and predict_with_generate).</p>'}
${data.args ? `<h2>Training arguments</h2><details><summary>show</summary><pre>${esc(JSON.stringify(data.args, null, 2))}</pre></details>` : ''}
</body></html>
`;
}

export async function writeReport(path: string, data: ReportData): Promise<void> {
  await writeFile(path, renderReport(data));
}
