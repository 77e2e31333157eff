// Recovery of Sesar et al. (2010)'s periods on Stripe 82 RR Lyrae: the fraction of stars whose best period is
// within 0.01 d of the published one (the star-period job's accuracy goal is ≥ 90%).
// Usage: node --import tsx bench/star-periods.ts [DATA] [--limit N] [--band g|multi|g,r,i] [--grid auto|seed]
//          [--model shared|independent] [--nterms 4] [--nband 1] [--floor 0.03] [--cand 8] [--verbose] [--json]
// Defaults are the star-periods job's.
import { findPeriod, type BandData } from '../src/science/lightcurve-period.js';
import { loadS82 } from '../src/science/loaders/s82.js';
import { seedGrid } from '../src/science/lombscargle.js';

const args = process.argv.slice(2);
const opt = (k: string): string | undefined => {
  const i = args.indexOf(k);
  return i >= 0 ? args[i + 1] : undefined;
};
const data =
  args.find(
    (a, i) =>
      !a.startsWith('--') &&
      !(i > 0 && args[i - 1]!.startsWith('--') && args[i - 1] !== '--verbose' && args[i - 1] !== '--json'),
  ) ?? '../shared/data/s82-rrlyrae';
const limit = opt('--limit') === undefined ? undefined : Number(opt('--limit'));
const settings = {
  band: opt('--band') ?? 'g',
  gridKind: opt('--grid') ?? 'auto',
  model: (opt('--model') ?? 'shared') as 'shared' | 'independent',
  nterms: Number(opt('--nterms') ?? 4),
  nband: Number(opt('--nband') ?? 1),
  errorFloor: Number(opt('--floor') ?? 0.03),
  candidates: Number(opt('--cand') ?? 8),
};
const catalogue = await loadS82(data, limit === undefined ? {} : { limit });
let ok = 0;
let n = 0;
const t0 = Date.now();
for (const star of catalogue.stars) {
  const names = settings.band === 'multi' ? ['u', 'g', 'r', 'i', 'z'] : settings.band.split(',');
  const bands: BandData[] = [];
  let tmin = Infinity;
  let tmax = -Infinity;
  for (const name of names) {
    const b = star.bands[name as 'g'];
    if (!b) continue;
    bands.push({ t: b.t, y: b.mag, dy: b.err });
    tmin = Math.min(tmin, b.t[0]!);
    tmax = Math.max(tmax, b.t[b.t.length - 1]!);
  }
  // The job's auto grid: periods 0.2–1.2 d, 5 points per peak width 1/baseline.
  const df = 1 / (5 * (tmax - tmin));
  const grid =
    settings.gridKind === 'seed'
      ? seedGrid()
      : { kind: 'regular' as const, f0: 1 / 1.2, df, n: 1 + Math.round((5 - 1 / 1.2) / df) };
  const r = await findPeriod(bands, { grid, ...settings });
  n++;
  if (Math.abs(r.period - star.publishedPeriod!) < 0.01) ok++;
  else if (args.includes('--verbose')) {
    const ratio = (r.period / star.publishedPeriod!).toFixed(3);
    console.log(star.id, star.type, star.publishedPeriod!.toFixed(5), r.period.toFixed(5), r.period2.toFixed(5), ratio);
  }
}
const result = { ...settings, stars: n, recovery: ok / n, seconds: (Date.now() - t0) / 1000 };
console.log(
  args.includes('--json')
    ? JSON.stringify(result)
    : `recovery ${(100 * result.recovery).toFixed(1)}% of ${n} stars within 0.01 d  ${JSON.stringify(result)}`,
);
