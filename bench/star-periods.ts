// Recovery of Sesar et al. (2010)'s periods on Stripe 82 RR Lyrae: prints the fraction of stars whose best
// period is within 0.01 d of the published one, per band choice.
// Usage: node --import tsx bench/star-periods.ts [data] [--limit N] [--band g|multi|...] [--json]
import { loadS82 } from '../src/science/loaders/s82.js';
import { findPeriod, type BandData } from '../src/science/lightcurve-period.js';
import { seedGrid } from '../src/science/lombscargle.js';

const args = process.argv.slice(2);
const opt = (k: string) => {
  const i = args.indexOf(k);
  return i >= 0 ? args[i + 1] : undefined;
};
const data =
  args.find((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1]!.startsWith('--'))) ?? '../shared/data/s82-rrlyrae';
const limit = opt('--limit') ? Number(opt('--limit')) : undefined;
const bandSel = opt('--band') ?? 'multi';
const nterms = Number(opt('--nterms') ?? 4);
const gridKind = opt('--grid') ?? 'auto';
const cands = Number(opt('--cand') ?? 8);
const cat = await loadS82(data, { limit });
let ok = 0,
  n = 0;
const t0 = Date.now();
for (const star of cat.stars) {
  const names = bandSel === 'multi' ? ['u', 'g', 'r', 'i', 'z'] : bandSel.split(',');
  const bands: BandData[] = [];
  let tmin = Infinity,
    tmax = -Infinity;
  for (const nm of names) {
    const b = star.bands[nm as 'g'];
    if (!b) continue;
    bands.push({ t: b.t, y: b.mag, dy: b.err });
    tmin = Math.min(tmin, b.t[0]!);
    tmax = Math.max(tmax, b.t[b.t.length - 1]!);
  }
  const T = tmax - tmin;
  const f0 = 1 / 1.2,
    f1 = 1 / 0.2,
    df = 1 / (5 * T);
  const grid = gridKind === 'seed' ? seedGrid() : { kind: 'regular' as const, f0, df, n: Math.ceil((f1 - f0) / df) };
  const r = await findPeriod(bands, { grid, nterms, candidates: cands });
  n++;
  const good = Math.abs(r.period - star.publishedPeriod!) < 0.01;
  if (good) ok++;
  else if (args.includes('--verbose'))
    console.log(
      star.id,
      star.type,
      star.publishedPeriod!.toFixed(5),
      r.period.toFixed(5),
      r.period2.toFixed(5),
      'ratio',
      (r.period / star.publishedPeriod!).toFixed(3),
    );
}
console.log(
  JSON.stringify({
    band: bandSel,
    grid: gridKind,
    nterms,
    stars: n,
    recovery: ok / n,
    seconds: (Date.now() - t0) / 1000,
  }),
);
