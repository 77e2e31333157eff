import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UsageError } from '../../errors.js';
import { SDSS_BANDS, type BandSeries, type Catalogue, type SkippedStar, type Star } from './lightcurve.js';
import { keptStars, readStarFiles, type LoadOptions } from './star-files.js';
import { DataFormatError, cellNumber, exists, isDirectory, parseNumericRows, parseTable, readText } from './text.js';

/**
 * Stripe 82 RR Lyrae light curves in Sesar et al. (2010)'s format.
 *
 * table1: one file per star, one line per epoch:
 * `ra dec  u_mjd u_mag u_err  g_mjd g_mag g_err  r_mjd r_mag r_err  i_mjd i_mag i_err  z_mjd z_mag z_err`.
 * A magnitude of -99.99 or a non-positive error marks a missing point in that band.
 * table2 (optional): `id type P ...` published periods; table3 (optional): `... grmin ...` colours.
 */

export type { LoadOptions } from './star-files.js';
export { sortById } from './star-files.js';

const TABLE1_COLUMNS = 17;
const MISSING_MAG = -99.99;

/** Parses one table1 star file; a malformed line makes the whole star a SkippedStar. */
export function parseS82Star(id: string, file: string, text: string): Star | SkippedStar {
  const cols = SDSS_BANDS.map(() => ({ t: [] as number[], mag: [] as number[], err: [] as number[] }));
  let ra: number | undefined;
  let dec: number | undefined;
  try {
    parseNumericRows(text, file, TABLE1_COLUMNS, (v, line) => {
      if (v.length !== TABLE1_COLUMNS) {
        throw new DataFormatError(file, line, `expected ${TABLE1_COLUMNS} columns, found ${v.length}`);
      }
      ra ??= v[0];
      dec ??= v[1];
      for (let b = 0; b < SDSS_BANDS.length; b++) {
        const t = v[2 + 3 * b]!;
        const mag = v[3 + 3 * b]!;
        const err = v[4 + 3 * b]!;
        if (Math.abs(mag - MISSING_MAG) < 1e-6 || !(err > 0) || mag < -90 || t <= 0) continue;
        const c = cols[b]!;
        c.t.push(t);
        c.mag.push(mag);
        c.err.push(err);
      }
    });
  } catch (err) {
    if (err instanceof DataFormatError) return { id, file, line: err.line, reason: err.reason };
    throw err;
  }
  const bands: Star['bands'] = {};
  let total = 0;
  for (let b = 0; b < SDSS_BANDS.length; b++) {
    const c = cols[b]!;
    if (c.t.length === 0) continue;
    total += c.t.length;
    bands[SDSS_BANDS[b]!] = sortedSeries(c.t, c.mag, c.err);
  }
  if (total === 0) return { id, file, reason: 'no valid measurements in any band' };
  const star: Star = { id, bands };
  if (ra !== undefined) star.ra = ra;
  if (dec !== undefined) star.dec = dec;
  return star;
}

/** Sorts by time (the files are mostly sorted, but nothing promises it). */
export function sortedSeries(t: number[], mag: number[], err: number[]): BandSeries {
  const order = t.map((_, i) => i);
  order.sort((a, b) => t[a]! - t[b]!);
  const s: BandSeries = {
    t: new Float64Array(order.length),
    mag: new Float64Array(order.length),
    err: new Float64Array(order.length),
  };
  order.forEach((k, i) => {
    s.t[i] = t[k]!;
    s.mag[i] = mag[k]!;
    s.err[i] = err[k]!;
  });
  return s;
}

interface S82Paths {
  /** table1.tar(.gz) archive or folder of <id>.dat files. */
  table1: string;
  table1IsDir: boolean;
  /** Folders that may hold table2/table3. */
  tableDirs: string[];
}

async function resolveS82(path: string): Promise<S82Paths> {
  if (!(await exists(path))) {
    throw new UsageError('DataNotFound', `stripe 82 data not found at ${path}`, {
      hint: 'pass --param data=PATH: a folder holding table1.tar.gz (or table1/), or the archive itself',
    });
  }
  if (!(await isDirectory(path))) {
    return { table1: path, table1IsDir: false, tableDirs: [dirname(path)] };
  }
  for (const name of ['table1.tar.gz', 'table1.tgz', 'table1.tar']) {
    if (await exists(join(path, name))) return { table1: join(path, name), table1IsDir: false, tableDirs: [path] };
  }
  if (await isDirectory(join(path, 'table1'))) {
    return { table1: join(path, 'table1'), table1IsDir: true, tableDirs: [path] };
  }
  const entries = await readdir(path);
  if (entries.some((e) => /^\d+\.dat$/.test(e))) {
    return { table1: path, table1IsDir: true, tableDirs: [path, dirname(path)] };
  }
  throw new UsageError('DataNotFound', `no stripe 82 light curves in ${path}`, {
    hint: 'expected table1.tar.gz, a table1/ folder, or <id>.dat files (Sesar et al. 2010 format)',
  });
}

async function findTable(dirs: string[], stem: string): Promise<string | undefined> {
  for (const dir of dirs) {
    for (const name of [`${stem}.dat.gz`, `${stem}.dat`]) {
      if (await exists(join(dir, name))) return join(dir, name);
    }
  }
  return undefined;
}

/** Published periods and types from table2: id → {P, type}. */
export async function readS82Table2(file: string): Promise<Map<string, { period: number; type: string }>> {
  const table = parseTable(await readText(file), file, ['id', 'type', 'P']);
  const out = new Map<string, { period: number; type: string }>();
  for (const row of table.rows) out.set(row.id!, { period: cellNumber(row, 'P', file), type: row.type! });
  return out;
}

/** g-r colours at minimum light from table3: id → grmin. */
export async function readS82Table3(file: string): Promise<Map<string, number>> {
  const table = parseTable(await readText(file), file, ['id', 'grmin']);
  const out = new Map<string, number>();
  for (const row of table.rows) out.set(row.id!, cellNumber(row, 'grmin', file));
  return out;
}

/**
 * Loads Stripe 82 RR Lyrae from a folder (`s82-rrlyrae/` with table1.tar.gz or table1/, plus
 * optional table2/table3), a table1 archive, or a folder of star files. Works with table1 alone.
 */
export async function loadS82(path: string, options: LoadOptions = {}): Promise<Catalogue> {
  const paths = await resolveS82(path);
  const { stars, skipped } = await readStarFiles(
    { path: paths.table1, isDir: paths.table1IsDir },
    parseS82Star,
    options,
  );
  if (stars.length === 0 && skipped.length === 0) {
    throw new UsageError('DataNotFound', `no star files (<id>.dat) in ${paths.table1}`, {
      hint: 'expected table1/<id>.dat light curves in Sesar et al. 2010 format',
    });
  }
  const t2 = await findTable(paths.tableDirs, 'table2');
  const t3 = await findTable(paths.tableDirs, 'table3');
  const periods = t2 ? await readS82Table2(t2) : undefined;
  const colours = t3 ? await readS82Table3(t3) : undefined;
  for (const star of stars) {
    const p = periods?.get(star.id);
    if (p) {
      star.publishedPeriod = p.period;
      star.type = p.type;
    }
    const gr = colours?.get(star.id);
    if (gr !== undefined) star.gr = gr;
  }
  return { format: 's82', source: path, stars: keptStars(stars, options), skipped };
}
