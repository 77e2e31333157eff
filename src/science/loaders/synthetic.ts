import { join } from 'node:path';
import { UsageError } from '../../errors.js';
import type { Catalogue, Star } from './lightcurve.js';
import { cellNumber, exists, forEachTarFile, parseNumericRows, parseTable, readText } from './text.js';

/**
 * Synthetic LINEAR-like RR Lyrae light curves with known periods, deterministic for a seed: the
 * star-period job's default data, so it runs anywhere.
 *
 * Each star draws (period, amplitude, median magnitude, epochs, g-r, type) jointly from one
 * RR Lyrae row of the LINEAR catalogue (LINEARattributesFinalApr2013 with gr from the targets
 * table) and its shape from Sesar et al. (2010)'s r-band templates (type ab → templates 100+,
 * c → 0 and 1). Epochs follow LINEAR's cadence: ~5 years of seasons (the field is up ~8 months a
 * year), a few exposures a night around local midnight, nights lost to weather and moon; errors
 * grow with magnitude like LINEAR's. Without the templates, an analytic RR Lyrae shape (a few
 * Fourier terms) stands in; without the catalogue, distributions typical of LINEAR RR Lyrae do.
 */

export interface SyntheticOptions {
  /** Number of stars (default 100). */
  count?: number;
  /** Seed of the generator (default 1). */
  seed?: number;
  /**
   * Folder with RRLyr_ugriz_templates.tar.gz and linear/ (the shared data folder). Default
   * `../shared/data` relative to the working directory when it exists; absent files fall back
   * to built-in shapes and distributions.
   */
  dataDir?: string;
  /** Survey length in years (default 5). */
  years?: number;
}

/** A phase-sorted template: normalised magnitude (0 at maximum light, 1 at minimum). */
export interface Template {
  id: string;
  phase: Float64Array;
  mag: Float64Array;
}

/** One row of the catalogue the stars are drawn from. */
export interface LinearRow {
  logP: number;
  amplitude: number;
  magMed: number;
  nObs: number;
  type: 'ab' | 'c';
  gr?: number;
}

/** mulberry32: a tiny, fast 32-bit generator; plenty for synthetic data, and deterministic. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(rand: () => number): number {
  let u = 0;
  while (u === 0) u = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/** Linear interpolation of a periodic template at phase φ ∈ [0, 1). */
export function templateAt(tpl: Template, phi: number): number {
  const { phase, mag } = tpl;
  const n = phase.length;
  let lo = 0;
  let hi = n - 1;
  if (phi <= phase[0]! || phi >= phase[n - 1]!) {
    // Wrap between the last and the first sample.
    const p0 = phase[n - 1]! - 1;
    const span = phase[0]! - p0;
    const x = phi >= phase[n - 1]! ? phi - 1 : phi;
    const f = span > 0 ? (x - p0) / span : 0;
    return mag[n - 1]! + f * (mag[0]! - mag[n - 1]!);
  }
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (phase[mid]! <= phi) lo = mid;
    else hi = mid;
  }
  const f = (phi - phase[lo]!) / (phase[hi]! - phase[lo]! || 1);
  return mag[lo]! + f * (mag[hi]! - mag[lo]!);
}

/** Reads `<n><band>.dat` templates of one band from the templates archive. */
export async function readTemplates(archive: string, band = 'r'): Promise<Template[]> {
  const out: Template[] = [];
  await forEachTarFile(archive, (name, text) => {
    const m = /(?:^|\/)(\d+)([ugriz])\.dat$/.exec(name);
    if (!m || m[2] !== band) return;
    const phase: number[] = [];
    const mag: number[] = [];
    parseNumericRows(text, `${archive}:${name}`, 2, (v) => {
      phase.push(v[0]!);
      mag.push(v[1]!);
    });
    out.push({ id: m[1]!, phase: Float64Array.from(phase), mag: Float64Array.from(mag) });
  });
  out.sort((a, b) => Number(a.id) - Number(b.id));
  return out;
}

/**
 * Built-in RR Lyrae shapes for machines without the templates: a steep rise and slow decline
 * (type ab: a smoothed sawtooth, Fourier amplitude ratios R21 ≈ 0.4, R31 ≈ 0.2) and a nearly
 * sinusoidal curve (type c), sampled at 200 phases and normalised to 0 at maximum, 1 at minimum.
 */
export function analyticTemplates(): Template[] {
  const make = (id: string, amps: number[], phis: number[]): Template => {
    const n = 200;
    const phase = new Float64Array(n);
    const raw = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      phase[j] = j / n;
      let v = 0;
      amps.forEach((a, k) => (v += a * Math.cos(2 * Math.PI * (k + 1) * phase[j]! + phis[k]!)));
      raw[j] = v;
    }
    let lo = Infinity;
    let hi = -Infinity;
    let jmax = 0;
    raw.forEach((v, j) => {
      if (v < lo) {
        lo = v;
        jmax = j;
      }
      hi = Math.max(hi, v);
    });
    // Shift so maximum light (smallest magnitude) sits at phase 0.
    const mag = new Float64Array(n);
    for (let j = 0; j < n; j++) mag[j] = (raw[(j + jmax) % n]! - lo) / (hi - lo);
    return { id, phase, mag };
  };
  return [
    // A sawtooth's Fourier series (−Σ sin(2πkφ)/k: slow fading, then a fast rise to maximum),
    // smoothed with Lanczos factors so the rise takes ~15% of the cycle.
    make(
      'ab',
      [1, 2, 3, 4, 5].map((k) => lanczos(k, 5) / k),
      [1, 2, 3, 4, 5].map(() => Math.PI / 2),
    ),
    make('c', [1, 0.15, 0.05], [0, 3.5, 1.5]),
  ];
}

function lanczos(k: number, terms: number): number {
  const x = (Math.PI * k) / (terms + 1);
  return Math.sin(x) / x;
}

/** Distributions typical of LINEAR RR Lyrae, for machines without the catalogue. */
function drawBuiltInRow(rand: () => number): LinearRow {
  const isC = rand() < 0.25;
  const logP = isC ? -0.48 + 0.04 * gaussian(rand) : -0.25 + 0.06 * gaussian(rand);
  return {
    logP,
    amplitude: isC ? 0.2 + 0.3 * rand() : 0.4 + 0.6 * rand(),
    magMed: 14.5 + 2.5 * rand(),
    nObs: Math.max(60, Math.round(250 + 60 * gaussian(rand))),
    type: isC ? 'c' : 'ab',
    gr: isC ? 0.12 + 0.05 * gaussian(rand) : 0.25 + 0.3 * (logP + 0.25) + 0.04 * gaussian(rand),
  };
}

/** RR Lyrae rows (LCtype 1 = ab, 2 = c) of the LINEAR attributes table, with gr joined from the targets table. */
export async function readLinearRows(attributes: string, targets?: string): Promise<LinearRow[]> {
  const table = parseTable(await readText(attributes), attributes, ['logP', 'Ampl', 'magMed', 'nObs', 'LCtype']);
  const gr = new Map<string, number>();
  if (targets) {
    const t = parseTable(await readText(targets), targets, ['objectID', 'gr']);
    for (const row of t.rows) gr.set(row.objectID!, cellNumber(row, 'gr', targets));
  }
  const rows: LinearRow[] = [];
  for (const row of table.rows) {
    const type = row.LCtype === '1' ? 'ab' : row.LCtype === '2' ? 'c' : undefined;
    if (!type) continue;
    const r: LinearRow = {
      logP: cellNumber(row, 'logP', attributes),
      amplitude: cellNumber(row, 'Ampl', attributes),
      magMed: cellNumber(row, 'magMed', attributes),
      nObs: cellNumber(row, 'nObs', attributes),
      type,
    };
    const g = row.LINEARobjectID !== undefined ? gr.get(row.LINEARobjectID) : undefined;
    if (g !== undefined) r.gr = g;
    rows.push(r);
  }
  return rows;
}

/** LINEAR-like photometric error at magnitude m: ~0.02 mag when bright, ~0.1 at m = 17. */
export function linearError(m: number): number {
  const faint = 0.09 * 10 ** (0.4 * (m - 17));
  return Math.sqrt(0.015 * 0.015 + faint * faint);
}

/**
 * LINEAR-like epochs (MJD, sorted): `nObs` exposures over `years` seasons. Each season the star is
 * observable for ~240 nights around opposition; observed nights are drawn from those (weather
 * and moon take the rest), with 1–5 exposures ~15 min apart, within ±3 h of local midnight.
 */
export function linearEpochs(rand: () => number, nObs: number, years: number, start = 52640): Float64Array {
  const opposition = 365.25 * rand();
  const nights: number[] = [];
  for (let y = 0; y < years; y++) {
    const centre = start + y * 365.25 + opposition;
    for (let d = -120; d <= 120; d++) nights.push(Math.round(centre + d));
  }
  const times: number[] = [];
  let guard = 0;
  while (times.length < nObs && guard++ < 100_000) {
    const night = nights[Math.floor(rand() * nights.length)]!;
    // Local midnight in New Mexico is ~07:00 UT: MJD fraction ~0.29.
    const t0 = night + 0.29 + 0.25 * (rand() - 0.5);
    const visits = 1 + Math.floor(rand() * 5);
    for (let v = 0; v < visits && times.length < nObs; v++) times.push(t0 + v * 0.0104 + 0.002 * rand());
  }
  times.sort((a, b) => a - b);
  return Float64Array.from(times);
}

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

/** Finds `../shared/data` (or the given folder) and what it holds. */
async function resolveInputs(
  dataDir: string | undefined,
): Promise<{ templates?: string; attributes?: string; targets?: string }> {
  const dir = dataDir ?? join(process.cwd(), '..', 'shared', 'data');
  if (dataDir !== undefined && !(await exists(dataDir))) {
    throw new UsageError('DataNotFound', `synthetic data folder not found: ${dataDir}`, {
      hint: 'point it at the folder holding RRLyr_ugriz_templates.tar.gz and linear/, or leave it out',
    });
  }
  const first = async (...paths: string[]): Promise<string | undefined> => {
    for (const p of paths) if (await exists(p)) return p;
    return undefined;
  };
  const out: { templates?: string; attributes?: string; targets?: string } = {};
  const templates = await first(join(dir, 'RRLyr_ugriz_templates.tar.gz'));
  const attributes = await first(
    join(dir, 'linear', 'LINEARattributesFinalApr2013.dat.gz'),
    join(dir, 'LINEARattributesFinalApr2013.dat.gz'),
  );
  const targets = await first(
    join(dir, 'linear', 'allLINEARfinal_targets.dat.gz'),
    join(dir, 'allLINEARfinal_targets.dat.gz'),
  );
  if (templates) out.templates = templates;
  if (attributes) out.attributes = attributes;
  if (targets) out.targets = targets;
  return out;
}

/** Generates the synthetic catalogue (band `L`, publishedPeriod = the true period). */
export async function loadSynthetic(options: SyntheticOptions = {}): Promise<Catalogue & { inputs: string[] }> {
  const count = options.count ?? 100;
  const seed = options.seed ?? 1;
  const years = options.years ?? 5;
  const inputs = await resolveInputs(options.dataDir);
  const templates = inputs.templates ? await readTemplates(inputs.templates, 'r') : analyticTemplates();
  const abTemplates = templates.filter((t) => t.id === 'ab' || Number(t.id) >= 100);
  const cTemplates = templates.filter((t) => t.id === 'c' || (Number(t.id) < 100 && t.id !== 'ab'));
  const rows = inputs.attributes ? await readLinearRows(inputs.attributes, inputs.targets) : undefined;
  const rand = mulberry32(seed);
  const stars: Star[] = [];
  for (let s = 0; s < count; s++) {
    const row = rows && rows.length ? pick(rand, rows) : drawBuiltInRow(rand);
    const period = 10 ** row.logP;
    const tpl = pick(
      rand,
      row.type === 'c' && cTemplates.length ? cTemplates : abTemplates.length ? abTemplates : templates,
    );
    const nObs = Math.max(40, Math.round(row.nObs));
    const t = linearEpochs(rand, nObs, years);
    const epoch = t[0]! + period * rand();
    // magMed is a median: put the template's median at it.
    const sortedTpl = Array.from(tpl.mag).sort((a, b) => a - b);
    const m0 = row.magMed - row.amplitude * sortedTpl[sortedTpl.length >> 1]!;
    const mag = new Float64Array(t.length);
    const err = new Float64Array(t.length);
    for (let i = 0; i < t.length; i++) {
      let phi = ((t[i]! - epoch) / period) % 1;
      if (phi < 0) phi += 1;
      const truth = m0 + row.amplitude * templateAt(tpl, phi);
      const sigma = linearError(truth);
      mag[i] = truth + sigma * gaussian(rand);
      err[i] = sigma * (0.9 + 0.2 * rand());
    }
    const star: Star = {
      id: `synthetic-${seed}-${String(s + 1).padStart(4, '0')}`,
      bands: { L: { t, mag, err } },
      publishedPeriod: period,
      type: row.type,
    };
    star.gr = row.gr ?? (row.type === 'c' ? 0.12 : 0.25 + 0.3 * (row.logP + 0.25));
    stars.push(star);
  }
  const used = [
    inputs.templates ? `templates ${inputs.templates}` : 'built-in analytic RR Lyrae shapes',
    rows ? `LINEAR catalogue ${inputs.attributes}` : 'built-in LINEAR-like distributions',
  ];
  return { format: 'synthetic', source: `synthetic:${seed}`, stars, skipped: [], inputs: used };
}
