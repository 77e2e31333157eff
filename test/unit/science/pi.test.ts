import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  SAMPLES_PER_STEP,
  convergenceCheckpoints,
  countInside,
  countInsideAt,
  PiCounter,
  piStreamStates,
  wasmKernelAvailable,
  type PiStream,
} from '../../../src/science/pi.js';
import { summarisePi } from '../../../src/science/pi-stats.js';
import { nextU64 } from '../../../src/science/random.js';
import { assemblePiKernel, piKernelModuleSource } from '../../../src/science/wasm/pi/assemble.js';

/**
 * The sample definition of src/science/pi.ts, transcribed literally with BigInt arithmetic: one
 * lane word at a time, X² + Y² compared in exact integers. Slow; the reference for both kernels.
 */
function referenceCount(samples: number, stream: PiStream): number {
  const states = piStreamStates(stream);
  const fine = states[4]!;
  let inside = 0;
  for (let i = 0; i < samples;) {
    const words = states.slice(0, 4).map((lane) => nextU64(lane));
    for (const w of words) {
      for (const u of [w & 0xffffffffn, w >> 32n]) {
        if (i++ >= samples) break;
        const x = (u & 0xffffn) >> 1n;
        const y = u >> 17n;
        const s = x * x + y * y;
        if (s >= 1n << 30n) continue;
        if (s + 2n * (x + y) + 2n <= 1n << 30n) {
          inside++;
          continue;
        }
        const r = nextU64(fine);
        const a = (r >> 17n) & 0x7fffn;
        const b = r >> 49n;
        const X = 2n * ((x << 15n) | a) + 1n;
        const Y = 2n * ((y << 15n) | b) + 1n;
        if (X * X + Y * Y < 1n << 62n) inside++;
      }
    }
  }
  return inside;
}

describe('countInside', () => {
  it('has the WebAssembly SIMD kernel on this runtime', () => {
    expect(wasmKernelAvailable()).toBe(true);
  });

  it('both kernels agree with the BigInt transcription of the definition', () => {
    // 200,003 samples hold ~12 cells straddling the arc, so the refinement lane is exercised.
    for (const stream of [
      { seed: 1, id: 0 },
      { seed: 2026, id: 5 },
    ]) {
      const expected = referenceCount(200_003, stream);
      expect(countInside(200_003, stream, { kernel: 'ts' })).toBe(expected);
      expect(countInside(200_003, stream, { kernel: 'wasm' })).toBe(expected);
    }
  });

  it('the WebAssembly kernel and the TypeScript twin agree exactly, partial steps included', () => {
    for (const n of [0, 1, 7, 8, 9, 15, 1000, 65_537, 4_000_003]) {
      for (const stream of [
        { seed: 42, id: 0 },
        { seed: 9, id: 3 },
      ]) {
        expect(countInside(n, stream, { kernel: 'wasm' }), `n=${n}`).toBe(countInside(n, stream, { kernel: 'ts' }));
      }
    }
  });

  it('gives the pinned counts (guards the stream definition against accidental change)', () => {
    // Made once with this implementation; the definition is in src/science/pi.ts.
    const pinned: [number, number, number][] = [
      [42, 0, 786100],
      [42, 1, 785535],
      [42, 2, 785421],
      [0, 0, 785803],
      [7, 1000, 785579],
    ];
    for (const [seed, id, inside] of pinned) expect(countInside(1_000_000, { seed, id })).toBe(inside);
  });

  it('is reproducible, and streams of one seed differ', () => {
    const a = countInside(1_000_000, { seed: 3, id: 1 });
    expect(countInside(1_000_000, { seed: 3, id: 1 })).toBe(a);
    const others = [0, 2, 3].map((id) => countInside(1_000_000, { seed: 3, id }));
    expect(new Set([a, ...others]).size).toBeGreaterThan(1);
  });

  it('counts prefixes: checkpoints equal separate counts of the first n samples', () => {
    const stream = { seed: 11, id: 2 };
    const counts = countInsideAt([8_000, 8_000, 160_000, 160_005], stream);
    expect(counts.map((c) => c.samples)).toEqual([8_000, 8_000, 160_000, 160_005]);
    for (const c of counts) expect(c.inside).toBe(countInside(c.samples, stream));
  });

  it('counts the same in pieces as in one pass, while each piece but the last is a multiple of 8', () => {
    const stream = { seed: 4, id: 7 };
    for (const kernel of ['wasm', 'ts'] as const) {
      const counter = new PiCounter(stream, { kernel });
      for (const piece of [8, 0, 80_000, 16, 8_000_000, 5]) counter.advance(piece);
      expect(counter.samples).toBe(8_080_029);
      expect(counter.inside).toBe(countInside(8_080_029, stream));
      expect(() => counter.advance(8)).toThrow(/ended at 8080029 samples/);
    }
  });

  it('keeps interleaved counters independent (the kernel memory is shared, the states are not)', () => {
    const a = new PiCounter({ seed: 1, id: 0 });
    const b = new PiCounter({ seed: 1, id: 1 });
    for (let i = 0; i < 5; i++) {
      a.advance(400_000);
      b.advance(240_000);
    }
    expect(a.inside).toBe(countInside(2_000_000, { seed: 1, id: 0 }));
    expect(b.inside).toBe(countInside(1_200_000, { seed: 1, id: 1 }));
  });

  it('rejects bad sample counts and checkpoints with a message naming the value', () => {
    expect(() => countInside(-1, { seed: 1, id: 0 })).toThrow(/samples -1/);
    expect(() => countInside(1.5, { seed: 1, id: 0 })).toThrow(/samples 1.5/);
    expect(() => countInside(2 ** 53, { seed: 1, id: 0 })).toThrow(/2\^53/);
    expect(() => countInsideAt([12, 16], { seed: 1, id: 0 })).toThrow(/checkpoint 12 is not a multiple of 8/);
    expect(() => countInsideAt([16, 8], { seed: 1, id: 0 })).toThrow(/must ascend/);
  });

  it('offers 1-2-5 convergence checkpoints below the total', () => {
    expect(convergenceCheckpoints(60_000)).toEqual([1000, 2000, 5000, 10_000, 20_000, 50_000, 60_000]);
    expect(convergenceCheckpoints(500)).toEqual([500]);
    for (const c of convergenceCheckpoints(1e10).slice(0, -1)) expect(c % SAMPLES_PER_STEP).toBe(0);
  });
});

describe('statistics of 1e10 samples in 40 streams', () => {
  // ~8–10 s single-threaded on an idle core (the kernel counts ~1.3e9 samples/s); longer on a busy machine.
  it('estimate within 5σ of π, and the tasks homogeneous (chi-square not rejected at p < 0.001)', () => {
    const tasks = Array.from({ length: 40 }, (_, index) => {
      const samples = 250_000_000;
      return { index, engine: index % 4, samples, inside: countInside(samples, { seed: 20260101, id: index }) };
    });
    const summary = summarisePi(tasks);
    expect(summary.samples).toBe(1e10);
    expect(Math.abs(summary.pi - Math.PI)).toBeLessThan(5 * summary.stderr);
    expect(summary.chiSquare.dof).toBe(39);
    expect(summary.chiSquare.pValue).toBeGreaterThan(0.001);
  }, 300_000);
});

describe('the committed kernel bytes', () => {
  it('are kernel.wat assembled (regenerate: npx tsx src/science/wasm/pi/main.ts)', async () => {
    const dir = new URL('../../../src/science/wasm/pi/', import.meta.url);
    const wat = readFileSync(new URL('kernel.wat', dir), 'utf8');
    const path = new URL('kernel-wasm.ts', dir).pathname;
    expect(readFileSync(path, 'utf8')).toBe(await piKernelModuleSource(await assemblePiKernel(wat), path));
  });
});
