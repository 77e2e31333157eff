/**
 * Periods of variable stars across the cluster's engines (RR Lyrae by default).
 *
 *   starcluster run jobs/star-periods.ts --local -n 2                       # synthetic LINEAR-like stars
 *   starcluster run jobs/star-periods.ts -c mycluster \
 *     --param data=../shared/data/s82-rrlyrae --param format=s82            # Sesar et al. 2010 Stripe 82
 *
 * The client loads the light curves and sends them to the engines in batches (binary Float64Arrays
 * in the task payload). Each engine computes the generalised Lomb-Scargle periodogram of every star
 * (the chi²-weighted sum over bands with band=multi), then ranks the highest peaks and their daily aliases by the multiband Fourier model of
 * VanderPlas & Ivezić (2015) (4 harmonics shared by all bands, 1 per band, errors floored at
 * 0.03 mag): the fit tells the true period from the aliases plain Lomb-Scargle falls for. The
 * result lists each star's best and runner-up periods, its g-r colour and mean magnitude, and, where
 * the catalogue publishes periods, the fraction recovered within 0.01 day.
 *
 * Params: data (path; absent = synthetic), format (s82|linear|synthetic; guessed from data),
 * band (u|g|r|i|z|multi; default g, the most accurate on Stripe 82; LINEAR and synthetic stars have
 * one band and use it whatever band says), grid (auto: 5 points per
 * peak width between minPeriod and maxPeriod; seed: 10,000 periods log-spaced over 0.01–1 d),
 * limit (stars; synthetic default 100), seed (synthetic stars), star (the star whose light curve,
 * periodogram and phased curve are drawn; default the first).
 */
import { z } from 'zod';
import { defineJob, type Figure } from '../src/jobs/define.js';
import { lightCurveFigure, periodogramFigure, periodsFigure, phasedLightCurveFigure } from '../src/plots/index.js';
import { findPeriod, type BandData } from '../src/science/lightcurve-period.js';
import { autoGrid, gridFrequencies, seedGrid, type FrequencyGrid } from '../src/science/lombscargle.js';
import {
  bandSummary,
  loadCatalogue,
  type BandName,
  type BandSeries,
  type SkippedStar,
  type Star,
} from '../src/science/loaders/index.js';
import { UsageError } from '../src/errors.js';

const params = z
  .object({
    data: z.string().min(1).optional(),
    format: z.enum(['s82', 'linear', 'synthetic']).optional(),
    /** g measured most accurate on Stripe 82 (bench/star-periods.ts): g 96.0%, i 96.0%, multi 94.8%, r 94.8%. */
    band: z.enum(['u', 'g', 'r', 'i', 'z', 'multi']).default('g'),
    grid: z.enum(['seed', 'auto']).default('auto'),
    minPeriod: z.number().positive('minPeriod must be positive (days)').default(0.2),
    maxPeriod: z.number().positive('maxPeriod must be positive (days)').default(1.2),
    limit: z.number().int('limit must be a whole number').min(1, 'limit must be at least 1').optional(),
    seed: z.number().int('seed must be a whole number').min(0).default(1),
    /** Stars per task; default: about four tasks per engine. */
    batch: z.number().int().min(1).optional(),
    star: z.string().optional(),
    nterms: z.number().int().min(1).max(8).default(4),
    /** Magnitudes added in quadrature to every error before fitting (survey errors are smaller than model misfit). */
    errorFloor: z.number().min(0).max(1).default(0.03),
    candidates: z.number().int().min(1).max(50).default(8),
  })
  .refine((p) => p.maxPeriod > p.minPeriod, {
    message: 'maxPeriod must be larger than minPeriod',
    path: ['maxPeriod'],
  });

export type StarPeriodsParams = z.infer<typeof params>;

/** What an engine needs of one star: only the bands it analyses. */
export interface TaskStar {
  id: string;
  bands: Partial<Record<BandName, BandSeries>>;
  gr?: number;
  publishedPeriod?: number;
}

export interface StarPeriodsTask {
  stars: TaskStar[];
  grid: 'seed' | 'auto';
  minPeriod: number;
  maxPeriod: number;
  nterms: number;
  candidates: number;
  errorFloor: number;
  /** Stars the loader skipped, carried by the first task so the summary can report them. */
  skipped?: SkippedStar[];
}

export interface StarPeriod {
  id: string;
  period: number;
  power: number;
  period2: number;
  gr?: number;
  meanMag: number;
  meanErr: number;
  nObs: number;
  publishedPeriod?: number;
}

export interface StarPeriodsTaskResult {
  stars: StarPeriod[];
  skipped?: SkippedStar[];
}

export interface StarPeriodsSummary {
  stars: StarPeriod[];
  /** Fraction of stars with a published period whose period is within 0.01 d of it. */
  recovery?: number;
  /** Stars that could not be read or had too few points. */
  skipped: SkippedStar[];
}

/** Tolerance of `recovery`, days (as VanderPlas & Ivezić 2015). */
export const RECOVERY_TOLERANCE = 0.01;

/** The bands to analyse: one SDSS band, or every band the star has (multi). */
export function selectBands(star: Star, band: StarPeriodsParams['band']): Partial<Record<BandName, BandSeries>> {
  if (band === 'multi') return star.bands;
  const only = star.bands[band];
  if (only) return { [band]: only };
  // Single-band surveys (LINEAR, synthetic) have one band, L: use it whatever was asked.
  if (star.bands.L) return { L: star.bands.L };
  return {};
}

/** The frequency grid for one star's bands. */
export function gridFor(
  bands: readonly BandData[],
  kind: 'seed' | 'auto',
  minPeriod: number,
  maxPeriod: number,
): FrequencyGrid {
  if (kind === 'seed') return seedGrid();
  let n = 0;
  for (const b of bands) n += b.t.length;
  const all = new Float64Array(n);
  let o = 0;
  for (const b of bands) {
    all.set(b.t, o);
    o += b.t.length;
  }
  return autoGrid(all, { samplesPerPeak: 5, minimumFrequency: 1 / maxPeriod, maximumFrequency: 1 / minPeriod });
}

function asBandData(bands: Partial<Record<BandName, BandSeries>>): BandData[] {
  const out: BandData[] = [];
  for (const b of Object.values(bands)) if (b && b.t.length > 0) out.push({ t: b.t, y: b.mag, dy: b.err });
  return out;
}

/** The band whose mean magnitude and error a star reports: r when present (multi), else the first. */
function summaryBand(bands: Partial<Record<BandName, BandSeries>>): BandSeries | undefined {
  return bands.r ?? Object.values(bands).find((b) => b && b.t.length > 0);
}

/** Period of one star (runs on an engine). */
export async function starPeriod(
  star: TaskStar,
  task: Omit<StarPeriodsTask, 'stars'>,
): Promise<{ result: StarPeriod; powers: Float64Array; grid: FrequencyGrid } | SkippedStar> {
  const bands = asBandData(star.bands);
  const minPoints = 2 * task.nterms + 4;
  const usable = bands.filter((b) => b.t.length >= minPoints);
  if (usable.length === 0) {
    return { id: star.id, file: '', reason: `fewer than ${minPoints} points in every analysed band` };
  }
  const grid = gridFor(usable, task.grid, task.minPeriod, task.maxPeriod);
  const r = await findPeriod(usable, {
    grid,
    nterms: task.nterms,
    candidates: task.candidates,
    minPoints,
    model: 'shared',
    errorFloor: task.errorFloor,
  });
  const main = summaryBand(star.bands)!;
  const s = bandSummary(main);
  let nObs = 0;
  for (const b of usable) nObs += b.t.length;
  const result: StarPeriod = {
    id: star.id,
    period: r.period,
    power: r.power,
    period2: r.period2,
    meanMag: s.meanMag,
    meanErr: s.meanErr,
    nObs,
  };
  if (star.gr !== undefined) result.gr = star.gr;
  if (star.publishedPeriod !== undefined) result.publishedPeriod = star.publishedPeriod;
  return { result, powers: r.powers, grid };
}

/** Fraction of stars with a published period recovered within `tolerance` days (undefined when none has one). */
export function recoveryOf(stars: readonly StarPeriod[], tolerance = RECOVERY_TOLERANCE): number | undefined {
  const known = stars.filter((s) => s.publishedPeriod !== undefined);
  if (known.length === 0) return undefined;
  return known.filter((s) => Math.abs(s.period - s.publishedPeriod!) < tolerance).length / known.length;
}

/** The period search's settings, as each task carries them. */
function searchOf(p: StarPeriodsParams): Omit<StarPeriodsTask, 'stars' | 'skipped'> {
  return {
    grid: p.grid,
    minPeriod: p.minPeriod,
    maxPeriod: p.maxPeriod,
    nterms: p.nterms,
    candidates: p.candidates,
    errorFloor: p.errorFloor,
  };
}

async function loadFor(p: StarPeriodsParams, ids?: readonly string[]) {
  const catalogue = await loadCatalogue({
    data: p.data,
    format: p.format,
    seed: p.seed,
    ...(p.limit !== undefined ? { limit: p.limit } : {}),
    ...(ids ? { ids } : {}),
  });
  if (p.band !== 'multi' && catalogue.format === 's82') {
    const has = catalogue.stars.some((s) => s.bands[p.band as BandName]);
    if (!has) throw new UsageError('NoSuchBand', `no star has ${p.band}-band points`, { hint: 'use band=multi' });
  }
  return catalogue;
}

export default defineJob({
  name: 'star-periods',
  description: 'Periods of RR Lyrae stars: multiband Lomb-Scargle with harmonic-fit alias rejection',
  params,
  tasks: async (p: StarPeriodsParams, ctx): Promise<StarPeriodsTask[]> => {
    const catalogue = await loadFor(p);
    const stars: TaskStar[] = catalogue.stars.map((s) => {
      const t: TaskStar = { id: s.id, bands: selectBands(s, p.band) };
      if (s.gr !== undefined) t.gr = s.gr;
      if (s.publishedPeriod !== undefined) t.publishedPeriod = s.publishedPeriod;
      return t;
    });
    const batch = p.batch ?? Math.max(1, Math.ceil(stars.length / (Math.max(1, ctx.engines) * 4)));
    const common = searchOf(p);
    const tasks: StarPeriodsTask[] = [];
    for (let i = 0; i < stars.length; i += batch) tasks.push({ ...common, stars: stars.slice(i, i + batch) });
    if (tasks.length === 0) tasks.push({ ...common, stars: [] });
    if (catalogue.skipped.length > 0) tasks[0]!.skipped = catalogue.skipped;
    return tasks;
  },
  run: async (task: StarPeriodsTask, ctx): Promise<StarPeriodsTaskResult> => {
    const out: StarPeriodsTaskResult = { stars: [] };
    const skipped: SkippedStar[] = [...(task.skipped ?? [])];
    for (const star of task.stars) {
      if (ctx.signal?.aborted) throw new Error('cancelled');
      const r = await starPeriod(star, task);
      if ('reason' in r) skipped.push(r);
      else out.stars.push(r.result);
    }
    if (skipped.length > 0) out.skipped = skipped;
    return out;
  },
  reduce: (outcomes): StarPeriodsSummary => {
    const stars = outcomes.flatMap((o) => o.value.stars);
    const skipped = outcomes.flatMap((o) => o.value.skipped ?? []);
    const summary: StarPeriodsSummary = { stars, skipped };
    const recovery = recoveryOf(stars);
    if (recovery !== undefined) summary.recovery = recovery;
    return summary;
  },
  plot: async (summary: StarPeriodsSummary, p: StarPeriodsParams): Promise<Figure[]> => {
    const strip = (f: Figure): Figure => ({ name: f.name, title: f.title, svg: f.svg, png: f.png });
    const figures: Figure[] = [strip(await periodsFigure(summary.stars))];
    const chosen = p.star ?? summary.stars[0]?.id;
    if (chosen === undefined) return figures;
    // The plot runs on the client, where the data is: reload the one star and redo its periodogram.
    const catalogue = await loadFor(p, p.format === 'synthetic' || p.data === undefined ? undefined : [chosen]);
    const star = catalogue.stars.find((s) => s.id === chosen);
    if (!star) {
      throw new UsageError('NoSuchStar', `star ${chosen} is not in the data`, {
        hint: `pick one of the result's ids, e.g. --param star=${summary.stars[0]?.id ?? ''}`,
      });
    }
    const bands = selectBands(star, p.band);
    const r = await starPeriod({ id: star.id, bands }, searchOf(p));
    const plotBands = Object.entries(bands).map(([band, b]) => ({ band, t: b!.t, mag: b!.mag, err: b!.err }));
    figures.push(strip(await lightCurveFigure({ id: star.id, bands: plotBands }, { name: 'lightcurve' })));
    if (!('reason' in r)) {
      const periods = gridFrequencies(r.grid).map((f) => 1 / f);
      figures.push(
        strip(
          await periodogramFigure(
            { id: star.id, periods, power: r.powers, best: r.result.period },
            { name: 'periodogram' },
          ),
        ),
      );
      figures.push(
        strip(
          await phasedLightCurveFigure({ id: star.id, bands: plotBands, period: r.result.period }, { name: 'phased' }),
        ),
      );
    }
    return figures;
  },
});
