import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Engine, FrequencyGrid, Normalization } from '../../../src/science/lombscargle.js';
import {
  autoGrid,
  bestPeriods,
  gridFrequencies,
  lombScargle,
  seedGrid,
  wasmSumsKernelOrNull,
} from '../../../src/science/lombscargle.js';
import { assembleLsKernel, lsKernelModuleSource } from '../../../src/science/wasm/ls/assemble.js';
import { maxRelErr } from './_numeric.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const fixtures = join(root, 'test', '_fixtures', 'lombscargle');

interface SingleCase {
  grid: 'regular' | 'log' | 'random';
  fitMean: boolean;
  center: boolean;
  dy: boolean;
  normalization: Normalization;
  power: number[];
}
interface SingleFixture {
  t: number[];
  y: number[];
  dy: number[];
  regular: { f0: number; df: number; n: number };
  log: number[];
  random: number[];
  autofrequency: { samplesPerPeak: number; nyquistFactor: number; f0: number; df: number; n: number; last: number };
  cases: SingleCase[];
}

const single = JSON.parse(readFileSync(join(fixtures, 'single.json'), 'utf8')) as SingleFixture;
const engines: Engine[] = wasmSumsKernelOrNull() ? ['direct', 'js', 'wasm'] : ['direct', 'js'];

/** f·t minus the nearest integer, with f·t exact (Dekker's two-product, written out here independently). */
function reducedPhase(f: number, t: number): number {
  const p = f * t;
  const split = (a: number): [number, number] => {
    const c = 134217729 * a;
    const hi = c - (c - a);
    return [hi, a - hi];
  };
  const [fh, fl] = split(f);
  const [th, tl] = split(t);
  const err = fh * th - p + fh * tl + fl * th + fl * tl;
  return p - Math.round(p) + err;
}

/** The phase of the real frequency f0 + k·df (not of its rounding), in cycles, exact to ~1e-16. */
function regularReducedPhase(f0: number, df: number, k: number, t: number): number {
  const dd = (a: number, b: number): [number, number] => {
    const p = a * b;
    const split = (x: number): [number, number] => {
      const c = 134217729 * x;
      const hi = c - (c - x);
      return [hi, x - hi];
    };
    const [ah, al] = split(a);
    const [bh, bl] = split(b);
    return [p, ah * bh - p + ah * bl + al * bh + al * bl];
  };
  const [p1, e1] = dd(f0, t);
  const [p2, e2] = dd(df, t);
  const [p3, e3] = dd(k, p2);
  return p1 - Math.round(p1) + (p3 - Math.round(p3)) + (e1 + e3 + k * e2);
}

/**
 * The reference: straightforward per-frequency sums of the generalised (or classic) periodogram, in the
 * τ-free form, with cos/sin from Math.cos/Math.sin of the exactly reduced phase (two-product f·t).
 */
function reference(
  t: Float64Array,
  y: Float64Array,
  dy: Float64Array,
  frequencies: Float64Array,
  fitMean = true,
  regular?: { f0: number; df: number },
): Float64Array {
  const n = t.length;
  const w = new Float64Array(n);
  let sw = 0;
  for (let i = 0; i < n; i++) sw += w[i] = 1 / (dy[i] as number) ** 2;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += ((w[i] as number) / sw) * (y[i] as number);
  const tref = (Math.min(...t) + Math.max(...t)) / 2;
  const out = new Float64Array(frequencies.length);
  for (let k = 0; k < frequencies.length; k++) {
    let W = 0,
      C = 0,
      S = 0,
      YC = 0,
      YS = 0,
      CC = 0,
      SS = 0,
      CS = 0,
      YY = 0;
    for (let i = 0; i < n; i++) {
      const wi = (w[i] as number) / sw;
      const yi = (y[i] as number) - mean;
      // exact phase in cycles, then the platform's sin/cos
      const ti = (t[i] as number) - tref;
      const cycles = regular
        ? regularReducedPhase(regular.f0, regular.df, k, ti)
        : reducedPhase(frequencies[k] as number, ti);
      const phase = 2 * Math.PI * cycles;
      const c = Math.cos(phase);
      const s = Math.sin(phase);
      W += wi;
      C += wi * c;
      S += wi * s;
      YC += wi * yi * c;
      YS += wi * yi * s;
      CC += wi * c * c;
      SS += wi * s * s;
      CS += wi * c * s;
      YY += wi * yi * yi;
    }
    if (fitMean) {
      CC -= C * C;
      SS -= S * S;
      CS -= C * S;
    }
    void W;
    out[k] = (SS * YC * YC + CC * YS * YS - 2 * CS * YC * YS) / (CC * SS - CS * CS) / YY;
  }
  return out;
}

/** A deterministic Stripe 82-like series: MJD times over ~9 years, an RR Lyrae-like signal, errors. */
function s82Like(n: number, seed: number): { t: Float64Array; y: Float64Array; dy: Float64Array } {
  let s = seed;
  const rnd = (): number => (s = (s * 16807) % 2147483647) / 2147483647;
  const t = new Float64Array(n);
  const y = new Float64Array(n);
  const dy = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    t[i] = 51075 + 3300 * rnd();
    const ph = (2 * Math.PI * (t[i] as number)) / 0.5791;
    y[i] = 17 + 0.5 * Math.sin(ph) + 0.2 * Math.sin(2 * ph + 1) + 0.05 * (rnd() - 0.5);
    dy[i] = 0.01 + 0.03 * rnd();
  }
  return { t, y, dy };
}

describe('lombScargle against astropy 8 (fixtures from bench/python/make_ls_fixtures.py)', () => {
  const t = Float64Array.from(single.t);
  const y = Float64Array.from(single.y);
  const dy = Float64Array.from(single.dy);
  const grids: Record<SingleCase['grid'], FrequencyGrid> = {
    regular: { kind: 'regular', ...single.regular },
    log: { kind: 'list', frequencies: Float64Array.from(single.log) },
    random: { kind: 'list', frequencies: Float64Array.from(single.random) },
  };
  for (const c of single.cases) {
    for (const engine of engines) {
      it(`${c.grid} grid, fitMean=${c.fitMean}, center=${c.center}, dy=${c.dy}, ${c.normalization}, ${engine}`, () => {
        const p = lombScargle(t, y, c.dy ? dy : undefined, grids[c.grid], {
          fitMean: c.fitMean,
          center: c.center,
          normalization: c.normalization,
          engine,
        });
        expect(p.length).toBe(c.power.length);
        expect(maxRelErr(p, c.power)).toBeLessThan(1e-9);
      });
    }
  }

  it('autoGrid is astropy autofrequency', () => {
    const a = single.autofrequency;
    const g = autoGrid(t, { samplesPerPeak: a.samplesPerPeak, nyquistFactor: a.nyquistFactor });
    expect(g.kind).toBe('regular');
    if (g.kind !== 'regular') return;
    expect(g.n).toBe(a.n);
    expect(Math.abs(g.f0 - a.f0) / a.f0).toBeLessThan(1e-14);
    expect(Math.abs(g.df - a.df) / a.df).toBeLessThan(1e-12);
    expect(Math.abs(g.f0 + (g.n - 1) * g.df - a.last) / a.last).toBeLessThan(1e-12);
  });
});

describe('fast paths against the direct reference on a Stripe 82-like series', () => {
  const { t, y, dy } = s82Like(61, 7);
  const seed = seedGrid();
  const seedF = gridFrequencies(seed);
  // every 7th seed frequency keeps the reference cheap; the smooth kernel still sees a smooth list
  const sub = seedF.filter((_, k) => k % 7 === 0);
  const subGrid: FrequencyGrid = { kind: 'list', frequencies: sub };
  const regular: FrequencyGrid = { kind: 'regular', f0: 1.5, df: 1 / 3300 / 5, n: 1500 };
  for (const fitMean of [true, false]) {
    const refSub = reference(t, y, dy, sub, fitMean);
    const refReg = reference(t, y, dy, gridFrequencies(regular), fitMean, { f0: 1.5, df: 1 / 3300 / 5 });
    for (const engine of engines) {
      it(`log-spaced list, fitMean=${fitMean}, ${engine}: within 1e-9 relative`, () => {
        expect(maxRelErr(lombScargle(t, y, dy, subGrid, { fitMean, engine }), refSub)).toBeLessThan(1e-9);
      });
      it(`regular grid (1500 steps), fitMean=${fitMean}, ${engine}: within 1e-9 relative`, () => {
        expect(maxRelErr(lombScargle(t, y, dy, regular, { fitMean, engine }), refReg)).toBeLessThan(1e-9);
      });
    }
  }
  it('the full seed grid agrees between the fast kernels and per-pair evaluation', () => {
    const direct = lombScargle(t, y, dy, seed, { engine: 'direct' });
    for (const engine of engines) expect(maxRelErr(lombScargle(t, y, dy, seed, { engine }), direct)).toBeLessThan(1e-9);
  });
  it('finds the injected period as the best peak on the seed grid', () => {
    const [best] = bestPeriods(lombScargle(t, y, dy, seed), seed, 1);
    expect(best).toBeDefined();
    expect(Math.abs((best?.period ?? 0) - 0.5791)).toBeLessThan(0.001);
  });
});

describe('grids and peaks', () => {
  it('seedGrid: 10,000 periods log-spaced from 0.01 to 1 day', () => {
    const f = gridFrequencies(seedGrid());
    expect(f.length).toBe(10_000);
    expect(f[0]).toBeCloseTo(1, 12);
    expect(f[9999]).toBeCloseTo(100, 10);
    const r = (f[1] as number) / (f[0] as number);
    let worst = 0;
    for (let k = 1; k < f.length; k++)
      worst = Math.max(worst, Math.abs((f[k] as number) / (f[k - 1] as number) / r - 1));
    expect(worst).toBeLessThan(1e-12);
  });

  it('bestPeriods returns distinct local maxima, highest first', () => {
    const grid: FrequencyGrid = { kind: 'regular', f0: 1, df: 1, n: 7 };
    const power = Float64Array.from([0.1, 0.5, 0.2, 0.9, 0.3, 0.4, 0.35]);
    expect(bestPeriods(power, grid, 5).map((p) => p.frequency)).toEqual([4, 2, 6]);
    expect(bestPeriods(power, grid, 1)[0]).toEqual({ frequency: 4, period: 0.25, power: 0.9 });
    expect(bestPeriods(power, grid, 3, { minRelativeSeparation: 0.6 }).map((p) => p.frequency)).toEqual([4]);
    expect(() => bestPeriods(power, { kind: 'regular', f0: 1, df: 1, n: 3 }, 1)).toThrow(/grid has 3/);
  });

  it('rejects mismatched lengths and unusable points with a message naming them', () => {
    const t = Float64Array.from([1, 2, 3]);
    expect(() => lombScargle(t, Float64Array.from([1, 2]), undefined, seedGrid())).toThrow(/differ in length/);
    expect(() => lombScargle(t, Float64Array.from([1, 2, 3]), Float64Array.from([1, 0, 1]), seedGrid())).toThrow(
      /point 1 is not usable/,
    );
    expect(() => autoGrid(Float64Array.from([5, 5]))).toThrow(/baseline/);
    let code: unknown;
    try {
      lombScargle(t, Float64Array.from([1, 2]), undefined, seedGrid());
    } catch (e) {
      code = (e as { code?: unknown }).code;
    }
    expect(code).toBe('LombScargleInput');
  });
});

describe('WebAssembly kernel bytes', () => {
  it('kernel-wasm.ts is the assembly of kernel.wat', async () => {
    const dir = join(root, 'src', 'science', 'wasm', 'ls');
    const bytes = await assembleLsKernel(readFileSync(join(dir, 'kernel.wat'), 'utf8'));
    const target = join(dir, 'kernel-wasm.ts');
    expect(await lsKernelModuleSource(bytes, target)).toBe(readFileSync(target, 'utf8'));
  });
});
