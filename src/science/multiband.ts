/**
 * Shared-period multiband Lomb-Scargle periodogram (VanderPlas & Ivezić 2015), as astropy's
 * `LombScargleMultiband(...).power(f, method='flexible')` and gatspy's `LombScargleMultiband`.
 *
 * ```ts
 * multibandLombScargle(
 *   [{ t, y, dy, band: 'u' }, { t, y, dy, band: 'g' }, ...],
 *   grid,
 *   { ntermsBase: 0, ntermsBand: 1 },   // defaults; astropy's nterms_base / nterms_band (snake_case accepted too)
 * ) → Float64Array power in [0, 1]
 * ```
 * Model at each frequency ω: a base Fourier series with `ntermsBase` harmonics shared by all bands (plus a
 * constant), and per band an offset and `ntermsBand` harmonics. Power = (χ²_ref − χ²_model)/χ²_ref with
 * χ²_ref about each band's weighted mean. Regularisation as astropy: `regBand` (default 1e-6) on the band
 * columns' diagonal, `regBase` (default none) on the base columns, both times the trace when
 * `regularizeByTrace` (default true) — it makes the (otherwise redundant) constant columns solvable.
 *
 * Speed: with at most one harmonic the normal equations come from the same six trigonometric sums per band as
 * the single-band periodogram (so the same fast kernels); more harmonics use exact per-pair sums.
 */
import { UsageError } from '../errors.js';
import type { Engine } from './lombscargle.js';
import { prepareSeries, trigSums } from './lombscargle.js';
import type { FrequencyGrid } from './frequency-grid.js';
import { gridFrequencies, gridSize } from './frequency-grid.js';
import { cosSin2PiProduct, SUMS_PER_FREQUENCY } from './lombscargle-kernels.js';

/** One band's light curve. Entries with the same `band` are merged. */
export interface BandSeries {
  t: Float64Array;
  y: Float64Array;
  /** Errors; undefined means equal weights. */
  dy?: Float64Array | undefined;
  band: string;
}

export interface MultibandOptions {
  /** Harmonics shared by all bands (default 0: VanderPlas & Ivezić's shared-period model). */
  ntermsBase?: number;
  /** Harmonics per band (default 1). */
  ntermsBand?: number;
  /** Aliases of ntermsBase / ntermsBand with astropy's names. */
  nterms_base?: number;
  nterms_band?: number;
  /** Regularisation of the base columns (default null: none). */
  regBase?: number | null;
  /** Regularisation of the band columns (default 1e-6). */
  regBand?: number | null;
  /** Scale the regularisation by the trace of the normal matrix (default true). */
  regularizeByTrace?: boolean;
  /** Subtract each band's weighted mean first (default true). */
  center?: boolean;
  engine?: Engine;
}

interface Column {
  /** -1 for base columns, else the band index. */
  band: number;
  /** 0 for the constant, n for harmonic n. */
  harmonic: number;
  kind: 'one' | 'sin' | 'cos';
}

/** Per-band harmonic sums at one frequency: Σw cos mθ, Σw sin mθ (m ≤ 2H), Σwy cos mθ, Σwy sin mθ (m ≤ H). */
interface BandSums {
  wc: Float64Array;
  ws: Float64Array;
  yc: Float64Array;
  ys: Float64Array;
}

export function multibandLombScargle(
  bands: readonly BandSeries[],
  grid: FrequencyGrid,
  options: MultibandOptions = {},
): Float64Array {
  const nb = options.ntermsBase ?? options.nterms_base ?? 0;
  const nk = options.ntermsBand ?? options.nterms_band ?? 1;
  if (!Number.isInteger(nb) || !Number.isInteger(nk) || nb < 0 || nk < 0 || nb + nk === 0) {
    throw new UsageError(
      'MultibandInput',
      `multiband needs integer ntermsBase, ntermsBand >= 0, not both 0; got ${nb} and ${nk} (the default is 0 and 1)`,
    );
  }
  const regBase = options.regBase === undefined ? null : options.regBase;
  const regBand = options.regBand === undefined ? 1e-6 : options.regBand;
  const byTrace = options.regularizeByTrace ?? true;
  const series = mergeBands(bands, options.center ?? true);
  let chi2Ref = 0;
  for (const s of series) chi2Ref += s.YY;

  const cols = modelColumns(series.length, nb, nk);
  const p = cols.length;
  const nBase = 1 + 2 * nb;
  const reg = new Float64Array(p);
  for (let j = 0; j < p; j++) reg[j] = (j < nBase ? regBase : regBand) ?? 0;
  const H = Math.max(nb, nk);

  const m = gridSize(grid);
  const perBand = series.map((s) => harmonicSums(s, grid, H, options.engine ?? 'auto'));
  const power = new Float64Array(m);
  const M = new Float64Array(p * p);
  const rhs = new Float64Array(p);
  const scratch = { L: new Float64Array(p * p), z: new Float64Array(p) };
  const { flat, sums, mTarget, mSource, mCoef, yTarget, ySource } = normalRecipe(cols, series.length, H);
  const regularize = reg.some((v) => v !== 0);
  for (let k = 0; k < m; k++) {
    for (let b = 0; b < series.length; b++) (perBand[b] as (k: number, out: BandSums) => void)(k, sums[b] as BandSums);
    M.fill(0);
    rhs.fill(0);
    for (let e = 0; e < mTarget.length; e++) {
      const at = mTarget[e] as number;
      M[at] = (M[at] as number) + (mCoef[e] as number) * (flat[mSource[e] as number] as number);
    }
    for (let e = 0; e < yTarget.length; e++) {
      const at = yTarget[e] as number;
      rhs[at] = (rhs[at] as number) + (flat[ySource[e] as number] as number);
    }
    for (let r = 0; r < p; r++) for (let c = r + 1; c < p; c++) M[c * p + r] = M[r * p + c] as number;
    if (regularize) {
      let trace = 0;
      for (let j = 0; j < p; j++) trace += M[j * p + j] as number;
      const scale = byTrace ? trace : 1;
      for (let j = 0; j < p; j++) M[j * p + j] = (M[j * p + j] as number) + scale * (reg[j] as number);
    }
    const delta = quadraticSolve(M, rhs, p, scratch);
    power[k] = chi2Ref > 0 ? delta / chi2Ref : 0;
  }
  return power;
}

/** One prepared series per band name (entries of the same band merged), sorted as numpy.unique does. */
function mergeBands(bands: readonly BandSeries[], center: boolean): ReturnType<typeof prepareSeries>[] {
  const names = [...new Set(bands.map((b) => b.band))].sort();
  if (names.length === 0) throw new UsageError('MultibandInput', 'multiband periodogram needs at least one band');
  let tmin = Infinity;
  let tmax = -Infinity;
  for (const b of bands) {
    for (let i = 0; i < b.t.length; i++) {
      const v = b.t[i] as number;
      if (v < tmin) tmin = v;
      if (v > tmax) tmax = v;
    }
  }
  const tref = Number.isFinite(tmin) ? 0.5 * (tmin + tmax) : 0;
  return names.map((name) => {
    const parts = bands.filter((b) => b.band === name);
    const t = concat(parts.map((p) => p.t));
    const y = concat(parts.map((p) => p.y));
    const dy = parts.every((p) => p.dy === undefined)
      ? undefined
      : concat(parts.map((p) => p.dy ?? new Float64Array(p.t.length).fill(1)));
    return prepareSeries(t, y, dy, center, false, tref);
  });
}

/** Columns: base [1, sin ω, cos ω, ...], then per band [1, sin ω, cos ω, ...] (astropy's order). */
function modelColumns(bandCount: number, nb: number, nk: number): Column[] {
  const cols: Column[] = [{ band: -1, harmonic: 0, kind: 'one' }];
  for (let h = 1; h <= nb; h++)
    cols.push({ band: -1, harmonic: h, kind: 'sin' }, { band: -1, harmonic: h, kind: 'cos' });
  for (let b = 0; b < bandCount; b++) {
    cols.push({ band: b, harmonic: 0, kind: 'one' });
    for (let h = 1; h <= nk; h++)
      cols.push({ band: b, harmonic: h, kind: 'sin' }, { band: b, harmonic: h, kind: 'cos' });
  }
  return cols;
}

/**
 * All bands' sums in one flat array (views per band), and the normal equations as a fixed recipe of
 * (target entry, source sum, coefficient) terms over it, compiled once.
 */
function normalRecipe(cols: Column[], bandCount: number, H: number) {
  const p = cols.length;
  const L = 2 * (2 * H + 1) + 2 * (H + 1);
  const flat = new Float64Array(bandCount * L);
  const sums: BandSums[] = Array.from({ length: bandCount }, (_, b) => ({
    wc: flat.subarray(b * L, b * L + 2 * H + 1),
    ws: flat.subarray(b * L + 2 * H + 1, b * L + 4 * H + 2),
    yc: flat.subarray(b * L + 4 * H + 2, b * L + 5 * H + 3),
    ys: flat.subarray(b * L + 5 * H + 3, b * L + 6 * H + 4),
  }));
  const offset = { wc: 0, ws: 2 * H + 1, yc: 4 * H + 2, ys: 5 * H + 3 };
  const mTarget: number[] = [];
  const mSource: number[] = [];
  const mCoef: number[] = [];
  const yTarget: number[] = [];
  const ySource: number[] = [];
  for (let r = 0; r < p; r++) {
    const cr = cols[r] as Column;
    for (let b = 0; b < bandCount; b++) {
      if (cr.band >= 0 && cr.band !== b) continue;
      const [arr, idx] = ySource1(cr);
      yTarget.push(r);
      ySource.push(b * L + offset[arr] + idx);
      for (let c = r; c < p; c++) {
        const cc = cols[c] as Column;
        if (cc.band >= 0 && cc.band !== b) continue;
        for (const [arr2, idx2, coef] of productTerms(cr, cc)) {
          mTarget.push(r * p + c);
          mSource.push(b * L + offset[arr2] + idx2);
          mCoef.push(coef);
        }
      }
    }
  }
  return { flat, sums, mTarget, mSource, mCoef, yTarget, ySource };
}

function concat(parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

type SumArray = 'wc' | 'ws' | 'yc' | 'ys';

/** Where Σ w·y·φ of one band is: Σ wy cos nθ, Σ wy sin nθ or Σ wy. */
function ySource1(c: Column): [SumArray, number] {
  if (c.kind === 'one') return ['yc', 0];
  return [c.kind === 'cos' ? 'yc' : 'ys', c.harmonic];
}

/** Σ w cos mθ (any sign of m) as (array, index, coefficient) terms. */
function wcTerm(m: number, coef: number): [SumArray, number, number] {
  return ['wc', Math.abs(m), coef];
}
/** Σ w sin mθ (any sign of m; sin is odd) as terms. */
function wsTerm(m: number, coef: number): [SumArray, number, number][] {
  if (m === 0) return [];
  return m > 0 ? [['ws', m, coef]] : [['ws', -m, -coef]];
}

/** Σ w·φ1·φ2 for one band as a sum of harmonic sums, by product-to-sum identities. */
function productTerms(c1: Column, c2: Column): [SumArray, number, number][] {
  const a = c1.harmonic;
  const b = c2.harmonic;
  if (c1.kind === 'one' && c2.kind === 'one') return [['wc', 0, 1]];
  if (c1.kind === 'one') return c2.kind === 'cos' ? [wcTerm(b, 1)] : wsTerm(b, 1);
  if (c2.kind === 'one') return c1.kind === 'cos' ? [wcTerm(a, 1)] : wsTerm(a, 1);
  if (c1.kind === 'sin' && c2.kind === 'sin') return [wcTerm(a - b, 0.5), wcTerm(a + b, -0.5)];
  if (c1.kind === 'cos' && c2.kind === 'cos') return [wcTerm(a - b, 0.5), wcTerm(a + b, 0.5)];
  if (c1.kind === 'sin') return [...wsTerm(a + b, 0.5), ...wsTerm(a - b, 0.5)]; // sin a·cos b
  return [...wsTerm(a + b, 0.5), ...wsTerm(b - a, 0.5)]; // cos a·sin b
}

/**
 * yᵀX (M)⁻¹ Xᵀy for a symmetric positive semi-definite M: Cholesky, skipping (near-)zero pivots, which drops
 * columns that depend on earlier ones and so gives the projection astropy's least-squares fallback gives.
 */
function quadraticSolve(
  M: Float64Array,
  rhs: Float64Array,
  p: number,
  scratch: { L: Float64Array; z: Float64Array },
): number {
  const { L, z } = scratch;
  L.set(M);
  let total = 0;
  for (let j = 0; j < p; j++) {
    const diag0 = M[j * p + j] as number;
    let d = L[j * p + j] as number;
    for (let q = 0; q < j; q++) d -= (L[j * p + q] as number) ** 2;
    if (!(d > 1e-13 * Math.abs(diag0)) || !(d > 0)) {
      for (let r = j; r < p; r++) L[r * p + j] = 0;
      z[j] = 0;
      continue;
    }
    const ljj = Math.sqrt(d);
    L[j * p + j] = ljj;
    for (let r = j + 1; r < p; r++) {
      let v = L[r * p + j] as number;
      for (let q = 0; q < j; q++) v -= (L[r * p + q] as number) * (L[j * p + q] as number);
      L[r * p + j] = v / ljj;
    }
    // Forward substitution of L u = rhs, one row at a time: ‖u‖² = rhsᵀ M⁻¹ rhs.
    let u = rhs[j] as number;
    for (let q = 0; q < j; q++) u -= (L[j * p + q] as number) * (z[q] as number);
    u /= ljj;
    z[j] = u;
    total += u * u;
  }
  return total;
}

/**
 * Per-band harmonic sums at every frequency, returned as a filler `(k, out)`. One harmonic: the single-band
 * kernels' six sums. More: exact per-pair cos/sin and complex powers.
 */
function harmonicSums(
  s: ReturnType<typeof prepareSeries>,
  grid: FrequencyGrid,
  H: number,
  engine: Engine,
): (k: number, out: BandSums) => void {
  const W = s.W;
  const Y = s.Y;
  if (H <= 1) {
    const sums = trigSums(s, grid, engine);
    return (k, out) => {
      const o = SUMS_PER_FREQUENCY * k;
      out.wc[0] = W;
      out.ws[0] = 0;
      out.yc[0] = Y;
      out.ys[0] = 0;
      if (H === 0) return;
      out.wc[1] = sums[o] as number;
      out.ws[1] = sums[o + 1] as number;
      out.yc[1] = sums[o + 2] as number;
      out.ys[1] = sums[o + 3] as number;
      out.wc[2] = 2 * (sums[o + 4] as number) - W;
      out.ws[2] = 2 * (sums[o + 5] as number);
    };
  }
  const f = gridFrequencies(grid);
  const n = s.t.length;
  const M = 2 * H + 1;
  const table = new Float64Array(f.length * (2 * M + 2 * (H + 1)));
  const stride = 2 * M + 2 * (H + 1);
  const cs = new Float64Array(2);
  for (let k = 0; k < f.length; k++) {
    const base = k * stride;
    for (let i = 0; i < n; i++) {
      cosSin2PiProduct(f[k] as number, s.t[i] as number, cs, 0);
      const c1 = cs[0] as number;
      const s1 = cs[1] as number;
      const wi = s.w[i] as number;
      const wyi = s.wy[i] as number;
      let zr = 1;
      let zi = 0;
      for (let mm = 0; mm < M; mm++) {
        table[base + mm] = (table[base + mm] as number) + wi * zr;
        table[base + M + mm] = (table[base + M + mm] as number) + wi * zi;
        if (mm <= H) {
          table[base + 2 * M + mm] = (table[base + 2 * M + mm] as number) + wyi * zr;
          table[base + 2 * M + H + 1 + mm] = (table[base + 2 * M + H + 1 + mm] as number) + wyi * zi;
        }
        const nr = zr * c1 - zi * s1;
        zi = zr * s1 + zi * c1;
        zr = nr;
      }
    }
  }
  return (k, out) => {
    const base = k * stride;
    for (let mm = 0; mm < M; mm++) {
      out.wc[mm] = table[base + mm] as number;
      out.ws[mm] = table[base + M + mm] as number;
    }
    for (let mm = 0; mm <= H; mm++) {
      out.yc[mm] = table[base + 2 * M + mm] as number;
      out.ys[mm] = table[base + 2 * M + H + 1 + mm] as number;
    }
  };
}
