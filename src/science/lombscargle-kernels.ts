/**
 * Trigonometric-sum kernels behind the Lomb-Scargle periodograms (plain TypeScript; the WebAssembly SIMD kernels
 * in ./wasm/ls-kernel.ts compute the same sums faster).
 *
 * Every kernel fills, for each frequency f_k of a grid, six weighted sums over the points i with θ = 2π·f_k·t_i:
 *   out[6k+0] = Σ w cos θ      out[6k+1] = Σ w sin θ
 *   out[6k+2] = Σ wy cos θ     out[6k+3] = Σ wy sin θ
 *   out[6k+4] = Σ w cos² θ     out[6k+5] = Σ w cos θ sin θ
 * (Σ w sin² θ = Σ w − Σ w cos² θ.) Times should be centred (t − t_ref) so phases stay small.
 *
 * Exactness: phases are reduced in cycles before any trigonometry (x = f·t, x − round(x) is exact), so no
 * 2π·(large number) rounding enters. The recurrence kernels re-anchor with an exact sin/cos every few steps.
 */

/** Number of sums per frequency in a kernel's output. */
export const SUMS_PER_FREQUENCY = 6;

// Minimax coefficients of sin and cos on [-π/4, π/4] (the classic fdlibm kernel constants, error < 2^-58).
const S1 = -1.66666666666666324348e-1;
const S2 = 8.33333333332248946124e-3;
const S3 = -1.98412698298579493134e-4;
const S4 = 2.75573137070700676789e-6;
const S5 = -2.50507602534068634195e-8;
const S6 = 1.58969099521155010221e-10;
const C1 = 4.16666666666666019037e-2;
const C2 = -1.38888888888741095749e-3;
const C3 = 2.48015872894767294178e-5;
const C4 = -2.75573143513906633035e-7;
const C5 = 2.0875723212981748279e-9;
const C6 = -1.13596475577881948265e-11;
const TWO_PI = 2 * Math.PI;

/**
 * cos and sin of 2π·x for x in cycles, to about one ulp: exact reduction to an octant, then polynomials.
 * Writes cos to out[j] and sin to out[j + 1].
 */
export function cosSin2Pi(x: number, out: Float64Array, j: number): void {
  const n = Math.round(x * 4);
  const a = (x - n * 0.25) * TWO_PI; // x − n/4 is exact
  const z = a * a;
  const s = a + a * z * (S1 + z * (S2 + z * (S3 + z * (S4 + z * (S5 + z * S6)))));
  const c = 1 - 0.5 * z + z * z * (C1 + z * (C2 + z * (C3 + z * (C4 + z * (C5 + z * C6)))));
  const q = n - 4 * Math.floor(n * 0.25);
  if (q === 0) {
    out[j] = c;
    out[j + 1] = s;
  } else if (q === 1) {
    out[j] = -s;
    out[j + 1] = c;
  } else if (q === 2) {
    out[j] = -c;
    out[j + 1] = -s;
  } else {
    out[j] = s;
    out[j + 1] = -c;
  }
}

const SPLIT = 134217729; // 2^27 + 1 (Veltkamp split)

/**
 * cos and sin of 2π·f·t with the product f·t taken exactly (Dekker's two-product), so a phase of 10^5 cycles
 * keeps all its fractional digits. Writes cos to out[j] and sin to out[j + 1].
 */
export function cosSin2PiProduct(f: number, t: number, out: Float64Array, j: number): void {
  const p = f * t;
  let c = SPLIT * f;
  const fh = c - (c - f);
  const fl = f - fh;
  c = SPLIT * t;
  const th = c - (c - t);
  const tl = t - th;
  const err = fh * th - p + fh * tl + fl * th + fl * tl;
  const n = Math.round(p);
  cosSin2Pi(p - n + err, out, j); // p − n is exact
}

/** Fraction of x in cycles, in [-0.5, 0.5] (exact: x − round(x) needs no rounding). */
function frac(x: number): number {
  return x - Math.round(x);
}

/**
 * The phase in cycles (reduced to about [-1.5, 1.5]) of 2π·(f0 + k·df)·t for the exact real frequency
 * f0 + k·df of a regular grid (k a non-negative integer below 2^26): f0·t and df·t by two-products, k times
 * the 27-bit halves of df·t exactly.
 */
export function regularPhase(f0: number, df: number, k: number, t: number): number {
  const [p1, e1] = twoProduct(f0, t);
  const [p2, e2] = twoProduct(df, t);
  const c = SPLIT * p2;
  const hi = c - (c - p2);
  const lo = p2 - hi;
  return frac(p1) + frac(k * hi) + frac(k * lo) + (e1 + frac(k * e2));
}

function twoProduct(a: number, b: number): [number, number] {
  const p = a * b;
  let c = SPLIT * a;
  const ah = c - (c - a);
  const al = a - ah;
  c = SPLIT * b;
  const bh = c - (c - b);
  const bl = b - bh;
  return [p, ah * bh - p + ah * bl + al * bh + al * bl];
}

/** Direct evaluation: an exact cos/sin per (point, frequency) pair. Works for any list of frequencies. */
export function directSums(
  t: Float64Array,
  w: Float64Array,
  wy: Float64Array,
  frequencies: Float64Array,
  out: Float64Array,
  from = 0,
  to = frequencies.length,
): void {
  const n = t.length;
  const cs = new Float64Array(2);
  for (let k = from; k < to; k++) {
    const f = frequencies[k] as number;
    let sc = 0;
    let ss = 0;
    let syc = 0;
    let sys = 0;
    let scc = 0;
    let scs = 0;
    for (let i = 0; i < n; i++) {
      cosSin2PiProduct(f, t[i] as number, cs, 0);
      const c = cs[0] as number;
      const s = cs[1] as number;
      const wi = w[i] as number;
      const wyi = wy[i] as number;
      const wc = wi * c;
      sc += wc;
      ss += wi * s;
      syc += wyi * c;
      sys += wyi * s;
      scc += wc * c;
      scs += wc * s;
    }
    const o = SUMS_PER_FREQUENCY * k;
    out[o] = sc;
    out[o + 1] = ss;
    out[o + 2] = syc;
    out[o + 3] = sys;
    out[o + 4] = scc;
    out[o + 5] = scs;
  }
}

/** Frequencies between exact re-anchors on a regular grid (rounding grows linearly with the step count). */
export const REGULAR_ANCHOR_STEPS = 512;

/**
 * Regular grid f0 + k·df (the exact real numbers, not their roundings): per point, e^{iθ} advances by the fixed
 * rotation e^{2πi·df·t} (angle addition, no per-pair sin/cos); two frequencies per sweep over the points; exact
 * re-anchor (regularPhase) every REGULAR_ANCHOR_STEPS.
 */
export function regularSums(
  t: Float64Array,
  w: Float64Array,
  wy: Float64Array,
  f0: number,
  df: number,
  count: number,
  out: Float64Array,
): void {
  const n = t.length;
  const zr = new Float64Array(n);
  const zi = new Float64Array(n);
  const ar = new Float64Array(n);
  const ai = new Float64Array(n);
  const cs = new Float64Array(2);
  for (let i = 0; i < n; i++) {
    cosSin2PiProduct(df, t[i] as number, cs, 0);
    ar[i] = cs[0] as number;
    ai[i] = cs[1] as number;
  }
  for (let a = 0; a < count; a += REGULAR_ANCHOR_STEPS) {
    const end = Math.min(count, a + REGULAR_ANCHOR_STEPS);
    for (let i = 0; i < n; i++) {
      cosSin2Pi(regularPhase(f0, df, a, t[i] as number), cs, 0);
      zr[i] = cs[0] as number;
      zi[i] = cs[1] as number;
    }
    let k = a;
    for (; k + 1 < end; k += 2) pairSums(zr, zi, ar, ai, w, wy, out, SUMS_PER_FREQUENCY * k);
    if (k < end) oneSums(zr, zi, w, wy, out, SUMS_PER_FREQUENCY * k);
  }
}

/**
 * The six sums of two neighbouring frequencies of a regular grid from the phases e^{iθ} (zr, zi) of the first
 * and the step rotation (ar, ai); leaves (zr, zi) advanced by two steps.
 */
function pairSums(
  zr: Float64Array,
  zi: Float64Array,
  ar: Float64Array,
  ai: Float64Array,
  w: Float64Array,
  wy: Float64Array,
  out: Float64Array,
  o: number,
): void {
  let c0 = 0;
  let s0 = 0;
  let yc0 = 0;
  let ys0 = 0;
  let cc0 = 0;
  let cs0 = 0;
  let c1 = 0;
  let s1 = 0;
  let yc1 = 0;
  let ys1 = 0;
  let cc1 = 0;
  let cs1 = 0;
  for (let i = 0; i < zr.length; i++) {
    const x = zr[i] as number;
    const y = zi[i] as number;
    const p = ar[i] as number;
    const q = ai[i] as number;
    const wi = w[i] as number;
    const wyi = wy[i] as number;
    const wc = wi * x;
    c0 += wc;
    s0 += wi * y;
    yc0 += wyi * x;
    ys0 += wyi * y;
    cc0 += wc * x;
    cs0 += wc * y;
    const x1 = x * p - y * q;
    const y1 = x * q + y * p;
    const wc1 = wi * x1;
    c1 += wc1;
    s1 += wi * y1;
    yc1 += wyi * x1;
    ys1 += wyi * y1;
    cc1 += wc1 * x1;
    cs1 += wc1 * y1;
    zr[i] = x1 * p - y1 * q;
    zi[i] = x1 * q + y1 * p;
  }
  out[o] = c0;
  out[o + 1] = s0;
  out[o + 2] = yc0;
  out[o + 3] = ys0;
  out[o + 4] = cc0;
  out[o + 5] = cs0;
  out[o + 6] = c1;
  out[o + 7] = s1;
  out[o + 8] = yc1;
  out[o + 9] = ys1;
  out[o + 10] = cc1;
  out[o + 11] = cs1;
}

/** The six sums of one frequency from the phases e^{iθ} (zr, zi) of its points. */
function oneSums(
  zr: Float64Array,
  zi: Float64Array,
  w: Float64Array,
  wy: Float64Array,
  out: Float64Array,
  o: number,
): void {
  let c0 = 0;
  let s0 = 0;
  let yc0 = 0;
  let ys0 = 0;
  let cc0 = 0;
  let cs0 = 0;
  for (let i = 0; i < zr.length; i++) {
    const x = zr[i] as number;
    const y = zi[i] as number;
    const wi = w[i] as number;
    const wyi = wy[i] as number;
    const wc = wi * x;
    c0 += wc;
    s0 += wi * y;
    yc0 += wyi * x;
    ys0 += wyi * y;
    cc0 += wc * x;
    cs0 += wc * y;
  }
  out[o] = c0;
  out[o + 1] = s0;
  out[o + 2] = yc0;
  out[o + 3] = ys0;
  out[o + 4] = cc0;
  out[o + 5] = cs0;
}

/**
 * Frequencies between exact re-anchors on a smooth list (rounding grows with the cube of the step count): at 32
 * the worst of all 1250 Stripe 82 light curves on the seed grid is 1e-10 relative to per-pair evaluation.
 */
export const SMOOTH_ANCHOR_STEPS = 32;
/**
 * Largest third-difference rotation angle γ (radians) the smooth-list kernels accept. The WebAssembly kernel
 * uses G = (1 − γ²/2, γ − γ³/6): the dropped γ⁴/24 ≤ 3.4e-16 per step adds at most ~1e-11 rad of phase over a
 * block of SMOOTH_ANCHOR_STEPS.
 */
export const SMOOTH_MAX_GAMMA = 3e-4;

/**
 * Differences of a frequency list, each padded with zeros to the list's length: d1[k] = f[k+1] − f[k],
 * d2[k] = d1[k+1] − d1[k], d3[k] = d2[k+1] − d2[k]. For a sorted smooth list the subtractions are exact
 * (Sterbenz), so the differences telescope back to the listed frequencies exactly.
 */
export function differences(f: Float64Array): { d1: Float64Array; d2: Float64Array; d3: Float64Array } {
  const m = f.length;
  const d1 = new Float64Array(m);
  const d2 = new Float64Array(m);
  const d3 = new Float64Array(m);
  for (let k = 0; k + 1 < m; k++) d1[k] = (f[k + 1] as number) - (f[k] as number);
  for (let k = 0; k + 2 < m; k++) d2[k] = (d1[k + 1] as number) - (d1[k] as number);
  for (let k = 0; k + 3 < m; k++) d3[k] = (d2[k + 1] as number) - (d2[k] as number);
  return { d1, d2, d3 };
}

/**
 * Whether frequencies [from, to) can use the smooth-list kernel: the per-step third-difference rotation
 * 2π·|d3|·max|t| stays below SMOOTH_MAX_GAMMA, so its sin/cos are short exact series.
 */
export function smoothBlockOk(d3: Float64Array, from: number, to: number, tAbsMax: number): boolean {
  let m = 0;
  for (let k = from; k < to; k++) {
    const v = Math.abs(d3[k] as number);
    if (v > m) m = v;
  }
  return TWO_PI * m * tAbsMax <= SMOOTH_MAX_GAMMA;
}

/**
 * Smooth list (log-spaced and similar): a difference tower of rotations per point. With Z = e^{iθ},
 * A = e^{2πi·d1·t}, B = e^{2πi·d2·t} and the tiny G = e^{2πi·d3·t} (two-term series): accumulate Z, then
 * Z ← Z·A, A ← A·B, B ← B·G. Exact anchors every SMOOTH_ANCHOR_STEPS; blocks whose third differences are not
 * small fall back to direct evaluation.
 */
export function smoothListSums(
  t: Float64Array,
  w: Float64Array,
  wy: Float64Array,
  frequencies: Float64Array,
  out: Float64Array,
): void {
  const n = t.length;
  const m = frequencies.length;
  const { d1, d2, d3 } = differences(frequencies);
  let tAbsMax = 0;
  for (let i = 0; i < n; i++) tAbsMax = Math.max(tAbsMax, Math.abs(t[i] as number));
  const zr = new Float64Array(n);
  const zi = new Float64Array(n);
  const ar = new Float64Array(n);
  const ai = new Float64Array(n);
  const br = new Float64Array(n);
  const bi = new Float64Array(n);
  const cs = new Float64Array(2);
  for (let a = 0; a < m; a += SMOOTH_ANCHOR_STEPS) {
    const end = Math.min(m, a + SMOOTH_ANCHOR_STEPS);
    if (!smoothBlockOk(d3, a, end, tAbsMax)) {
      directSums(t, w, wy, frequencies, out, a, end);
      continue;
    }
    const fa = frequencies[a] as number;
    const da1 = d1[a] as number;
    const da2 = d2[a] as number;
    for (let i = 0; i < n; i++) {
      const ti = t[i] as number;
      cosSin2PiProduct(fa, ti, cs, 0);
      zr[i] = cs[0] as number;
      zi[i] = cs[1] as number;
      cosSin2PiProduct(da1, ti, cs, 0);
      ar[i] = cs[0] as number;
      ai[i] = cs[1] as number;
      cosSin2PiProduct(da2, ti, cs, 0);
      br[i] = cs[0] as number;
      bi[i] = cs[1] as number;
    }
    for (let k = a; k < end; k++) {
      const g = TWO_PI * (d3[k] as number);
      let c0 = 0;
      let s0 = 0;
      let yc0 = 0;
      let ys0 = 0;
      let cc0 = 0;
      let cs0 = 0;
      for (let i = 0; i < n; i++) {
        const x = zr[i] as number;
        const y = zi[i] as number;
        const wi = w[i] as number;
        const wyi = wy[i] as number;
        const wc = wi * x;
        c0 += wc;
        s0 += wi * y;
        yc0 += wyi * x;
        ys0 += wyi * y;
        cc0 += wc * x;
        cs0 += wc * y;
        const pr = ar[i] as number;
        const pi = ai[i] as number;
        const qr = br[i] as number;
        const qi = bi[i] as number;
        zr[i] = x * pr - y * pi;
        zi[i] = x * pi + y * pr;
        ar[i] = pr * qr - pi * qi;
        ai[i] = pr * qi + pi * qr;
        // G = cos γ + i sin γ with γ = 2π·d3·t, |γ| ≤ SMOOTH_MAX_GAMMA: 1 − γ²/2 + γ⁴/24 and γ − γ³/6 are exact to 1e-17.
        const gam = g * (t[i] as number);
        const g2 = gam * gam;
        const gc = 1 - g2 * (0.5 - g2 * (1 / 24));
        const gs = gam - gam * g2 * (1 / 6);
        br[i] = qr * gc - qi * gs;
        bi[i] = qr * gs + qi * gc;
      }
      const o = SUMS_PER_FREQUENCY * k;
      out[o] = c0;
      out[o + 1] = s0;
      out[o + 2] = yc0;
      out[o + 3] = ys0;
      out[o + 4] = cc0;
      out[o + 5] = cs0;
    }
  }
}
