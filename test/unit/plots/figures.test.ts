import { describe, expect, it } from 'vitest';
import {
  figureFont,
  histogram,
  lightCurveFigure,
  peakEnvelope,
  periodogramFigure,
  periodsFigure,
  phasedLightCurveFigure,
  piConvergenceFigure,
  piPerEngineFigure,
  pngSize,
  type RenderedFigure,
} from '../../../src/plots/index.js';

/** Every mark of a compiled Vega spec, depth first. */
function marks(node: unknown, out: { type: string; name?: string }[] = []): { type: string; name?: string }[] {
  if (Array.isArray(node)) node.forEach((n) => marks(n, out));
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (Array.isArray(o.marks)) {
      for (const m of o.marks as Record<string, unknown>[]) {
        out.push({ type: String(m.type), ...(m.name ? { name: String(m.name) } : {}) });
        marks(m, out);
      }
    }
  }
  return out;
}

function axes(node: unknown, out: Record<string, unknown>[] = []): Record<string, unknown>[] {
  if (Array.isArray(node)) node.forEach((n) => axes(n, out));
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (Array.isArray(o.axes)) out.push(...(o.axes as Record<string, unknown>[]));
    if (Array.isArray(o.marks)) axes(o.marks, out);
  }
  return out;
}

function axisTitles(f: RenderedFigure): string[] {
  return axes(f.vega)
    .map((a) => a.title)
    .filter((t): t is string => typeof t === 'string');
}

function scales(f: RenderedFigure): Record<string, unknown>[] {
  const all: Record<string, unknown>[] = [];
  const walk = (n: unknown): void => {
    if (Array.isArray(n)) n.forEach(walk);
    else if (n && typeof n === 'object') {
      const o = n as Record<string, unknown>;
      if (Array.isArray(o.scales)) all.push(...(o.scales as Record<string, unknown>[]));
      if (Array.isArray(o.marks)) walk(o.marks);
    }
  };
  walk(f.vega);
  return all;
}

function svgSize(svg: string): { width: number; height: number } {
  const m = /<svg[^>]*width="([\d.]+)"[^>]*height="([\d.]+)"/.exec(svg)!;
  return { width: Number(m[1]), height: Number(m[2]) };
}

function checkImage(f: RenderedFigure): void {
  expect(f.svg.startsWith('<svg')).toBe(true);
  const png = pngSize(f.png);
  expect(png).toEqual({ width: f.width, height: f.height });
  const svg = svgSize(f.svg);
  // Rendered at twice the SVG's size.
  expect(Math.abs(png.width - 2 * svg.width)).toBeLessThanOrEqual(1);
  expect(Math.abs(png.height - 2 * svg.height)).toBeLessThanOrEqual(1);
  // Not blank: the PNG of a figure with text and marks compresses to several kB.
  expect(f.png.length).toBeGreaterThan(5000);
}

const band = (name: string, n: number, offset: number) => ({
  band: name,
  t: Array.from({ length: n }, (_, i) => 52000 + i * 7.3),
  mag: Array.from({ length: n }, (_, i) => 17 + offset + 0.4 * Math.sin(i)),
  err: Array.from({ length: n }, () => 0.02),
});

describe('figures', () => {
  it('finds a font for the PNG text on this machine', () => {
    expect(figureFont()).not.toBeNull();
  });

  it('light curve: points with error bars, magnitudes inverted, MJD axis', async () => {
    const f = await lightCurveFigure({ id: '42', bands: [band('g', 30, 0), band('r', 30, -0.2)] });
    expect(f.name).toBe('lightcurve-42');
    expect(f.title).toBe('Light curve of star 42');
    const types = marks(f.vega).map((m) => m.type);
    expect(types).toContain('symbol');
    expect(types).toContain('rule');
    expect(axisTitles(f)).toEqual(expect.arrayContaining(['time (MJD, days)', 'magnitude']));
    expect(scales(f).find((s) => s.name === 'y')).toMatchObject({ reverse: true });
    expect(f.svg).toContain('Light curve of star 42');
    checkImage(f);
  });

  it('phased curve: two cycles of phase, inverted magnitudes', async () => {
    const f = await phasedLightCurveFigure({ id: '42', bands: [band('g', 30, 0)], period: 0.55 });
    expect(f.title).toBe('Star 42 phased at P = 0.550000 d');
    expect(scales(f).find((s) => s.name === 'x')).toMatchObject({ domain: [0, 2] });
    expect(scales(f).find((s) => s.name === 'y')).toMatchObject({ reverse: true });
    expect(axisTitles(f)).toEqual(expect.arrayContaining(['phase', 'magnitude']));
    checkImage(f);
  });

  it('periodogram: power against period on a log axis with the best period marked', async () => {
    const periods = Array.from({ length: 20000 }, (_, i) => 0.2 + i * 5e-5);
    const power = periods.map((p) => Math.exp(-(((p - 0.55) / 0.001) ** 2)));
    const f = await periodogramFigure({ id: '42', periods, power, best: 0.55 });
    expect(scales(f).find((s) => s.name === 'x')).toMatchObject({ type: 'log' });
    expect(axisTitles(f)).toEqual(expect.arrayContaining(['period (days)', 'Lomb-Scargle power']));
    const types = marks(f.vega).map((m) => m.type);
    expect(types).toEqual(expect.arrayContaining(['line', 'rule', 'text']));
    expect(f.svg).toContain('P = 0.55000 d');
    checkImage(f);
  });

  it('peakEnvelope keeps every peak while thinning the line', () => {
    const periods = Array.from({ length: 100000 }, (_, i) => 0.1 + i * 1e-5);
    const power = periods.map((_, i) => (i === 54321 ? 1 : 0.1));
    const env = peakEnvelope(periods, power, 1000);
    expect(env.length).toBeLessThanOrEqual(1000);
    expect(Math.max(...env.map((e) => e.power))).toBe(1);
  });

  it('pi per engine: estimates with error bars, the true value and the ±σ band', async () => {
    const perEngine = [0, 1, 2].map((engine) => ({ engine, samples: 1e6, pi: Math.PI + (engine - 1) * 1e-3 }));
    const f = await piPerEngineFigure({ perEngine, pi: Math.PI });
    const types = marks(f.vega).map((m) => m.type);
    expect(types).toEqual(expect.arrayContaining(['rect', 'rule', 'symbol', 'text']));
    expect(axisTitles(f)).toEqual(expect.arrayContaining(['engine', 'estimate of π']));
    expect(f.title).toBe('Estimate of π per engine (3 engines)');
    checkImage(f);
  });

  it('pi convergence: estimate against samples on a log axis with σ envelopes', async () => {
    const f = await piConvergenceFigure([1e3, 1e5, 1e7].map((samples) => ({ samples, pi: 3.14 })));
    expect(scales(f).find((s) => s.name === 'x')).toMatchObject({ type: 'log' });
    expect(marks(f.vega).map((m) => m.type)).toEqual(expect.arrayContaining(['area', 'line', 'rule']));
    expect(axisTitles(f)).toEqual(expect.arrayContaining(['samples', 'estimate of π']));
    checkImage(f);
  });

  it('composite: period histogram on top, g-r vs log P coloured by magnitude, g-r histogram at the right', async () => {
    const stars = Array.from({ length: 60 }, (_, i) => ({
      id: `${i}`,
      period: 0.3 + 0.01 * i,
      gr: 0.1 + 0.003 * i,
      meanMag: 15 + (i % 5),
    }));
    const f = await periodsFigure(stars);
    expect(f.title).toBe('Computed Periods of 60 Stars');
    expect(f.svg).toContain('Computed Periods of 60 Stars');
    expect(axisTitles(f)).toEqual(expect.arrayContaining(['N(log P)', 'log10(P / day)', 'g − r (mag)', 'N(g − r)']));
    const spec = f.spec as unknown as {
      vconcat: [{ mark: { type: string } }, { hconcat: { mark: { type: string } }[] }];
    };
    expect(spec.vconcat[0].mark.type).toBe('rect');
    expect(spec.vconcat[1].hconcat.map((c) => c.mark.type)).toEqual(['point', 'rect']);
    // The colour bar: a gradient legend titled with the magnitude.
    expect(f.svg).toContain('mean mag');
    expect(f.svg).toMatch(/<linearGradient/);
    checkImage(f);
  });

  it('histogram counts every finite value once', () => {
    const h = histogram([0, 0.1, 0.5, 0.99, 1, NaN], 0, 1, 4);
    expect(h.map((b) => b.count)).toEqual([2, 0, 1, 2]);
  });
});

describe('pngSize', () => {
  it('rejects what is not a PNG', () => {
    expect(() => pngSize(new Uint8Array(30))).toThrow(/not a PNG/);
  });
});
