/**
 * Lomb-Scargle benchmark on one real Stripe 82 RR Lyrae star (g band), all figures from the same run:
 *
 *   npm run bench:lombscargle [-- --json] [-- --star <id>] [-- --repeat <n>] [-- --data <s82 folder or table1.tar.gz>]
 *
 * - ours on the seed grid (10,000 log-spaced periods, 0.01–1 d): ns per (point × frequency) pair and ms;
 * - ours on a regular grid (astropy autofrequency, 5 samples per peak, 1–10 cycles/day): ms and ns per pair;
 * - numpy direct sum (astroML's vectorised generalised periodogram, two sin/cos per pair) on the seed grid, ns
 *   per pair, and a leaner numpy sum with one sin/cos per pair;
 * - astropy exact (method='cython') on the seed grid, and astropy method='fast' (approximate) on the regular grid;
 * - maxRelErr: our largest relative difference from a direct double-precision evaluation (per-frequency sums
 *   with Math.cos/Math.sin of the exactly reduced phase; on the regular grid, of the real frequencies f0 + k·df)
 *   on both grids.
 * Timings are the best of `repeat` runs. The machine may be shared: figures are as measured.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FrequencyGrid } from '../src/science/lombscargle.js';
import { autoGrid, gridFrequencies, gridSize, lombScargle, seedGrid } from '../src/science/lombscargle.js';
import { loadS82 } from '../src/science/loaders/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const json = process.argv.includes('--json');
const repeat = Number(arg('repeat') ?? 7);
const data = arg('data') ?? join(root, '..', 'shared', 'data', 's82-rrlyrae', 'table1.tar.gz');
const starId = arg('star');

function bestMs(fn: () => unknown, n: number): number {
  let best = Infinity;
  for (let r = 0; r < n; r++) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

function twoProduct(a: number, b: number): [number, number] {
  const p = a * b;
  let c = 134217729 * a;
  const ah = c - (c - a);
  const al = a - ah;
  c = 134217729 * b;
  const bh = c - (c - b);
  const bl = b - bh;
  return [p, ah * bh - p + ah * bl + al * bh + al * bl];
}

/** f·t in cycles, reduced, with the product exact; for a regular grid, of the real frequency f0 + k·df. */
type Phase = (k: number, t: number) => number;
const listPhase =
  (f: Float64Array): Phase =>
  (k, t) => {
    const [p, e] = twoProduct(f[k] as number, t);
    return p - Math.round(p) + e;
  };
const regularPhaseRef =
  (f0: number, df: number): Phase =>
  (k, t) => {
    const [p1, e1] = twoProduct(f0, t);
    const [p2, e2] = twoProduct(df, t);
    const [p3, e3] = twoProduct(k, p2);
    return p1 - Math.round(p1) + (p3 - Math.round(p3)) + (e1 + e3 + k * e2);
  };

/** Direct double-precision evaluation: per-frequency sums, Math.cos/Math.sin of the exactly reduced phase. */
function directReference(t: Float64Array, y: Float64Array, dy: Float64Array, m: number, phase: Phase): Float64Array {
  const n = t.length;
  const w = new Float64Array(n);
  let sw = 0;
  for (let i = 0; i < n; i++) sw += w[i] = 1 / (dy[i] as number) ** 2;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += ((w[i] as number) / sw) * (y[i] as number);
  let tmin = Infinity;
  let tmax = -Infinity;
  for (const v of t) {
    tmin = Math.min(tmin, v);
    tmax = Math.max(tmax, v);
  }
  const tref = 0.5 * (tmin + tmax);
  const out = new Float64Array(m);
  for (let k = 0; k < m; k++) {
    let C = 0;
    let S = 0;
    let YC = 0;
    let YS = 0;
    let CC = 0;
    let SS = 0;
    let CS = 0;
    let YY = 0;
    for (let i = 0; i < n; i++) {
      const wi = (w[i] as number) / sw;
      const yi = (y[i] as number) - mean;
      const ti = (t[i] as number) - tref;
      const r = phase(k, ti);
      const c = Math.cos(2 * Math.PI * r);
      const s = Math.sin(2 * Math.PI * r);
      C += wi * c;
      S += wi * s;
      YC += wi * yi * c;
      YS += wi * yi * s;
      CC += wi * c * c;
      SS += wi * s * s;
      CS += wi * c * s;
      YY += wi * yi * yi;
    }
    const cc = CC - C * C;
    const ss = SS - S * S;
    const cs = CS - C * S;
    out[k] = (ss * YC * YC + cc * YS * YS - 2 * cs * YC * YS) / (cc * ss - cs * cs) / YY;
  }
  return out;
}

function maxRel(a: Float64Array, b: Float64Array): number {
  let m = 0;
  for (let k = 0; k < a.length; k++)
    m = Math.max(m, Math.abs((a[k] as number) - (b[k] as number)) / Math.abs(b[k] as number));
  return m;
}

interface Peers {
  numpyNsPerPair: number;
  numpyLeanNsPerPair: number;
  numpyMs: number;
  astropyExactMs: number;
  astropyFastMs: number;
  astropyExactRegularMs: number;
  astropyExactPower?: number[];
}

function runPeers(
  t: Float64Array,
  y: Float64Array,
  dy: Float64Array,
  seed: Float64Array,
  regular: FrequencyGrid,
): Peers {
  const python = join(here, 'python', '.venv', 'bin', 'python');
  if (!existsSync(python)) throw new Error(`no Python peers at ${python}: run bench/python/setup.sh`);
  if (regular.kind !== 'regular') throw new Error('regular grid expected');
  const input = JSON.stringify({
    t: [...t],
    y: [...y],
    dy: [...dy],
    frequencies: [...seed],
    regular: { f0: regular.f0, df: regular.df, n: regular.n },
    repeat: Math.max(3, Math.ceil(repeat / 2)),
    return_power: true,
  });
  const r = spawnSync(python, [join(here, 'python', 'lombscargle_peers.py')], {
    input,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`lombscargle_peers.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Peers;
}

const catalogue = await loadS82(data, starId ? { ids: [starId] } : { limit: 1 });
const star = catalogue.stars[0];
if (!star?.bands.g) throw new Error(`no star with a g band in ${data}${starId ? ` (id ${starId})` : ''}`);
const { t, mag: y, err: dy } = star.bands.g;
const n = t.length;

const seed = seedGrid();
const seedF = gridFrequencies(seed);
const regular = autoGrid(t, { samplesPerPeak: 5, minimumFrequency: 1, maximumFrequency: 10 });
const regularN = gridSize(regular);

// Warm up (JIT tiers), then time.
for (let r = 0; r < 3; r++) {
  lombScargle(t, y, dy, seed);
  lombScargle(t, y, dy, regular);
}
const seedMs = bestMs(() => lombScargle(t, y, dy, seed), repeat);
const regularMs = bestMs(() => lombScargle(t, y, dy, regular), Math.max(3, Math.ceil(repeat / 2)));
const seedJsMs = bestMs(() => lombScargle(t, y, dy, seed, { engine: 'js' }), Math.max(3, Math.ceil(repeat / 2)));

const ours = lombScargle(t, y, dy, seed);
const oursRegular = lombScargle(t, y, dy, regular);
const refSeed = directReference(t, y, dy, seedF.length, listPhase(seedF));
if (regular.kind !== 'regular') throw new Error('autoGrid gives a regular grid');
const refRegular = directReference(t, y, dy, regular.n, regularPhaseRef(regular.f0, regular.df));
const maxRelErrSeed = maxRel(ours, refSeed);
const maxRelErrRegular = maxRel(oursRegular, refRegular);

const peers = runPeers(t, y, dy, seedF, regular);
let astropyPeakRelDiff = 0;
if (peers.astropyExactPower) {
  let peak = 0;
  for (const v of refSeed) peak = Math.max(peak, v);
  peers.astropyExactPower.forEach((v, k) => {
    astropyPeakRelDiff = Math.max(astropyPeakRelDiff, Math.abs(v - (ours[k] as number)) / peak);
  });
}

const nsPerPair = (seedMs * 1e6) / (n * seedF.length);
const result = {
  star: star.id,
  points: n,
  nsPerPair,
  numpyNsPerPair: peers.numpyNsPerPair,
  numpyLeanNsPerPair: peers.numpyLeanNsPerPair,
  speedupVsNumpy: peers.numpyNsPerPair / nsPerPair,
  ms: seedMs,
  jsMs: seedJsMs,
  astropyExactMs: peers.astropyExactMs,
  astropyFastMs: peers.astropyFastMs,
  maxRelErr: Math.max(maxRelErrSeed, maxRelErrRegular),
  seed: {
    frequencies: seedF.length,
    ms: seedMs,
    nsPerPair,
    numpyMs: peers.numpyMs,
    astropyExactMs: peers.astropyExactMs,
    maxRelErr: maxRelErrSeed,
    astropyPeakRelDiff,
  },
  regular: {
    frequencies: regularN,
    ms: regularMs,
    nsPerPair: (regularMs * 1e6) / (n * regularN),
    astropyFastMs: peers.astropyFastMs,
    astropyExactMs: peers.astropyExactRegularMs,
    maxRelErr: maxRelErrRegular,
  },
};

if (json) {
  console.log(JSON.stringify(result));
} else {
  const f = (v: number, d = 2): string => v.toFixed(d);
  console.log(`Lomb-Scargle, Stripe 82 star ${star.id}, g band, ${n} points`);
  console.log(`seed grid (${seedF.length} log-spaced frequencies):`);
  console.log(`  ours          ${f(seedMs)} ms  ${f(nsPerPair)} ns/pair  (TypeScript kernels: ${f(seedJsMs)} ms)`);
  console.log(
    `  numpy direct  ${f(peers.numpyMs)} ms  ${f(peers.numpyNsPerPair)} ns/pair  -> ours ${f(result.speedupVsNumpy, 1)}x`,
  );
  console.log(`  numpy lean (one sin/cos per pair) ${f(peers.numpyLeanNsPerPair)} ns/pair`);
  console.log(`  astropy exact (cython) ${f(peers.astropyExactMs)} ms`);
  console.log(`  max relative error vs direct evaluation ${maxRelErrSeed.toExponential(2)}`);
  console.log(`regular grid (${regularN} frequencies, 1-10 c/d, 5 samples per peak):`);
  console.log(`  ours          ${f(regularMs)} ms  ${f(result.regular.nsPerPair)} ns/pair`);
  console.log(
    `  astropy fast  ${f(peers.astropyFastMs)} ms (approximate)   astropy cython ${f(peers.astropyExactRegularMs)} ms`,
  );
  console.log(`  max relative error vs direct evaluation ${maxRelErrRegular.toExponential(2)}`);
}
