import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { SkippedStar, Star } from './lightcurve.js';
import { forEachTarFile, readText, stemOf } from './text.js';

/** Which stars to keep and how many (shared by every catalogue loader). */
export interface LoadOptions {
  /** Keep at most this many stars (after sorting by id). */
  limit?: number;
  /** Keep only these star ids. */
  ids?: readonly string[];
}

/** Where a catalogue's one-file-per-star light curves are: a folder of `<id>.dat` files, or a tar of them. */
export interface StarFiles {
  path: string;
  isDir: boolean;
}

/**
 * Parses every `<id>.dat` light curve of a folder (in name order) or a tar (in archive order) with
 * `parse`, keeping only `options.ids` when given. A star `parse` refuses is returned as skipped.
 */
export async function readStarFiles(
  where: StarFiles,
  parse: (id: string, file: string, text: string) => Star | SkippedStar,
  options: LoadOptions = {},
): Promise<{ stars: Star[]; skipped: SkippedStar[] }> {
  const stars: Star[] = [];
  const skipped: SkippedStar[] = [];
  const wanted = options.ids ? new Set(options.ids) : undefined;
  const take = (name: string, file: string, text: string): void => {
    const id = stemOf(name);
    if (wanted && !wanted.has(id)) return;
    const r = parse(id, file, text);
    if ('reason' in r) skipped.push(r);
    else stars.push(r);
  };
  if (where.isDir) {
    for (const name of (await readdir(where.path)).filter((n) => n.endsWith('.dat')).sort()) {
      const file = join(where.path, name);
      take(name, file, await readText(file));
    }
  } else {
    await forEachTarFile(where.path, (name, text) => {
      if (name.endsWith('.dat')) take(name, `${where.path}:${name}`, text);
    });
  }
  return { stars, skipped };
}

/** Numeric ids in numeric order, others after them alphabetically. */
export function sortById(stars: Star[]): void {
  stars.sort((a, b) => {
    const na = Number(a.id);
    const nb = Number(b.id);
    if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
}

/** The stars sorted by id (in place) and cut to `options.limit`. */
export function keptStars(stars: Star[], options: LoadOptions): Star[] {
  sortById(stars);
  return options.limit !== undefined ? stars.slice(0, Math.max(0, options.limit)) : stars;
}
