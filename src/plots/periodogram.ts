import type { TopLevelSpec } from 'vega-lite';
import { renderFigure, type RenderOptions, type RenderedFigure } from './render.js';

/**
 * Keeps the maximum of each of `bins` log-spaced period bins, so a 100,000-point periodogram
 * becomes a light SVG without losing its peaks.
 */
export function peakEnvelope(
  periods: ArrayLike<number>,
  power: ArrayLike<number>,
  bins: number,
): { period: number; power: number }[] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < periods.length; i++) {
    const p = periods[i]!;
    if (p > 0 && Number.isFinite(power[i]!)) {
      lo = Math.min(lo, p);
      hi = Math.max(hi, p);
    }
  }
  if (!(hi > lo) || periods.length <= 2 * bins) {
    const out: { period: number; power: number }[] = [];
    for (let i = 0; i < periods.length; i++) {
      if (periods[i]! > 0 && Number.isFinite(power[i]!)) out.push({ period: periods[i]!, power: power[i]! });
    }
    return out.sort((a, b) => a.period - b.period);
  }
  const best = new Array<number>(bins).fill(-1);
  const lloP = Math.log(lo);
  const width = (Math.log(hi) - lloP) / bins;
  for (let i = 0; i < periods.length; i++) {
    const p = periods[i]!;
    if (!(p > 0) || !Number.isFinite(power[i]!)) continue;
    const k = Math.min(bins - 1, Math.floor((Math.log(p) - lloP) / width));
    if (best[k]! < 0 || power[i]! > power[best[k]!]!) best[k] = i;
  }
  return best.filter((i) => i >= 0).map((i) => ({ period: periods[i]!, power: power[i]! }));
}

/** Power against period on a log axis, with the chosen period marked. */
export async function periodogramFigure(
  data: { id: string; periods: ArrayLike<number>; power: ArrayLike<number>; best?: number },
  options: RenderOptions & { name?: string; bins?: number } = {},
): Promise<RenderedFigure> {
  const title = `Periodogram of star ${data.id}`;
  const values = peakEnvelope(data.periods, data.power, options.bins ?? 1500);
  const layers: Record<string, unknown>[] = [
    {
      data: { values },
      mark: { type: 'line', strokeWidth: 0.8, color: '#1f4e79' },
      encoding: {
        x: { field: 'period', type: 'quantitative', title: 'period (days)', scale: { type: 'log', nice: false } },
        y: { field: 'power', type: 'quantitative', title: 'Lomb-Scargle power', scale: { zero: true } },
      },
    },
  ];
  if (data.best !== undefined && Number.isFinite(data.best)) {
    layers.push({
      data: { values: [{ period: data.best, label: `P = ${data.best.toFixed(5)} d` }] },
      layer: [
        {
          mark: { type: 'rule', color: '#d62728', strokeDash: [4, 3] },
          encoding: { x: { field: 'period', type: 'quantitative' } },
        },
        {
          mark: { type: 'text', align: 'left', dx: 4, dy: 2, baseline: 'top', color: '#d62728' },
          encoding: { x: { field: 'period', type: 'quantitative' }, y: { value: 0 }, text: { field: 'label' } },
        },
      ],
    });
  }
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 640,
    height: 280,
    layer: layers,
  } as unknown as TopLevelSpec; // layers are built as plain records; compile() checks them
  return renderFigure(options.name ?? `periodogram-${data.id}`, title, spec, options);
}
