import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UsageError } from '../../errors.js';
import type { Catalogue, SkippedStar, Star } from './lightcurve.js';
import { sortedSeries } from './s82.js';
import { keptStars, readStarFiles, type LoadOptions } from './star-files.js';
import { DataFormatError, cellNumber, exists, isDirectory, parseNumericRows, parseTable, readText } from './text.js';

/**
 * LINEAR light curves in astroML's `fetch_LINEAR_sample` format: a tar (`allLINEARfinal_dat.tar.gz`)
 * of `<id>.dat` files with columns `t mag mag_err`, plus the targets table
 * `allLINEARfinal_targets.dat(.gz)` (objectID, gr, LP1 = log10 period, ...). The single unfiltered
 * band is called `L`.
 */

const ARCHIVES = ['allLINEARfinal_dat.tar.gz', 'allLINEARfinal_dat.tgz', 'allLINEARfinal_dat.tar'];
const TARGETS = ['allLINEARfinal_targets.dat.gz', 'allLINEARfinal_targets.dat'];

/** Parses one LINEAR light curve; a malformed line makes the star a SkippedStar. */
export function parseLinearStar(id: string, file: string, text: string): Star | SkippedStar {
  const t: number[] = [];
  const mag: number[] = [];
  const err: number[] = [];
  try {
    parseNumericRows(
      text,
      file,
      3,
      (v, line) => {
        if (v.length !== 3)
          throw new DataFormatError(file, line, `expected 3 columns (t mag mag_err), found ${v.length}`);
        if (!(v[2]! > 0) || v[1]! < -90) return;
        t.push(v[0]!);
        mag.push(v[1]!);
        err.push(v[2]!);
      },
      't mag mag_err',
    );
  } catch (err) {
    if (err instanceof DataFormatError) return { id, file, line: err.line, reason: err.reason };
    throw err;
  }
  if (t.length === 0) return { id, file, reason: 'no valid measurements' };
  return { id, bands: { L: sortedSeries(t, mag, err) } };
}

/** The targets table: objectID → {gr, period (10^LP1)}. */
export async function readLinearTargets(file: string): Promise<Map<string, { gr: number; period?: number }>> {
  const table = parseTable(await readText(file), file, ['objectID', 'gr']);
  const out = new Map<string, { gr: number; period?: number }>();
  for (const row of table.rows) {
    const entry: { gr: number; period?: number } = { gr: cellNumber(row, 'gr', file) };
    if (row.LP1 !== undefined) entry.period = 10 ** cellNumber(row, 'LP1', file);
    out.set(row.objectID!, entry);
  }
  return out;
}

async function resolveLinear(path: string): Promise<{ curves: string; isDir: boolean; tableDirs: string[] }> {
  if (!(await exists(path))) {
    throw new UsageError('DataNotFound', `LINEAR data not found at ${path}`, {
      hint: 'pass --param data=PATH: a folder holding allLINEARfinal_dat.tar.gz, or the archive itself',
    });
  }
  if (!(await isDirectory(path))) return { curves: path, isDir: false, tableDirs: [dirname(path)] };
  for (const name of ARCHIVES) {
    if (await exists(join(path, name))) return { curves: join(path, name), isDir: false, tableDirs: [path] };
  }
  const entries = await readdir(path);
  if (entries.some((e) => /^\d+\.dat$/.test(e))) return { curves: path, isDir: true, tableDirs: [path, dirname(path)] };
  const tablesOnly = TARGETS.some((t) => entries.includes(t));
  throw new UsageError('DataNotFound', `no LINEAR light curves in ${path}`, {
    hint: tablesOnly
      ? 'this folder has the catalogue tables only; add allLINEARfinal_dat.tar.gz (astroML fetch_LINEAR_sample), or use format=synthetic'
      : 'expected allLINEARfinal_dat.tar.gz or <id>.dat files with columns t mag mag_err',
  });
}

/** Loads LINEAR light curves (archive, folder of <id>.dat, or a folder holding the archive) with g-r from the targets table. */
export async function loadLinear(path: string, options: LoadOptions = {}): Promise<Catalogue> {
  const where = await resolveLinear(path);
  const { stars, skipped } = await readStarFiles({ path: where.curves, isDir: where.isDir }, parseLinearStar, options);
  if (stars.length === 0 && skipped.length === 0) {
    throw new UsageError('DataNotFound', `no light curves (<id>.dat) in ${where.curves}`, {
      hint: 'expected <id>.dat files with columns t mag mag_err (astroML LINEAR format)',
    });
  }
  let targets: Map<string, { gr: number; period?: number }> | undefined;
  for (const dir of where.tableDirs) {
    for (const candidate of TARGETS.map((t) => join(dir, t))) {
      if (!targets && (await exists(candidate))) targets = await readLinearTargets(candidate);
    }
  }
  for (const star of stars) {
    const row = targets?.get(star.id);
    if (!row) continue;
    star.gr = row.gr;
    if (row.period !== undefined) star.publishedPeriod = row.period;
  }
  return { format: 'linear', source: path, stars: keptStars(stars, options), skipped };
}
