import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { FrequencyGrid } from '../../../src/science/lombscargle.js';
import { lombScargle } from '../../../src/science/lombscargle.js';
import type { BandSeries } from '../../../src/science/multiband.js';
import { multibandLombScargle } from '../../../src/science/multiband.js';
import { maxRelErr } from './_numeric.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '_fixtures', 'lombscargle');

interface MultibandFixture {
  bands: { band: string; t: number[]; y: number[]; dy: number[] }[];
  frequencies: number[];
  cases: { ntermsBase: number; ntermsBand: number; power: number[] }[];
}
const fx = JSON.parse(readFileSync(join(fixtures, 'multiband.json'), 'utf8')) as MultibandFixture;
const bands: BandSeries[] = fx.bands.map((b) => ({
  band: b.band,
  t: Float64Array.from(b.t),
  y: Float64Array.from(b.y),
  dy: Float64Array.from(b.dy),
}));
const grid: FrequencyGrid = { kind: 'list', frequencies: Float64Array.from(fx.frequencies) };

/**
 * Direct weighted least squares, no regularisation: per frequency, the design matrix of per-band offset + sin
 * + cos columns, normal equations solved by Gaussian elimination; power = (χ²_ref − χ²)/χ²_ref.
 */
function referenceShared(series: BandSeries[], f: number): number {
  const nb = series.length;
  const p = 3 * nb;
  const A = Array.from({ length: p }, () => new Float64Array(p + 1));
  let chi2ref = 0;
  series.forEach((s, b) => {
    let sw = 0;
    let swy = 0;
    for (let i = 0; i < s.t.length; i++) {
      const w = 1 / (s.dy as Float64Array)[i]! ** 2;
      sw += w;
      swy += w * s.y[i]!;
    }
    const mean = swy / sw;
    for (let i = 0; i < s.t.length; i++) {
      const w = 1 / (s.dy as Float64Array)[i]! ** 2;
      const y = s.y[i]! - mean;
      chi2ref += w * y * y;
      const ph = 2 * Math.PI * f * (s.t[i]! - 100);
      const x = [1, Math.sin(ph), Math.cos(ph)];
      for (let r = 0; r < 3; r++) {
        for (let c = 0; c < 3; c++) A[3 * b + r]![3 * b + c]! += w * x[r]! * x[c]!;
        A[3 * b + r]![p]! += w * x[r]! * y;
      }
    }
  });
  const rhs = A.map((row) => row[p]!);
  for (let c = 0; c < p; c++) {
    for (let r = c + 1; r < p; r++) {
      const m = A[r]![c]! / A[c]![c]!;
      for (let k = c; k <= p; k++) A[r]![k]! -= m * A[c]![k]!;
    }
  }
  const beta = new Float64Array(p);
  for (let r = p - 1; r >= 0; r--) {
    let v = A[r]![p]!;
    for (let k = r + 1; k < p; k++) v -= A[r]![k]! * beta[k]!;
    beta[r] = v / A[r]![r]!;
  }
  let delta = 0;
  for (let r = 0; r < p; r++) delta += beta[r]! * rhs[r]!;
  return delta / chi2ref;
}

describe('multibandLombScargle against astropy 8 LombScargleMultiband (flexible)', () => {
  for (const c of fx.cases) {
    it(`nterms_base=${c.ntermsBase}, nterms_band=${c.ntermsBand}: within 1e-9 relative`, () => {
      const p = multibandLombScargle(bands, grid, { ntermsBase: c.ntermsBase, ntermsBand: c.ntermsBand });
      expect(maxRelErr(p, c.power)).toBeLessThan(1e-9);
    });
  }
  it("accepts astropy's option names", () => {
    const a = multibandLombScargle(bands, grid, { nterms_base: 1, nterms_band: 1 });
    expect(maxRelErr(a, fx.cases[1]!.power)).toBeLessThan(1e-9);
  });
});

describe('multibandLombScargle against a direct least-squares reference', () => {
  it('the unregularised shared-period model (0, 1) matches per frequency', () => {
    const f = fx.frequencies.filter((_, k) => k % 5 === 0);
    const p = multibandLombScargle(bands, { kind: 'list', frequencies: Float64Array.from(f) }, { regBand: null });
    const ref = Float64Array.from(f, (v) => referenceShared(bands, v));
    expect(maxRelErr(p, ref)).toBeLessThan(1e-9);
  });

  it('one band with (0, 1) and no regularisation is the generalised single-band periodogram', () => {
    const g = bands[1]!;
    const mb = multibandLombScargle([g], grid, { regBand: null });
    const single = lombScargle(g.t, g.y, g.dy, grid);
    expect(maxRelErr(mb, single)).toBeLessThan(1e-9);
  });

  it('merges entries of the same band and rejects empty models', () => {
    const g = bands[1]!;
    const half = Math.floor(g.t.length / 2);
    const split: BandSeries[] = [
      { band: 'g', t: g.t.subarray(0, half), y: g.y.subarray(0, half), dy: g.dy?.subarray(0, half) },
      { band: 'g', t: g.t.subarray(half), y: g.y.subarray(half), dy: g.dy?.subarray(half) },
    ];
    expect(maxRelErr(multibandLombScargle(split, grid), multibandLombScargle([g], grid))).toBeLessThan(1e-12);
    expect(() => multibandLombScargle(bands, grid, { ntermsBase: 0, ntermsBand: 0 })).toThrow(/not both 0/);
  });
});
