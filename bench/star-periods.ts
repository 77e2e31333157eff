// Recovery of Sesar et al. (2010)'s periods on Stripe 82 RR Lyrae: prints the fraction of stars whose best
// period is within 0.01 d of the published one, per band choice.
// Usage: node --import tsx bench/star-periods.ts [data] [--limit N] [--band g|multi|...] [--json]
import { loadS82 } from '../src/science/loaders/s82.js';
import { findPeriod, type BandData, type FrequencyGrid } from '../src/science/lightcurve-period.js';

// Direct generalised Lomb-Scargle power with per-point phase recurrences on an even grid.
function glsEven(b: BandData, g: FrequencyGrid): Float64Array {
  const n = b.t.length;
  const w = new Float64Array(n);
  let sw = 0;
  for (let i = 0; i < n; i++) sw += w[i] = 1 / (b.dy[i]! * b.dy[i]!);
  let ym = 0;
  for (let i = 0; i < n; i++) ym += (w[i]! /= sw) * b.y[i]!;
  const y = new Float64Array(n);
  let yy = 0;
  for (let i = 0; i < n; i++) {
    y[i] = b.y[i]! - ym;
    yy += w[i]! * y[i]! * y[i]!;
  }
  const c = new Float64Array(n),
    s = new Float64Array(n),
    dc = new Float64Array(n),
    ds = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t = b.t[i]! - b.t[0]!;
    c[i] = Math.cos(2 * Math.PI * g.f0 * t);
    s[i] = Math.sin(2 * Math.PI * g.f0 * t);
    dc[i] = Math.cos(2 * Math.PI * g.df * t);
    ds[i] = Math.sin(2 * Math.PI * g.df * t);
  }
  const out = new Float64Array(g.n);
  for (let k = 0; k < g.n; k++) {
    let C = 0,
      S = 0,
      YC = 0,
      YS = 0,
      CC = 0,
      CS = 0;
    for (let i = 0; i < n; i++) {
      const wi = w[i]!,
        ci = c[i]!,
        si = s[i]!;
      C += wi * ci;
      S += wi * si;
      YC += wi * y[i]! * ci;
      YS += wi * y[i]! * si;
      CC += wi * ci * ci;
      CS += wi * ci * si;
      c[i] = ci * dc[i]! - si * ds[i]!;
      s[i] = si * dc[i]! + ci * ds[i]!;
    }
    const SS = 1 - CC - S * S;
    const cc = CC - C * C,
      cs = CS - C * S;
    const D = cc * SS - cs * cs;
    out[k] = (SS * YC * YC + cc * YS * YS - 2 * cs * YC * YS) / (yy * D);
  }
  return out;
}

const args = process.argv.slice(2);
const opt = (k: string) => {
  const i = args.indexOf(k);
  return i >= 0 ? args[i + 1] : undefined;
};
const data =
  args.find((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1]!.startsWith('--'))) ?? '../shared/data/s82-rrlyrae';
const limit = opt('--limit') ? Number(opt('--limit')) : undefined;
const bandSel = opt('--band') ?? 'multi';
const nterms = Number(opt('--nterms') ?? 3);
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
  const grid = { f0, df, n: Math.ceil((f1 - f0) / df) };
  const r = await findPeriod(bands, { grid, periodogram: glsEven, nterms, candidates: cands });
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
console.log(JSON.stringify({ band: bandSel, nterms, stars: n, recovery: ok / n, seconds: (Date.now() - t0) / 1000 }));
