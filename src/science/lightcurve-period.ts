/**
 * Period search for RR Lyrae-like light curves: a periodogram over a frequency grid finds the
 * candidate peaks, then a multi-harmonic Fourier fit of every band, at each candidate and its
 * daily aliases, picks the one the light curve's shape supports best. Plain Lomb-Scargle alone
 * often picks a 1-day alias or half the period; the harmonic fit tells them apart because an
 * RR Lyrae curve is strongly non-sinusoidal and the aliases smear its harmonics.
 */

import { gridFrequency, gridSize, type FrequencyGrid } from './frequency-grid.js';
import { lombScargle } from './lombscargle.js';

export type { FrequencyGrid } from './frequency-grid.js';

/** One band of one star (times in days). */
export interface BandData {
  t: Float64Array;
  y: Float64Array;
  dy: Float64Array;
}

/** A single-band periodogram, normalised to [0, 1] like the generalised Lomb-Scargle power. */
export type BandPeriodogram = (band: BandData, grid: FrequencyGrid) => Float64Array | Promise<Float64Array>;

/** The generalised (floating-mean, error-weighted) Lomb-Scargle power of src/science/lombscargle.ts. */
export const generalisedLombScargle: BandPeriodogram = (b, grid) => lombScargle(b.t, b.y, b.dy, grid);

export interface PeriodSearchOptions {
  grid: FrequencyGrid;
  /** Default: the generalised Lomb-Scargle periodogram. */
  periodogram?: BandPeriodogram;
  /** Peaks of the periodogram examined with the harmonic fit. */
  candidates?: number;
  /** Harmonics in the Fourier fit that ranks candidates (default 4). */
  nterms?: number;
  /**
   * The model that ranks candidates: `shared` (default), one Fourier series of `nterms` harmonics
   * for all bands plus `nband` of each band's own (VanderPlas & Ivezić 2015's multiband model), or
   * `independent`, a separate `nterms` series per band.
   */
  model?: 'shared' | 'independent';
  /** Per-band harmonics of the shared model (default 1). */
  nband?: number;
  /**
   * Added in quadrature to every error (mag) before anything is fitted (default 0). Survey errors
   * of a few millimag are smaller than any few-term model's misfit of an RR Lyrae curve; without a
   * floor the fit chases the handful of most precise points.
   */
  errorFloor?: number;
  /** Bands with fewer points are ignored. */
  minPoints?: number;
}

export interface PeriodSearchResult {
  period: number;
  /** Periodogram power at the chosen period's grid point. */
  power: number;
  /** The runner-up (a different peak), for alias diagnostics. */
  period2: number;
  /** Multiband periodogram over the grid (chi²-weighted sum of the band powers). */
  powers: Float64Array;
  /** Reduced chi² of the harmonic fit at the chosen period. */
  chi2dof: number;
}

/** Weighted chi² of a constant model (the periodogram's reference). */
export function chi2Constant(b: BandData): number {
  let sw = 0;
  let swy = 0;
  for (let i = 0; i < b.t.length; i++) {
    const w = 1 / (b.dy[i]! * b.dy[i]!);
    sw += w;
    swy += w * b.y[i]!;
  }
  const mean = swy / sw;
  let c = 0;
  for (let i = 0; i < b.t.length; i++) {
    const r = (b.y[i]! - mean) / b.dy[i]!;
    c += r * r;
  }
  return c;
}

/**
 * Chi² of the weighted least-squares fit `y ≈ a0 + Σ_k (a_k cos 2πkft + b_k sin 2πkft)`,
 * k = 1..nterms, solved by Cholesky on the normal equations (2·nterms+1 unknowns).
 */
export function fourierChi2(b: BandData, f: number, nterms: number): number {
  const m = 2 * nterms + 1;
  const ata = new Float64Array(m * m);
  const aty = new Float64Array(m);
  const row = new Float64Array(m);
  let yty = 0;
  const w2pi = 2 * Math.PI * f;
  for (let i = 0; i < b.t.length; i++) {
    const w = 1 / (b.dy[i]! * b.dy[i]!);
    const y = b.y[i]!;
    const ph = w2pi * b.t[i]!;
    const c1 = Math.cos(ph);
    const s1 = Math.sin(ph);
    row[0] = 1;
    let c = c1;
    let s = s1;
    for (let k = 1; k <= nterms; k++) {
      row[2 * k - 1] = c;
      row[2 * k] = s;
      const cn = c * c1 - s * s1;
      s = s * c1 + c * s1;
      c = cn;
    }
    yty += w * y * y;
    for (let p = 0; p < m; p++) {
      const wp = w * row[p]!;
      aty[p] = aty[p]! + wp * y;
      for (let q = 0; q <= p; q++) ata[p * m + q] = ata[p * m + q]! + wp * row[q]!;
    }
  }
  // Cholesky: ata = L Lᵀ (lower triangle), then z = L⁻¹ aty; chi² = yᵀWy − |z|².
  for (let p = 0; p < m; p++) {
    for (let q = 0; q <= p; q++) {
      let sum = ata[p * m + q]!;
      for (let k = 0; k < q; k++) sum -= ata[p * m + k]! * ata[q * m + k]!;
      if (p === q) {
        if (!(sum > 1e-12 * (ata[p * m + p]! + 1e-300))) return chi2Constant(b);
        ata[p * m + p] = Math.sqrt(sum);
      } else {
        ata[p * m + q] = sum / ata[q * m + q]!;
      }
    }
  }
  let explained = 0;
  for (let p = 0; p < m; p++) {
    let sum = aty[p]!;
    for (let k = 0; k < p; k++) sum -= ata[p * m + k]! * row[k]!;
    row[p] = sum / ata[p * m + p]!;
    explained += row[p]! * row[p]!;
  }
  return Math.max(0, yty - explained);
}

/**
 * Chi² of the shared-shape multiband model of VanderPlas & Ivezić (2015): one Fourier series of
 * `nbase` harmonics common to all bands, plus per band an offset and `nband` harmonics of its own.
 * With nband < nbase it has far fewer free parameters than independent fits per band, so an
 * alias cannot fit each band's noise its own way.
 */
export function sharedFourierChi2(bands: readonly BandData[], f: number, nbase: number, nband: number): number {
  const nb = bands.length;
  // The first band has no harmonics of its own: the others' are relative to it (otherwise the
  // per-band columns would sum to the shared ones and the normal equations be singular).
  const m = nb + 2 * nbase + Math.max(0, nb - 1) * 2 * nband;
  const ata = new Float64Array(m * m);
  const aty = new Float64Array(m);
  const row = new Float64Array(m);
  const idx = new Int32Array(m);
  let yty = 0;
  const w2pi = 2 * Math.PI * f;
  const kmax = Math.max(nbase, nband);
  const cs = new Float64Array(2 * kmax);
  for (let b = 0; b < nb; b++) {
    const band = bands[b]!;
    const bandCol = nb + 2 * nbase + (b - 1) * 2 * nband;
    const own = b === 0 ? 0 : 2 * nband;
    for (let i = 0; i < band.t.length; i++) {
      const w = 1 / (band.dy[i]! * band.dy[i]!);
      const y = band.y[i]!;
      const ph = w2pi * band.t[i]!;
      const c1 = Math.cos(ph);
      const s1 = Math.sin(ph);
      let c = c1;
      let sn = s1;
      for (let k = 0; k < kmax; k++) {
        cs[2 * k] = c;
        cs[2 * k + 1] = sn;
        const cn = c * c1 - sn * s1;
        sn = sn * c1 + c * s1;
        c = cn;
      }
      // Sparse row: this band's offset, the shared harmonics, this band's own harmonics.
      let q = 0;
      idx[q] = b;
      row[q++] = 1;
      for (let k = 0; k < 2 * nbase; k++) {
        idx[q] = nb + k;
        row[q++] = cs[k]!;
      }
      for (let k = 0; k < own; k++) {
        idx[q] = bandCol + k;
        row[q++] = cs[k]!;
      }
      yty += w * y * y;
      for (let p = 0; p < q; p++) {
        const wp = w * row[p]!;
        const P = idx[p]!;
        aty[P] = aty[P]! + wp * y;
        for (let r = 0; r < q; r++) {
          const R = idx[r]!;
          if (R <= P) ata[P * m + R] = ata[P * m + R]! + wp * row[r]!;
        }
      }
    }
  }
  return Math.max(0, yty - choleskyExplained(ata, aty, m));
}

/** |L⁻¹ b|² for the lower-triangular Cholesky factor L of `a` (in place); 0 when singular. */
function choleskyExplained(a: Float64Array, b: Float64Array, m: number): number {
  for (let p = 0; p < m; p++) {
    for (let q = 0; q <= p; q++) {
      let sum = a[p * m + q]!;
      for (let k = 0; k < q; k++) sum -= a[p * m + k]! * a[q * m + k]!;
      if (p === q) {
        if (!(sum > 1e-12 * (a[p * m + p]! + 1e-300))) return 0;
        a[p * m + p] = Math.sqrt(sum);
      } else {
        a[p * m + q] = sum / a[q * m + q]!;
      }
    }
  }
  let explained = 0;
  const z = new Float64Array(m);
  for (let p = 0; p < m; p++) {
    let sum = b[p]!;
    for (let k = 0; k < p; k++) sum -= a[p * m + k]! * z[k]!;
    z[p] = sum / a[p * m + p]!;
    explained += z[p]! * z[p]!;
  }
  return explained;
}

/** Sum over bands of the harmonic-fit chi². */
export function multibandFourierChi2(bands: readonly BandData[], f: number, nterms: number): number {
  let c = 0;
  for (const b of bands) c += fourierChi2(b, f, nterms);
  return c;
}

/** Indices of local maxima of `p`, highest first, at least `separation` samples apart. */
export function topPeaks(p: Float64Array, k: number, separation = 3): number[] {
  const maxima: number[] = [];
  for (let i = 0; i < p.length; i++) {
    const v = p[i]!;
    if ((i === 0 || v >= p[i - 1]!) && (i === p.length - 1 || v > p[i + 1]!)) maxima.push(i);
  }
  maxima.sort((a, b) => p[b]! - p[a]!);
  const out: number[] = [];
  for (const i of maxima) {
    if (out.every((j) => Math.abs(i - j) > separation)) out.push(i);
    if (out.length >= k) break;
  }
  return out;
}

/** Chi²-weighted combination of per-band powers: the multiband (no shared term) periodogram. */
export async function multibandPower(
  bands: readonly BandData[],
  grid: FrequencyGrid,
  periodogram: BandPeriodogram = generalisedLombScargle,
): Promise<Float64Array> {
  const n = gridSize(grid);
  const total = new Float64Array(n);
  let norm = 0;
  for (const b of bands) {
    const c0 = chi2Constant(b);
    const p = await periodogram(b, grid);
    for (let k = 0; k < n; k++) total[k] = total[k]! + c0 * p[k]!;
    norm += c0;
  }
  if (norm > 0) for (let k = 0; k < n; k++) total[k] = total[k]! / norm;
  return total;
}

/** Refines a frequency by a local scan of the harmonic fit over ±`halfWidth`. */
function refine(score: (f: number) => number, f: number, halfWidth: number): { f: number; chi2: number } {
  let best = { f, chi2: score(f) };
  let step = halfWidth / 4;
  for (let round = 0; round < 3; round++) {
    const centre = best.f;
    for (let j = -4; j <= 4; j++) {
      if (j === 0) continue;
      const g = centre + j * step;
      if (g <= 0) continue;
      const chi2 = score(g);
      if (chi2 < best.chi2) best = { f: g, chi2 };
    }
    step /= 4;
  }
  return best;
}

/**
 * Finds the period of one star from one or more bands. Bands with fewer than `minPoints` points
 * are ignored; with no usable band the result's period is NaN.
 */
export async function findPeriod(
  allBands: readonly BandData[],
  options: PeriodSearchOptions,
): Promise<PeriodSearchResult> {
  const nterms = options.nterms ?? 4;
  const minPoints = options.minPoints ?? 2 * nterms + 4;
  const floor = options.errorFloor ?? 0;
  const bands = allBands
    .filter((b) => b.t.length >= minPoints)
    .map((b) => (floor > 0 ? { ...b, dy: b.dy.map((e) => Math.sqrt(e * e + floor * floor)) } : b));
  const { grid } = options;
  const n = gridSize(grid);
  if (bands.length === 0 || n === 0) {
    return { period: NaN, power: NaN, period2: NaN, powers: new Float64Array(n), chi2dof: NaN };
  }
  const powers = await multibandPower(bands, grid, options.periodogram);
  const nband = options.nband ?? 1;
  const score =
    options.model === 'independent'
      ? (f: number) => multibandFourierChi2(bands, f, nterms)
      : (f: number) => sharedFourierChi2(bands, f, nterms, nband);
  const peaks = topPeaks(powers, options.candidates ?? 8);
  let fmin = Infinity;
  let fmax = -Infinity;
  for (const k of [0, n - 1]) {
    fmin = Math.min(fmin, gridFrequency(grid, k));
    fmax = Math.max(fmax, gridFrequency(grid, k));
  }
  const tried: { f: number; chi2: number; k: number }[] = [];
  for (const k of peaks) {
    const f = gridFrequency(grid, k);
    // The local grid step: the refinement scans ± one step, where the true maximum must lie.
    const step =
      Math.abs(gridFrequency(grid, Math.min(n - 1, k + 1)) - gridFrequency(grid, Math.max(0, k - 1))) / 2 || 1e-4;
    // The peak itself and its daily aliases (sampling at one site tends to fold f onto f ± 1 c/d).
    for (const g of [f, f - 1, f + 1]) {
      if (g < fmin || g > fmax) continue;
      if (tried.some((c) => Math.abs(c.f - g) < step)) continue;
      tried.push({ ...refine(score, g, step), k });
    }
  }
  tried.sort((a, b) => a.chi2 - b.chi2);
  const best = tried[0];
  if (!best) return { period: NaN, power: NaN, period2: NaN, powers, chi2dof: NaN };
  // Runner-up: the best candidate that is a different peak (more than 1% away in frequency).
  const second = tried.find((c) => Math.abs(c.f - best.f) > 0.01 * best.f) ?? best;
  let points = 0;
  for (const b of bands) points += b.t.length;
  const params =
    options.model === 'independent'
      ? bands.length * (2 * nterms + 1)
      : bands.length + 2 * nterms + (bands.length - 1) * 2 * nband;
  const dof = Math.max(1, points - params);
  return {
    period: 1 / best.f,
    power: powers[nearestIndex(grid, best.f)]!,
    period2: 1 / second.f,
    powers,
    chi2dof: best.chi2 / dof,
  };
}

/** Index of the grid frequency nearest to f (grids are monotonic). */
export function nearestIndex(grid: FrequencyGrid, f: number): number {
  const n = gridSize(grid);
  if (grid.kind === 'regular') return Math.min(n - 1, Math.max(0, Math.round((f - grid.f0) / grid.df)));
  const fr = grid.frequencies;
  const ascending = n < 2 || fr[n - 1]! >= fr[0]!;
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (fr[mid]! < f === ascending) lo = mid;
    else hi = mid;
  }
  return Math.abs(fr[lo]! - f) <= Math.abs(fr[hi]! - f) ? lo : hi;
}
