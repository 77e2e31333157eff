import type { TopLevelSpec } from 'vega-lite';
import { renderFigure, type RenderOptions, type RenderedFigure } from './render.js';

/** One star of the composite: its computed period (days), g-r colour and mean magnitude. */
export interface PeriodPoint {
  id?: string;
  period: number;
  gr?: number;
  meanMag?: number;
}

/** Equal-width histogram over [lo, hi] (values outside are clamped into the end bins). */
export function histogram(values: readonly number[], lo: number, hi: number, bins: number) {
  const width = (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    const k = Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / width)));
    counts[k]!++;
  }
  return counts.map((count, k) => ({ lo: lo + k * width, hi: lo + (k + 1) * width, count }));
}

function paddedExtent(values: readonly number[], pad: number): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (Number.isFinite(v)) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  if (!(hi >= lo)) return [0, 1];
  const span = hi - lo || 1;
  return [lo - pad * span, hi + pad * span];
}

/**
 * "Computed Periods of N Stars": a histogram of log10(P) on top, g-r against log10(P) coloured
 * by mean magnitude (with a colour bar) in the middle, and a histogram of g-r at the right,
 * sharing the scatter's axes. Stars without a colour appear in the period histogram only.
 */
export async function periodsFigure(
  stars: readonly PeriodPoint[],
  options: RenderOptions & { name?: string; bins?: number } = {},
): Promise<RenderedFigure> {
  const good = stars.filter((s) => s.period > 0 && Number.isFinite(s.period));
  const logP = good.map((s) => Math.log10(s.period));
  const withColour = good.filter((s) => s.gr !== undefined && Number.isFinite(s.gr));
  const gr = withColour.map((s) => s.gr!);
  const bins = options.bins ?? Math.max(10, Math.min(50, Math.round(Math.sqrt(good.length) * 2)));
  const [p0, p1] = paddedExtent(logP, 0.03);
  const [g0, g1] = paddedExtent(gr.length ? gr : [0, 1], 0.05);
  const title = `Computed Periods of ${good.length} Stars`;
  const xScale = { domain: [p0, p1], nice: false, zero: false };
  const yScale = { domain: [g0, g1], nice: false, zero: false };
  const main = 400;
  const side = 110;
  // One fixed y-axis width for the top histogram and the scatter, so their plot areas line up.
  const yAxis = { minExtent: 45, maxExtent: 45 };
  const scatterRows = withColour.map((s) => ({
    id: s.id ?? '',
    logP: Math.log10(s.period),
    gr: s.gr!,
    ...(s.meanMag !== undefined && Number.isFinite(s.meanMag) ? { mag: s.meanMag } : {}),
  }));
  const hasMag = scatterRows.some((r) => 'mag' in r);
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, fontSize: 16 },
    spacing: 8,
    vconcat: [
      {
        width: main,
        height: side,
        data: { values: histogram(logP, p0, p1, bins) },
        mark: { type: 'rect', color: '#4c78a8', stroke: 'white', strokeWidth: 0.5 },
        encoding: {
          x: { field: 'lo', type: 'quantitative', scale: xScale, axis: { title: null, labels: false } },
          x2: { field: 'hi' },
          y: { field: 'count', type: 'quantitative', title: 'N(log P)', axis: yAxis, scale: { zero: true } },
          y2: { datum: 0 },
        },
      },
      {
        spacing: 8,
        hconcat: [
          {
            width: main,
            height: main * 0.75,
            data: { values: scatterRows },
            mark: { type: 'point', filled: true, size: 22, opacity: 0.85 },
            encoding: {
              x: { field: 'logP', type: 'quantitative', title: 'log10(P / day)', scale: xScale },
              y: { field: 'gr', type: 'quantitative', title: 'g − r (mag)', scale: yScale, axis: yAxis },
              ...(hasMag
                ? {
                    color: {
                      field: 'mag',
                      type: 'quantitative',
                      title: 'mean mag',
                      scale: { scheme: 'viridis', reverse: true, zero: false },
                      legend: { orient: 'right', direction: 'vertical', gradientLength: 200 },
                    },
                  }
                : { color: { value: '#4c78a8' } }),
            },
          },
          {
            width: side,
            height: main * 0.75,
            data: { values: histogram(gr, g0, g1, Math.max(10, Math.round(bins * 0.75))) },
            mark: { type: 'rect', color: '#4c78a8', stroke: 'white', strokeWidth: 0.5 },
            encoding: {
              y: { field: 'lo', type: 'quantitative', scale: yScale, axis: { title: null, labels: false } },
              y2: { field: 'hi' },
              x: { field: 'count', type: 'quantitative', title: 'N(g − r)', scale: { zero: true } },
              x2: { datum: 0 },
            },
          },
        ],
      },
    ],
    resolve: { scale: { color: 'independent' } },
  } as TopLevelSpec;
  return renderFigure(options.name ?? 'periods', title, spec, options);
}
