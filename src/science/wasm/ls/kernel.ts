/**
 * Drives the WebAssembly SIMD Lomb-Scargle kernels (kernel.wat, bytes in kernel-wasm.ts): lays the point
 * arrays out in the module's memory, re-anchors the recurrences with exact sin/cos every block, and copies the
 * six sums per frequency out. Same results as the TypeScript kernels in ../../lombscargle-kernels.ts.
 */
import type { FrequencyGrid } from '../../frequency-grid.js';
import {
  differences,
  REGULAR_ANCHOR_STEPS,
  SMOOTH_ANCHOR_STEPS,
  smoothBlockOk,
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
  anchor(n: number, f: number, pt: number, pth: number, ptl: number, por: number, poi: number): void;
  regular(
    n: number,
    count: number,
    pw: number,
    pwy: number,
    pzr: number,
    pzi: number,
    par: number,
    pai: number,
    po: number,
  ): void;
  smooth(
    n: number,
    count: number,
    pt: number,
    pw: number,
    pwy: number,
    pzr: number,
    pzi: number,
    par: number,
    pai: number,
    pbr: number,
    pbi: number,
    pg: number,
    po: number,
  ): void;
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
    instance = new wasm.Instance(new wasm.Module(bytes)).exports as LsExports;
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
  return (t, w, wy, grid, out) => run(ex, t, w, wy, grid, out);
}

function run(
  ex: LsExports,
  t: Float64Array,
  w: Float64Array,
  wy: Float64Array,
  grid: FrequencyGrid,
  out: Float64Array,
): void {
  const n = t.length;
  const n2 = n + (n & 1);
  const block = Math.max(REGULAR_ANCHOR_STEPS, SMOOTH_ANCHOR_STEPS, DIRECT_BLOCK) + 2;
  // Layout (f64 arrays): t th tl w wy zr zi ar ai br bi | g or frequencies (block) | out (12·block: lanes).
  const arr = n2 * 8;
  const pT = 0;
  const pTh = pT + arr;
  const pTl = pTh + arr;
  const pW = pTl + arr;
  const pWy = pW + arr;
  const pZr = pWy + arr;
  const pZi = pZr + arr;
  const pAr = pZi + arr;
  const pAi = pAr + arr;
  const pBr = pAi + arr;
  const pBi = pBr + arr;
  const pG = pBi + arr;
  const pOut = pG + block * 8;
  const bytes = pOut + 2 * SUMS_PER_FREQUENCY * block * 8;
  const have = ex.memory.buffer.byteLength;
  if (bytes > have) ex.memory.grow(Math.ceil((bytes - have) / 65536));
  const mem = new Float64Array(ex.memory.buffer);
  const o = (p: number): number => p >> 3;
  for (let i = 0; i < n2; i++) {
    const ti = i < n ? (t[i] as number) : 0;
    const c = SPLIT * ti;
    const th = c - (c - ti);
    mem[o(pT) + i] = ti;
    mem[o(pTh) + i] = th;
    mem[o(pTl) + i] = ti - th;
    mem[o(pW) + i] = i < n ? (w[i] as number) : 0;
    mem[o(pWy) + i] = i < n ? (wy[i] as number) : 0;
  }
  // The kernels leave each sum as two lane partials: add them.
  const copyOut = (k0: number, count: number): void => {
    const src = o(pOut);
    const dst = SUMS_PER_FREQUENCY * k0;
    for (let j = 0; j < SUMS_PER_FREQUENCY * count; j++) {
      out[dst + j] = (mem[src + 2 * j] as number) + (mem[src + 2 * j + 1] as number);
    }
  };
  const direct = (freqs: Float64Array, k0: number, k1: number): void => {
    for (let a = k0; a < k1; a += DIRECT_BLOCK) {
      const count = Math.min(k1, a + DIRECT_BLOCK) - a;
      mem.set(freqs.subarray(a, a + count), o(pG));
      ex.direct(n2, count, pG, pT, pTh, pTl, pW, pWy, pOut);
      copyOut(a, count);
    }
  };

  if (grid.kind === 'regular') {
    ex.anchor(n2, grid.df, pT, pTh, pTl, pAr, pAi);
    for (let a = 0; a < grid.n; a += REGULAR_ANCHOR_STEPS) {
      const count = Math.min(grid.n, a + REGULAR_ANCHOR_STEPS) - a;
      ex.anchor(n2, grid.f0 + a * grid.df, pT, pTh, pTl, pZr, pZi);
      ex.regular(n2, count, pW, pWy, pZr, pZi, pAr, pAi, pOut);
      copyOut(a, count);
    }
    return;
  }

  const f = grid.frequencies;
  const m = f.length;
  const { d1, d2, d3 } = differences(f);
  let tAbsMax = 0;
  for (let i = 0; i < n; i++) tAbsMax = Math.max(tAbsMax, Math.abs(t[i] as number));
  for (let a = 0; a < m; a += SMOOTH_ANCHOR_STEPS) {
    const end = Math.min(m, a + SMOOTH_ANCHOR_STEPS);
    const count = end - a;
    if (count < 4 || !smoothBlockOk(d3, a, end, tAbsMax)) {
      direct(f, a, end);
      continue;
    }
    ex.anchor(n2, f[a] as number, pT, pTh, pTl, pZr, pZi);
    ex.anchor(n2, d1[a] as number, pT, pTh, pTl, pAr, pAi);
    ex.anchor(n2, d2[a] as number, pT, pTh, pTl, pBr, pBi);
    const g0 = o(pG);
    for (let k = 0; k < count + 1; k++) mem[g0 + k] = a + k < m ? TWO_PI * (d3[a + k] as number) : 0;
    ex.smooth(n2, count, pT, pW, pWy, pZr, pZi, pAr, pAi, pBr, pBi, pG, pOut);
    copyOut(a, count);
  }
}
