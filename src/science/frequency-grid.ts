/**
 * Frequency grids for periodograms (frequencies in cycles per unit of time, e.g. cycles/day for MJD).
 *
 * A grid is either `regular` (f0 + k·df, k = 0..n-1: the periodogram uses trigonometric recurrences on it) or an
 * explicit `list` of frequencies (any order and spacing; smooth lists such as log-spaced ones get a fast path too).
 */
import { UsageError } from '../errors.js';

/** Evenly spaced frequencies `f0 + k·df` for `k = 0..n-1`, or an explicit list. */
export type FrequencyGrid =
  | { readonly kind: 'regular'; readonly f0: number; readonly df: number; readonly n: number }
  | { readonly kind: 'list'; readonly frequencies: Float64Array };

/** Options of {@link autoGrid}, as astropy's `LombScargle.autofrequency`. */
export interface AutoGridOptions {
  /** Grid points per periodogram peak width 1/baseline (astropy default 5). */
  samplesPerPeak?: number;
  /** Multiple of the average Nyquist frequency N/(2·baseline) for the top frequency (astropy default 5). */
  nyquistFactor?: number;
  /** Lowest frequency; default half a grid step. */
  minimumFrequency?: number;
  /** Highest frequency; default nyquistFactor · N / (2·baseline). */
  maximumFrequency?: number;
}

/** Number of frequencies in a grid. */
export function gridSize(grid: FrequencyGrid): number {
  return grid.kind === 'regular' ? grid.n : grid.frequencies.length;
}

/** The k-th frequency of a grid. */
export function gridFrequency(grid: FrequencyGrid, k: number): number {
  return grid.kind === 'regular' ? grid.f0 + k * grid.df : (grid.frequencies[k] as number);
}

/** All frequencies of a grid as an array (a copy for regular grids, the list itself otherwise). */
export function gridFrequencies(grid: FrequencyGrid): Float64Array {
  if (grid.kind === 'list') return grid.frequencies;
  const out = new Float64Array(grid.n);
  for (let k = 0; k < grid.n; k++) out[k] = grid.f0 + k * grid.df;
  return out;
}

/** A list grid of `n` periods log-spaced from `minPeriod` to `maxPeriod` (frequencies ascending). */
export function logPeriodGrid(minPeriod: number, maxPeriod: number, n: number): FrequencyGrid {
  if (!(minPeriod > 0) || !(maxPeriod > minPeriod) || !Number.isInteger(n) || n < 2) {
    throw new UsageError(
      'FrequencyGrid',
      `log period grid needs 0 < minPeriod < maxPeriod and an integer n >= 2, got ${minPeriod}, ${maxPeriod}, ${n}`,
    );
  }
  const lo = Math.log10(minPeriod);
  const hi = Math.log10(maxPeriod);
  const frequencies = new Float64Array(n);
  // Periods ascending (as numpy's logspace) become frequencies descending; store ascending frequencies.
  for (let j = 0; j < n; j++) {
    const period = 10 ** (lo + ((hi - lo) * j) / (n - 1));
    frequencies[n - 1 - j] = 1 / period;
  }
  return { kind: 'list', frequencies };
}

/** The star-period job's seed grid: 10,000 periods log-spaced from 0.01 to 1 day (frequencies 1 to 100 per day). */
export function seedGrid(): FrequencyGrid {
  return logPeriodGrid(0.01, 1, 10_000);
}

/**
 * A regular grid from the observation times, as astropy's `LombScargle.autofrequency`:
 * `df = 1/(baseline·samplesPerPeak)`, from `minimumFrequency` (default df/2) to `maximumFrequency`
 * (default `nyquistFactor · N/(2·baseline)`), `n = 1 + round((fmax - fmin)/df)`.
 */
export function autoGrid(t: Float64Array, options: AutoGridOptions = {}): FrequencyGrid {
  const samplesPerPeak = options.samplesPerPeak ?? 5;
  const nyquistFactor = options.nyquistFactor ?? 5;
  let tmin = Infinity;
  let tmax = -Infinity;
  for (let i = 0; i < t.length; i++) {
    const v = t[i] as number;
    if (v < tmin) tmin = v;
    if (v > tmax) tmax = v;
  }
  const baseline = tmax - tmin;
  if (!(baseline > 0) || !Number.isFinite(baseline)) {
    throw new UsageError(
      'FrequencyGrid',
      `auto frequency grid needs at least two distinct finite times, got baseline ${baseline}`,
    );
  }
  if (!(samplesPerPeak > 0) || !(nyquistFactor > 0)) {
    throw new UsageError(
      'FrequencyGrid',
      `samplesPerPeak and nyquistFactor must be positive, got ${samplesPerPeak}, ${nyquistFactor}`,
    );
  }
  const df = 1 / baseline / samplesPerPeak;
  const f0 = options.minimumFrequency ?? 0.5 * df;
  const fmax = options.maximumFrequency ?? nyquistFactor * ((0.5 * t.length) / baseline);
  const n = 1 + Math.round((fmax - f0) / df);
  if (!(n >= 1))
    throw new UsageError('FrequencyGrid', `auto frequency grid is empty: minimum ${f0} is above maximum ${fmax}`);
  return { kind: 'regular', f0, df, n };
}
