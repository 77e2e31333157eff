import type { TopLevelSpec } from 'vega-lite';
import { renderFigure, type RenderOptions, type RenderedFigure } from './render.js';

/** One band of a light curve for plotting (times in MJD). */
export interface PlotBand {
  band: string;
  t: ArrayLike<number>;
  mag: ArrayLike<number>;
  err: ArrayLike<number>;
}

/** SDSS-like colours per band, so u..z read blue → red. */
export const BAND_COLOURS: Record<string, string> = {
  u: '#5e3c99',
  g: '#1f78b4',
  r: '#33a02c',
  i: '#ff7f00',
  z: '#b2182b',
  L: '#333333',
};

function bandScale(bands: readonly PlotBand[]): { domain: string[]; range: string[] } {
  const domain = bands.map((b) => b.band);
  return { domain, range: domain.map((b, i) => BAND_COLOURS[b] ?? ['#555', '#999', '#bbb'][i % 3]!) };
}

function rows(bands: readonly PlotBand[], x: (b: PlotBand, i: number) => number[]): Record<string, number | string>[] {
  const out: Record<string, number | string>[] = [];
  for (const b of bands) {
    for (let i = 0; i < b.t.length; i++) {
      for (const xv of x(b, i)) {
        out.push({ band: b.band, x: xv, mag: b.mag[i]!, lo: b.mag[i]! - b.err[i]!, hi: b.mag[i]! + b.err[i]! });
      }
    }
  }
  return out;
}

function magnitudeLayers(xTitle: string, bands: readonly PlotBand[], xScale: Record<string, unknown>) {
  const colour = { field: 'band', type: 'nominal', title: 'band', scale: bandScale(bands) } as const;
  return [
    {
      mark: { type: 'rule', opacity: 0.6 },
      encoding: {
        x: { field: 'x', type: 'quantitative', title: xTitle, scale: xScale },
        y: { field: 'lo', type: 'quantitative', title: 'magnitude', scale: { reverse: true, zero: false } },
        y2: { field: 'hi' },
        color: colour,
      },
    },
    {
      mark: { type: 'point', filled: true, size: 16 },
      encoding: {
        x: { field: 'x', type: 'quantitative', title: xTitle, scale: xScale },
        y: { field: 'mag', type: 'quantitative', title: 'magnitude', scale: { reverse: true, zero: false } },
        color: colour,
      },
    },
  ];
}

/** Magnitude against MJD (magnitudes inverted: brighter is up), with ±1σ error bars. */
export async function lightCurveFigure(
  star: { id: string; bands: readonly PlotBand[] },
  options: RenderOptions & { name?: string } = {},
): Promise<RenderedFigure> {
  const title = `Light curve of star ${star.id}`;
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 640,
    height: 300,
    data: { values: rows(star.bands, (b, i) => [b.t[i]!]) },
    layer: magnitudeLayers('time (MJD, days)', star.bands, { zero: false, nice: false }),
  } as TopLevelSpec;
  return renderFigure(options.name ?? `lightcurve-${star.id}`, title, spec, options);
}

/**
 * The light curve folded at `period`: phase = ((t − epoch) / P) mod 1, drawn over two cycles
 * (phase 0..2) as astronomers do, so the shape around phase 0/1 reads without a seam.
 */
export async function phasedLightCurveFigure(
  star: { id: string; bands: readonly PlotBand[]; period: number; epoch?: number },
  options: RenderOptions & { name?: string } = {},
): Promise<RenderedFigure> {
  const { period } = star;
  const epoch = star.epoch ?? Math.min(...star.bands.map((b) => (b.t.length ? b.t[0]! : Infinity)));
  const title = `Star ${star.id} phased at P = ${period.toFixed(6)} d`;
  const phase = (t: number): number => {
    const p = ((t - epoch) / period) % 1;
    return p < 0 ? p + 1 : p;
  };
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 520,
    height: 300,
    data: { values: rows(star.bands, (b, i) => [phase(b.t[i]!), phase(b.t[i]!) + 1]) },
    layer: magnitudeLayers('phase', star.bands, { domain: [0, 2], nice: false }),
  } as TopLevelSpec;
  return renderFigure(options.name ?? `phased-${star.id}`, title, spec, options);
}
