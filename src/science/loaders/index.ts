import { basename, join } from 'node:path';
import { UsageError } from '../../errors.js';
import type { Catalogue } from './lightcurve.js';
import { loadLinear } from './linear.js';
import { loadS82, type LoadOptions } from './s82.js';
import { loadSynthetic } from './synthetic.js';
import { exists, isDirectory } from './text.js';

export * from './lightcurve.js';
export { loadS82, parseS82Star, readS82Table2, readS82Table3, type LoadOptions } from './s82.js';
export { loadLinear, parseLinearStar, readLinearTargets } from './linear.js';
export {
  loadSynthetic,
  analyticTemplates,
  readTemplates,
  linearEpochs,
  mulberry32,
  type SyntheticOptions,
  type Template,
} from './synthetic.js';
export { DataFormatError } from './text.js';

export type DataFormat = Catalogue['format'];

/** Guesses the format of a data path: Stripe 82 (table1) or LINEAR (allLINEARfinal_*). */
export async function detectFormat(path: string): Promise<'s82' | 'linear'> {
  const name = basename(path);
  if (/^table1/.test(name)) return 's82';
  if (/LINEAR/i.test(name)) return 'linear';
  if (await isDirectory(path)) {
    for (const f of ['table1.tar.gz', 'table1.tgz', 'table1.tar', 'table1', 'table2.dat.gz', 'table2.dat']) {
      if (await exists(join(path, f))) return 's82';
    }
    for (const f of ['allLINEARfinal_dat.tar.gz', 'allLINEARfinal_dat.tar', 'allLINEARfinal_targets.dat.gz']) {
      if (await exists(join(path, f))) return 'linear';
    }
  }
  throw new UsageError('UnknownDataFormat', `cannot tell the format of ${path}`, {
    hint: 'add --param format=s82 (Sesar et al. 2010 table1) or --param format=linear (astroML LINEAR)',
  });
}

export interface LoadCatalogueOptions extends LoadOptions {
  /** Path of the data; absent means synthetic. */
  data?: string | undefined;
  format?: DataFormat | undefined;
  /** Seed of the synthetic stars. */
  seed?: number | undefined;
  /** Where the synthetic generator finds its templates and LINEAR tables. */
  syntheticDataDir?: string | undefined;
}

/** Loads stars in any supported format; with no data, generates synthetic LINEAR-like stars (`limit` of them, default 100). */
export async function loadCatalogue(options: LoadCatalogueOptions): Promise<Catalogue> {
  const format = options.format ?? (options.data === undefined ? 'synthetic' : await detectFormat(options.data));
  const pass: LoadOptions = {};
  if (options.limit !== undefined) pass.limit = options.limit;
  if (options.ids !== undefined) pass.ids = options.ids;
  if (format === 'synthetic') {
    if (options.data !== undefined && options.syntheticDataDir === undefined) {
      // format=synthetic with data: the data folder is where the templates and tables live.
      return loadSynthetic({ count: options.limit ?? 100, seed: options.seed ?? 1, dataDir: options.data });
    }
    const synth = { count: options.limit ?? 100, seed: options.seed ?? 1 };
    return loadSynthetic(
      options.syntheticDataDir === undefined ? synth : { ...synth, dataDir: options.syntheticDataDir },
    );
  }
  if (options.data === undefined) {
    throw new UsageError('DataRequired', `format=${format} needs a data path`, {
      hint: `add --param data=PATH, or drop format to use synthetic stars`,
    });
  }
  return format === 's82' ? loadS82(options.data, pass) : loadLinear(options.data, pass);
}
