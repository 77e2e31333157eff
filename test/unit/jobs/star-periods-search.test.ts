import { describe, expect, it } from 'vitest';
import {
  sharedFourierChi2,
  chi2Constant,
  findPeriod,
  fourierChi2,
  topPeaks,
  type BandData,
} from '../../../src/science/lightcurve-period.js';
import { analyticTemplates, mulberry32, templateAt } from '../../../src/science/loaders/synthetic.js';

/** Weighted least squares by Gaussian elimination on the full design matrix: the slow, obvious way. */
function directChi2(b: BandData, f: number, nterms: number): number {
  const m = 2 * nterms + 1;
  const rows = Array.from(b.t, (t) => {
    const r = [1];
    for (let k = 1; k <= nterms; k++) r.push(Math.cos(2 * Math.PI * k * f * t), Math.sin(2 * Math.PI * k * f * t));
    return r;
  });
  const A = Array.from({ length: m }, () => new Array<number>(m + 1).fill(0));
  rows.forEach((r, i) => {
    const w = 1 / b.dy[i]! ** 2;
    for (let p = 0; p < m; p++) {
      for (let q = 0; q < m; q++) A[p]![q]! += w * r[p]! * r[q]!;
      A[p]![m]! += w * r[p]! * b.y[i]!;
    }
  });
  for (let c = 0; c < m; c++) {
    for (let r = c + 1; r < m; r++) {
      const k = A[r]![c]! / A[c]![c]!;
      for (let j = c; j <= m; j++) A[r]![j]! -= k * A[c]![j]!;
    }
  }
  const x = new Array<number>(m).fill(0);
  for (let r = m - 1; r >= 0; r--) {
    let s = A[r]![m]!;
    for (let j = r + 1; j < m; j++) s -= A[r]![j]! * x[j]!;
    x[r] = s / A[r]![r]!;
  }
  return rows.reduce((acc, r, i) => {
    const model = r.reduce((s, v, j) => s + v * x[j]!, 0);
    return acc + ((b.y[i]! - model) / b.dy[i]!) ** 2;
  }, 0);
}

/**
 * An RRab-like star seen once a night from one site, within ±1 h of the same time, every 1–12
 * nights: the sampling that folds a period onto its 1-day aliases.
 */
function nightlyStar(period: number, seed: number, n = 50, jitter = 0.04, noise = 0.08): BandData {
  const rand = mulberry32(seed);
  const [ab] = analyticTemplates();
  const t = new Float64Array(n);
  const y = new Float64Array(n);
  const dy = new Float64Array(n).fill(noise);
  let day = 53000;
  for (let i = 0; i < n; i++) {
    day += 1 + Math.floor(rand() * 12);
    t[i] = day + 0.3 + jitter * (rand() - 0.5);
    const phase = ((((t[i]! - 53000) / period) % 1) + 1) % 1;
    const gauss = Math.sqrt(-2 * Math.log(rand() || 1e-12)) * Math.cos(2 * Math.PI * rand());
    y[i] = 17 + 0.8 * templateAt(ab!, phase) + noise * gauss;
  }
  return { t, y, dy };
}

describe('fourierChi2', () => {
  it('matches a direct least-squares solution', () => {
    const b = nightlyStar(0.61, 1, 40, 0.2, 0.02);
    for (const nterms of [1, 2, 4]) {
      for (const f of [1.3, 1 / 0.61, 3.7]) {
        expect(fourierChi2(b, f, nterms)).toBeCloseTo(directChi2(b, f, nterms), 6);
      }
    }
    expect(fourierChi2(b, 1 / 0.61, 4)).toBeLessThan(0.05 * chi2Constant(b));
  });
});

describe('sharedFourierChi2', () => {
  it('with one band equals the single-band fit; with bands shifted copies it fits as well as separate fits', () => {
    const g = nightlyStar(0.61, 1, 40, 0.2, 0.02);
    const f = 1 / 0.61;
    expect(sharedFourierChi2([g], f, 4, 1)).toBeCloseTo(fourierChi2(g, f, 4), 6);
    // r: the same curve 0.3 mag fainter and 20% smaller (same shape): the shared model needs no extra terms.
    const r: BandData = { t: g.t, y: g.y.map((v) => 0.3 + 17 + 0.8 * (v - 17)), dy: g.dy };
    const shared = sharedFourierChi2([g, r], f, 4, 1);
    const separate = fourierChi2(g, f, 4) + fourierChi2(r, f, 4);
    expect(shared).toBeGreaterThanOrEqual(separate - 1e-6);
    expect(shared).toBeLessThan(1.5 * separate + 5);
    // ...and far better than at a wrong frequency.
    expect(sharedFourierChi2([g, r], f + 0.37, 4, 1)).toBeGreaterThan(10 * shared);
  });
});

describe('topPeaks', () => {
  it('returns distinct local maxima, highest first', () => {
    const p = new Float64Array([0, 1, 0, 0, 5, 4.9, 0, 3, 0]);
    expect(topPeaks(p, 2, 1)).toEqual([4, 7]);
  });
});

describe('findPeriod', () => {
  it("finds RRab periods where the plain periodogram's highest peak is a 1-day alias", async () => {
    const grid = { kind: 'regular' as const, f0: 1 / 1.2, df: 2e-4, n: Math.round((5 - 1 / 1.2) / 2e-4) };
    // Seeds whose highest Lomb-Scargle peak is an alias (checked below), periods 0.4–0.7 d.
    for (const seed of [4, 6, 9, 10, 16, 17, 19]) {
      const period = 0.4 + 0.3 * mulberry32(seed * 7)();
      const r = await findPeriod([nightlyStar(period, seed)], { grid });
      const top = 1 / (grid.f0 + topPeaks(r.powers, 1)[0]! * grid.df);
      expect(Math.abs(top - period)).toBeGreaterThan(0.01);
      expect(Math.abs(r.period - period)).toBeLessThan(0.001);
      expect(r.chi2dof).toBeLessThan(3);
    }
  });

  it('recovers a clean star whatever the sampling', async () => {
    const grid = { kind: 'regular' as const, f0: 1 / 1.2, df: 2e-4, n: Math.round((5 - 1 / 1.2) / 2e-4) };
    const r = await findPeriod([nightlyStar(0.55, 1, 90, 0.2, 0.02)], { grid });
    expect(Math.abs(r.period - 0.55)).toBeLessThan(0.001);
  });

  it('floors the errors when asked', async () => {
    const grid = { kind: 'regular' as const, f0: 1 / 1.2, df: 2e-4, n: Math.round((5 - 1 / 1.2) / 2e-4) };
    const star = nightlyStar(0.55, 1, 90, 0.2, 0.02);
    const plain = await findPeriod([star], { grid });
    const floored = await findPeriod([star], { grid, errorFloor: 0.1 });
    expect(Math.abs(floored.period - 0.55)).toBeLessThan(0.001);
    // Errors of ~0.1 instead of 0.02: chi² per degree of freedom ~25 times smaller.
    expect(floored.chi2dof).toBeLessThan(plain.chi2dof / 10);
  });

  it('returns NaN when no band has enough points', async () => {
    const b = nightlyStar(0.5, 1, 5);
    const r = await findPeriod([b], { grid: { kind: 'regular', f0: 1, df: 0.01, n: 100 } });
    expect(r.period).toBeNaN();
  });
});
