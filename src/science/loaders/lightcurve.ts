/**
 * Light curves as the star-period job sees them: per band, three Float64Arrays of equal length
 * (time in MJD, magnitude, magnitude error), missing points already dropped.
 */

/** SDSS bands, plus `L` for LINEAR's unfiltered band. */
export type BandName = 'u' | 'g' | 'r' | 'i' | 'z' | 'L';
export const SDSS_BANDS = ['u', 'g', 'r', 'i', 'z'] as const;

export interface BandSeries {
  t: Float64Array;
  mag: Float64Array;
  err: Float64Array;
}

export interface Star {
  id: string;
  bands: Partial<Record<BandName, BandSeries>>;
  ra?: number;
  dec?: number;
  /** SDSS g-r colour (Stripe 82: `grmin` of table3; LINEAR: `gr` of the targets table). */
  gr?: number;
  /** Published period in days (Stripe 82 table2 `P`, LINEAR `LP1`, or the true period of a synthetic star). */
  publishedPeriod?: number;
  /** RR Lyrae subtype or light-curve class when the catalogue gives one. */
  type?: string;
}

/** A star that could not be read; the run goes on without it. */
export interface SkippedStar {
  id: string;
  file: string;
  line?: number;
  reason: string;
}

export interface Catalogue {
  format: 's82' | 'linear' | 'synthetic';
  /** Where the light curves came from (a path, or `synthetic:<seed>`). */
  source: string;
  stars: Star[];
  skipped: SkippedStar[];
}

/** Error-weighted mean magnitude and mean error of one band. */
export function bandSummary(b: BandSeries): { meanMag: number; meanErr: number; nObs: number } {
  let sw = 0;
  let swm = 0;
  let se = 0;
  for (let i = 0; i < b.t.length; i++) {
    const e = b.err[i]!;
    const w = 1 / (e * e);
    sw += w;
    swm += w * b.mag[i]!;
    se += e;
  }
  const n = b.t.length;
  return { meanMag: n ? swm / sw : NaN, meanErr: n ? se / n : NaN, nObs: n };
}
