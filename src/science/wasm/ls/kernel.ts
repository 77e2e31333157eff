/**
 * Drives the WebAssembly SIMD Lomb-Scargle kernels (kernel.wat, bytes in kernel-wasm.ts): lays the point
 * arrays out in the module's memory, re-anchors the recurrences with exact sin/cos every block, and copies the
 * six sums per frequency out. Same results as the TypeScript kernels in ../../lombscargle-kernels.ts.
 */
import { setFlagsFromString } from 'node:v8';
import type { FrequencyGrid } from '../../frequency-grid.js';
import {
  differences,
  REGULAR_ANCHOR_STEPS,
  regularPhase,
  SMOOTH_ANCHOR_STEPS,
  SMOOTH_MAX_GAMMA,
  SUMS_PER_FREQUENCY,
} from '../../lombscargle-kernels.js';
import { LS_KERNEL_WASM_BASE64 } from './kernel-wasm.js';

/** The WebAssembly global, typed here: the project's lib settings include no DOM types. */
interface WasmGlobal {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
}
const wasm = (globalThis as unknown as { WebAssembly?: WasmGlobal }).WebAssembly;

interface LsExports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  anchor(n: number, f: number, pt: number, pth: number, ptl: number, por: number, poi: number, stride: number): void;
  anchorPhase(n: number, pph: number, por: number, poi: number, stride: number): void;
  anchor3(
    n: number,
    f: number,
    d1: number,
    d2: number,
    pt: number,
    pth: number,
    ptl: number,
    prec: number,
    stride: number,
  ): void;
  regular(n: number, count: number, prec: number, po: number): void;
  smooth(n: number, count: number, prec: number, pg: number, po: number): void;
  power(count: number, pin: number, pout: number, W: number, Y: number, YY: number, fitMean: number): void;
  direct(
    n: number,
    count: number,
    pf: number,
    pt: number,
    pth: number,
    ptl: number,
    pw: number,
    pwy: number,
    po: number,
  ): void;
}

/** Bytes per vector of two points in the regular and smooth kernels' records (see kernel.wat). */
const REGULAR_RECORD = 96;
const SMOOTH_RECORD = 144;
/** Frequencies per call of the direct kernel. */
const DIRECT_BLOCK = 512;
const SPLIT = 134217729;
const TWO_PI = 2 * Math.PI;

let instance: LsExports | null | undefined;

/** The instantiated kernels, or null when this runtime lacks WebAssembly SIMD. */
export function lsKernelExports(): LsExports | null {
  if (instance !== undefined) return instance;
  try {
    if (!wasm) throw new Error('no WebAssembly');
    const bytes = Buffer.from(LS_KERNEL_WASM_BASE64, 'base64');
    // Relaxed SIMD (f64x2.relaxed_madd) is behind a flag in Node 20 and on by default from Node 22.
    setFlagsFromString('--experimental-wasm-relaxed-simd');
    // Compile straight to optimised code: V8's baseline tier runs these loops 2-3x slower, and on a busy
    // machine the background tier-up can take long. The flag is restored right after.
    setFlagsFromString('--no-liftoff');
    try {
      instance = new wasm.Instance(new wasm.Module(bytes)).exports as LsExports;
    } finally {
      setFlagsFromString('--liftoff');
    }
  } catch {
    instance = null;
  }
  return instance;
}

/** The WebAssembly kernel as a `SumsKernel`, or undefined when unavailable. */
export function wasmSumsKernel():
  ((t: Float64Array, w: Float64Array, wy: Float64Array, grid: FrequencyGrid, out: Float64Array) => void) | undefined {
  const ex = lsKernelExports();
  if (!ex) return undefined;
  return (t, w, wy, grid, out) => run(ex, t, w, wy, grid, { kind: 'sums', out });
}

/** Power normalisation inputs for {@link wasmStandardPower}. */
export interface PowerInputs {
  W: number;
  Y: number;
  YY: number;
  fitMean: boolean;
}

/**
 * The standard-normalised power computed entirely in WebAssembly (sums and the final formula), or undefined
 * when WebAssembly SIMD is unavailable.
 */
export function wasmStandardPower(
  t: Float64Array,
  w: Float64Array,
  wy: Float64Array,
  grid: FrequencyGrid,
  inputs: PowerInputs,
): Float64Array | undefined {
  const ex = lsKernelExports();
  if (!ex) return undefined;
  const out = new Float64Array(grid.kind === 'regular' ? grid.n : grid.frequencies.length);
  run(ex, t, w, wy, grid, { kind: 'power', out, ...inputs });
  return out;
}

type Sink = { kind: 'sums'; out: Float64Array } | ({ kind: 'power'; out: Float64Array } & PowerInputs);

interface ListInfo {
  d1: Float64Array;
  d2: Float64Array;
  d3: Float64Array;
  /** max |d3| per block of SMOOTH_ANCHOR_STEPS frequencies. */
  blockMaxD3: Float64Array;
  /** 2π·d3, padded with a zero (the smooth kernel's per-frequency input). */
  g: Float64Array;
}
/** Differences of list grids, by array identity (grids are treated as immutable). */
const listCache = new WeakMap<Float64Array, ListInfo>();

function listInfo(f: Float64Array): ListInfo {
  const hit = listCache.get(f);
  if (hit) return hit;
  const { d1, d2, d3 } = differences(f);
  const blocks = Math.ceil(f.length / SMOOTH_ANCHOR_STEPS);
  const blockMaxD3 = new Float64Array(blocks);
  for (let b = 0; b < blocks; b++) {
    let mx = 0;
    const end = Math.min(f.length, (b + 1) * SMOOTH_ANCHOR_STEPS);
    for (let k = b * SMOOTH_ANCHOR_STEPS; k < end; k++) mx = Math.max(mx, Math.abs(d3[k] as number));
    blockMaxD3[b] = mx;
  }
  const g = new Float64Array(f.length + 1);
  for (let k = 0; k < f.length; k++) g[k] = TWO_PI * (d3[k] as number);
  const info = { d1, d2, d3, blockMaxD3, g };
  listCache.set(f, info);
  return info;
}

/**
 * Byte offsets in the module's memory. Layout: f64 arrays t th tl w wy (direct kernel, anchors), phases (regular
 * anchors) | per-vector records (regular: Z A w wy, 96 bytes; smooth: Z A B t w wy, 144 bytes; each field one
 * f64x2) | g = 2π·Δ³f or frequencies per block | out (12 per frequency: lane pairs) | power.
 */
interface Layout {
  pT: number;
  pTh: number;
  pTl: number;
  pW: number;
  pWy: number;
  pPh: number;
  pRec: number;
  stride: number;
  pG: number;
  pOut: number;
  pPow: number;
  bytes: number;
}

function layoutOf(n2: number, m: number, regular: boolean, sink: Sink): Layout {
  const block = Math.max(REGULAR_ANCHOR_STEPS, SMOOTH_ANCHOR_STEPS, DIRECT_BLOCK) + 2;
  const arr = n2 * 8;
  const pT = 0;
  const pTh = pT + arr;
  const pTl = pTh + arr;
  const pW = pTl + arr;
  const pWy = pW + arr;
  const pPh = pWy + arr;
  const pRec = pPh + arr;
  const stride = regular ? REGULAR_RECORD : SMOOTH_RECORD;
  const pG = pRec + (n2 / 2) * stride;
  const pOut = pG + 3 * block * 8;
  const pPow = pOut + 2 * SUMS_PER_FREQUENCY * block * 8;
  const bytes = pPow + (sink.kind === 'power' ? m * 8 : 0);
  return { pT, pTh, pTl, pW, pWy, pPh, pRec, stride, pG, pOut, pPow, bytes };
}

/** f64 index of byte offset p. */
const o = (p: number): number => p >> 3;

/** The points (padded to an even count with zero weight), split times, and the records' point fields. */
function writePoints(
  mem: Float64Array,
  L: Layout,
  t: Float64Array,
  w: Float64Array,
  wy: Float64Array,
  n2: number,
  regular: boolean,
): void {
  const n = t.length;
  for (let i = 0; i < n2; i++) {
    const ti = i < n ? (t[i] as number) : 0;
    const wi = i < n ? (w[i] as number) : 0;
    const wyi = i < n ? (wy[i] as number) : 0;
    const c = SPLIT * ti;
    const th = c - (c - ti);
    mem[o(L.pT) + i] = ti;
    mem[o(L.pTh) + i] = th;
    mem[o(L.pTl) + i] = ti - th;
    mem[o(L.pW) + i] = wi;
    mem[o(L.pWy) + i] = wyi;
    // record fields: lane i & 1 of the f64x2 at the field's offset in record i >> 1
    const r = o(L.pRec + (i >> 1) * L.stride) + (i & 1);
    if (regular) {
      mem[r + 8] = wi;
      mem[r + 10] = wyi;
    } else {
      mem[r + 12] = ti;
      mem[r + 14] = wi;
      mem[r + 16] = wyi;
    }
  }
}

/** One run's kernels, memory, layout and sink. */
interface Pass {
  ex: LsExports;
  mem: Float64Array;
  L: Layout;
  n2: number;
  sink: Sink;
}

/** The kernels leave each sum as two lane partials: add them (sums), or turn them into power in place. */
function copyOut({ ex, mem, L, sink }: Pass, k0: number, count: number): void {
  if (sink.kind === 'power') {
    ex.power(count, L.pOut, L.pPow + 8 * k0, sink.W, sink.Y, sink.YY, sink.fitMean ? 1 : 0);
    return;
  }
  const out = sink.out;
  const src = o(L.pOut);
  const dst = SUMS_PER_FREQUENCY * k0;
  for (let j = 0; j < SUMS_PER_FREQUENCY * count; j++) {
    out[dst + j] = (mem[src + 2 * j] as number) + (mem[src + 2 * j + 1] as number);
  }
}

function direct(pass: Pass, freqs: Float64Array, k0: number, k1: number): void {
  const { ex, mem, L, n2 } = pass;
  for (let a = k0; a < k1; a += DIRECT_BLOCK) {
    const count = Math.min(k1, a + DIRECT_BLOCK) - a;
    mem.set(freqs.subarray(a, a + count), o(L.pG));
    ex.direct(n2, count, L.pG, L.pT, L.pTh, L.pTl, L.pW, L.pWy, L.pOut);
    copyOut(pass, a, count);
  }
}

function runRegular(pass: Pass, grid: Extract<FrequencyGrid, { kind: 'regular' }>): void {
  const { ex, mem, L, n2 } = pass;
  ex.anchor(n2, grid.df, L.pT, L.pTh, L.pTl, L.pRec + 32, L.pRec + 48, L.stride);
  for (let a = 0; a < grid.n; a += REGULAR_ANCHOR_STEPS) {
    const count = Math.min(grid.n, a + REGULAR_ANCHOR_STEPS) - a;
    // exact phase of the real frequency f0 + a·df (not of its rounding)
    for (let i = 0; i < n2; i++) mem[o(L.pPh) + i] = regularPhase(grid.f0, grid.df, a, mem[o(L.pT) + i] as number);
    ex.anchorPhase(n2, L.pPh, L.pRec, L.pRec + 16, L.stride);
    ex.regular(n2, count, L.pRec, L.pOut);
    copyOut(pass, a, count);
  }
}

function runList(pass: Pass, t: Float64Array, f: Float64Array): void {
  const { ex, mem, L, n2 } = pass;
  const m = f.length;
  const { d1, d2, blockMaxD3, g } = listInfo(f);
  let tAbsMax = 0;
  for (let i = 0; i < t.length; i++) tAbsMax = Math.max(tAbsMax, Math.abs(t[i] as number));
  for (let a = 0; a < m; a += SMOOTH_ANCHOR_STEPS) {
    const end = Math.min(m, a + SMOOTH_ANCHOR_STEPS);
    const count = end - a;
    if (count < 4 || 2 * Math.PI * (blockMaxD3[a / SMOOTH_ANCHOR_STEPS] as number) * tAbsMax > SMOOTH_MAX_GAMMA) {
      direct(pass, f, a, end);
      continue;
    }
    ex.anchor3(n2, f[a] as number, d1[a] as number, d2[a] as number, L.pT, L.pTh, L.pTl, L.pRec, L.stride);
    mem.set(g.subarray(a, end + 1), o(L.pG));
    ex.smooth(n2, count, L.pRec, L.pG, L.pOut);
    copyOut(pass, a, count);
  }
}

function run(ex: LsExports, t: Float64Array, w: Float64Array, wy: Float64Array, grid: FrequencyGrid, sink: Sink): void {
  const n = t.length;
  const m = grid.kind === 'regular' ? grid.n : grid.frequencies.length;
  const n2 = n + (n & 1);
  const L = layoutOf(n2, m, grid.kind === 'regular', sink);
  const have = ex.memory.buffer.byteLength;
  if (L.bytes > have) ex.memory.grow(Math.ceil((L.bytes - have) / 65536));
  const mem = new Float64Array(ex.memory.buffer);
  writePoints(mem, L, t, w, wy, n2, grid.kind === 'regular');
  const pass: Pass = { ex, mem, L, n2, sink };
  if (grid.kind === 'regular') runRegular(pass, grid);
  else runList(pass, t, grid.frequencies);
  if (sink.kind === 'power') sink.out.set(mem.subarray(o(L.pPow), o(L.pPow) + m));
}
