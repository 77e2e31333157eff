/**
 * Monte Carlo estimate of π: count the points of a random stream that fall inside the quarter
 * unit circle. Counts are exact integers and every comparison is exact integer arithmetic.
 *
 * The sample sequence of a stream (this definition is the contract between the WebAssembly kernel
 * in wasm/pi/kernel.wat and the TypeScript twin below; tests check they agree sample for sample):
 *
 * - A stream (seed, id) has five xoshiro256++ substreams (see random.ts): lanes L0..L3 and the
 *   refinement lane F.
 * - Step k draws one 64-bit word w_j from each lane L_j; its eight samples are, in order, the low
 *   and high 32-bit halves of w_0, w_1, w_2, w_3.
 * - A 32-bit sample u gives a cell of a 2^15 × 2^15 grid over the unit square:
 *   x = (u & 0xffff) >>> 1, y = u >>> 17 (the top 15 bits of each 16-bit half).
 * - The point is the centre of a cell of the 2^30 × 2^30 grid refining that cell. With
 *   s = x² + y²: s ≥ 2^30 means the whole cell is outside the circle and s + 2(x + y) + 2 ≤ 2^30
 *   means it is inside, so no more bits are needed. Otherwise (about 6·10⁻⁵ of samples) the next
 *   word r of F gives a = bits 17..31 and b = bits 49..63 of r, and the point
 *   X = 2(x·2^15 + a) + 1, Y = 2(y·2^15 + b) + 1 is inside iff X² + Y² < 2^62.
 *
 * Sampling cell centres of a 2^30 grid biases π/4 by the lattice-point error of the midpoint rule,
 * at most of order N^(-4/3) relative for N = 2^30 cells per side (~10⁻¹²), far below the
 * statistical error of any feasible run (σ/π ≈ 5·10⁻⁶ at 10¹⁰ samples). A float test on 53-bit
 * uniforms samples a finer grid but rounds x² + y², so its verdicts next to the arc are not exact;
 * here every verdict is.
 *
 * A trailing partial step uses the first samples of one more step and discards the rest, so a
 * count of n samples is the first n samples of the stream whenever n is a multiple of 8.
 */
import { setFlagsFromString } from 'node:v8';
import { fillWords, nextInto, streamState, substreams, type Xoshiro256State } from './random.js';
import { PI_KERNEL_WASM_BASE64 } from './wasm/pi/kernel-wasm.js';

/** Identifies a stream: independent of every other id of the same seed. */
export interface PiStream {
  seed: number | bigint;
  id: number;
}

export type PiKernel = 'wasm' | 'ts';

export interface CountOptions {
  /** `wasm` (default when WebAssembly SIMD is available) or the plain TypeScript twin. */
  kernel?: PiKernel;
}

/** The prefix count of a stream: how many of its first `samples` samples fell inside. */
export interface PiCount {
  samples: number;
  inside: number;
}

export const LANES = 4;
export const SAMPLES_PER_STEP = 2 * LANES;

/** The five substream states of a stream: lanes L0..L3, then the refinement lane F. */
export function piStreamStates(stream: PiStream): Xoshiro256State[] {
  return substreams(streamState(stream.seed, stream.id), LANES + 1);
}

const CIRCLE = 0x40000000; // 2^30: the squared radius in cell units
const NEAR_ARC = CIRCLE - 0x20000 + 3; // cells with s below this are inside whatever x, y
const FINE_LIMIT = 2 ** 45; // (2^62) / 2^17, see refineInside

/**
 * Exact test of the refined point X = x·2^16 + Xl, Y = y·2^16 + Yl (Xl = 2a + 1, Yl = 2b + 1):
 * X² + Y² < 2^62 without 64-bit integers. X² + Y² = A·2^17 + B with A = s·2^15 + x·Xl + y·Yl
 * (< 2^46) and B = Xl² + Yl² (< 2^33), all exact in doubles; since 2^62 is a multiple of 2^17,
 * A·2^17 + B < 2^62 iff A + ⌊B / 2^17⌋ < 2^45.
 */
function refineInside(x: number, y: number, s: number, r: Uint32Array): boolean {
  const xl = ((r[0]! >>> 17) << 1) | 1;
  const yl = ((r[1]! >>> 17) << 1) | 1;
  const a = s * 32768 + x * xl + y * yl;
  const b = xl * xl + yl * yl;
  return a + Math.floor(b / 131072) < FINE_LIMIT;
}

/** One sample's verdict (consuming a word of F when the cell straddles the arc). */
function sampleInside(u: number, fine: Xoshiro256State, r: Uint32Array): boolean {
  const x = (u & 0xffff) >>> 1;
  const y = u >>> 17;
  const s = x * x + y * y;
  if (s >= CIRCLE) return false;
  if (s + 2 * (x + y) + 2 <= CIRCLE) return true;
  nextInto(fine, r, 0);
  return refineInside(x, y, s, r);
}

/** A sampler positioned somewhere in a stream: whole steps, then at most one partial step. */
interface Sampler {
  /** Inside count of the next `steps` whole steps. */
  steps(steps: number): number;
  /** Inside count of the first `samples` (< 8) samples of the next step; the rest are discarded. */
  partial(samples: number): number;
}

/** Steps per block of the TypeScript sampler: each lane fills its words for a block at once. */
const BLOCK = 1024;

class TsSampler implements Sampler {
  private readonly words = new Uint32Array(SAMPLES_PER_STEP * BLOCK);
  private readonly r = new Uint32Array(2);
  constructor(
    private readonly lanes: Xoshiro256State[],
    private readonly fine: Xoshiro256State,
  ) {}

  steps(steps: number): number {
    const { words, lanes, fine, r } = this;
    let inside = 0;
    for (let done = 0; done < steps;) {
      const n = Math.min(BLOCK, steps - done);
      // Lane j's word for step k lands at 8k + 2j: the samples are then in stream order.
      for (let j = 0; j < LANES; j++) fillWords(lanes[j]!, words, 2 * j, SAMPLES_PER_STEP, n);
      const end = n * SAMPLES_PER_STEP;
      for (let i = 0; i < end; i++) {
        const u = words[i]!;
        const x = (u & 0xffff) >>> 1;
        const y = u >>> 17;
        const s = x * x + y * y;
        // Branch-free common case, as in the kernel: count the near corner (s < 2^30), then
        // correct the rare cells that may straddle the arc (2^30 − 2^17 + 3 ≤ s < 2^30).
        inside += (s - CIRCLE) >>> 31;
        if (s >= NEAR_ARC && s < CIRCLE && s + 2 * (x + y) + 2 > CIRCLE) {
          nextInto(fine, r, 0);
          if (!refineInside(x, y, s, r)) inside--;
        }
      }
      done += n;
    }
    return inside;
  }

  partial(samples: number): number {
    for (let j = 0; j < LANES; j++) nextInto(this.lanes[j]!, this.words, 2 * j);
    let inside = 0;
    for (let i = 0; i < samples; i++) if (sampleInside(this.words[i]!, this.fine, this.r)) inside++;
    return inside;
  }
}

interface KernelExports {
  memory: { buffer: ArrayBuffer };
  count: (steps: number) => bigint;
}

/** The WebAssembly global (typed here: the project's lib settings include no DOM types). */
interface WasmGlobal {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmGlobal }).WebAssembly;

let kernelInstance: KernelExports | undefined;
let wasmSupport: boolean | undefined;

function kernel(): KernelExports {
  if (!kernelInstance) {
    const bytes = Uint8Array.from(Buffer.from(PI_KERNEL_WASM_BASE64, 'base64'));
    // Compile straight to optimised code: a wasm call never leaves the tier it started in, so the
    // first count would otherwise run its whole chunk in V8's baseline tier (~3× slower).
    setFlagsFromString('--no-liftoff');
    try {
      const instance = new wasm.Instance(new wasm.Module(bytes), {});
      kernelInstance = instance.exports as unknown as KernelExports;
    } finally {
      setFlagsFromString('--liftoff');
    }
  }
  return kernelInstance;
}

/** Whether this runtime compiles the SIMD kernel (Node ≥ 16.4 does). */
export function wasmKernelAvailable(): boolean {
  if (wasmSupport === undefined) {
    try {
      kernel();
      wasmSupport = true;
    } catch {
      wasmSupport = false;
    }
  }
  return wasmSupport;
}

/** Largest number of steps per kernel call: keeps each i32 lane of its count below 2^31. */
const STEPS_PER_CALL = 1 << 24;

/**
 * The WebAssembly sampler. The kernel keeps its states in its own memory, so a sampler loads them
 * before each call and saves them after: samplers stay independent and calls are synchronous.
 */
class WasmSampler implements Sampler {
  private readonly simd = new Uint32Array(32);
  private readonly ts: TsSampler;
  constructor(
    private readonly lanes: Xoshiro256State[],
    private readonly fine: Xoshiro256State,
  ) {
    this.ts = new TsSampler(lanes, fine);
  }

  steps(steps: number): number {
    const k = kernel();
    this.pack();
    let inside = 0;
    for (let done = 0; done < steps;) {
      const n = Math.min(STEPS_PER_CALL, steps - done);
      new Uint32Array(k.memory.buffer, 0, 32).set(this.simd);
      new Uint32Array(k.memory.buffer, 128, 8).set(this.fine);
      inside += Number(k.count(n));
      this.simd.set(new Uint32Array(k.memory.buffer, 0, 32));
      this.fine.set(new Uint32Array(k.memory.buffer, 128, 8));
      done += n;
    }
    this.unpack();
    return inside;
  }

  partial(samples: number): number {
    return this.ts.partial(samples);
  }

  /** Lane states → the kernel's layout: generator A = lanes 0, 1 and B = lanes 2, 3, word by word. */
  private pack(): void {
    for (let j = 0; j < LANES; j++) {
      const lane = this.lanes[j]!;
      const base = (j >> 1) * 16 + (j & 1) * 2;
      for (let w = 0; w < 4; w++) {
        this.simd[base + 4 * w] = lane[2 * w]!;
        this.simd[base + 4 * w + 1] = lane[2 * w + 1]!;
      }
    }
  }

  private unpack(): void {
    for (let j = 0; j < LANES; j++) {
      const lane = this.lanes[j]!;
      const base = (j >> 1) * 16 + (j & 1) * 2;
      for (let w = 0; w < 4; w++) {
        lane[2 * w] = this.simd[base + 4 * w]!;
        lane[2 * w + 1] = this.simd[base + 4 * w + 1]!;
      }
    }
  }
}

function checkSamples(samples: number, what: string): void {
  if (!Number.isSafeInteger(samples) || samples < 0) {
    throw new RangeError(`${what} ${samples} is not a whole number in [0, 2^53): use e.g. 1e9`);
  }
}

/**
 * A running count over one stream: `advance(n)` counts the next `n` samples. Long counts can be
 * cut into pieces (to check for cancellation or report progress) with the same result as one
 * piece, as long as every piece but the last is a multiple of 8 samples.
 */
export class PiCounter {
  /** Samples counted so far. */
  samples = 0;
  /** Of which inside the circle. */
  inside = 0;
  private readonly sampler: Sampler;
  private closed = false;

  constructor(stream: PiStream, options: CountOptions = {}) {
    const states = piStreamStates(stream);
    const lanes = states.slice(0, LANES);
    const fine = states[LANES]!;
    const kind = options.kernel ?? (wasmKernelAvailable() ? 'wasm' : 'ts');
    this.sampler = kind === 'wasm' ? new WasmSampler(lanes, fine) : new TsSampler(lanes, fine);
  }

  /** Counts the next `n` samples and returns the totals so far. */
  advance(n: number): PiCount {
    checkSamples(n, 'samples');
    if (n === 0) return { samples: this.samples, inside: this.inside };
    if (this.closed) {
      throw new RangeError(
        `this count ended at ${this.samples} samples, not a multiple of ${SAMPLES_PER_STEP}: only the last piece may be`,
      );
    }
    if (this.samples + n > Number.MAX_SAFE_INTEGER) throw new RangeError('samples would exceed 2^53 − 1');
    const steps = Math.floor(n / SAMPLES_PER_STEP);
    const rest = n - steps * SAMPLES_PER_STEP;
    this.inside += this.sampler.steps(steps);
    if (rest > 0) {
      this.inside += this.sampler.partial(rest);
      this.closed = true;
    }
    this.samples += n;
    return { samples: this.samples, inside: this.inside };
  }
}

/**
 * Exact prefix counts of a stream at each checkpoint (ascending sample counts; each but the last
 * a multiple of 8) in one pass. The last checkpoint is the total.
 */
export function countInsideAt(checkpoints: readonly number[], stream: PiStream, options: CountOptions = {}): PiCount[] {
  const counter = new PiCounter(stream, options);
  return checkpoints.map((n, i) => {
    checkSamples(n, 'checkpoint');
    if (n < counter.samples) throw new RangeError(`checkpoints must ascend: ${n} follows ${counter.samples}`);
    if (i < checkpoints.length - 1 && n % SAMPLES_PER_STEP !== 0) {
      throw new RangeError(`checkpoint ${n} is not a multiple of ${SAMPLES_PER_STEP}: only the last may be`);
    }
    return counter.advance(n - counter.samples);
  });
}

/** How many of the first `samples` samples of `stream` fall inside the quarter circle (exact). */
export function countInside(samples: number, stream: PiStream, options: CountOptions = {}): number {
  checkSamples(samples, 'samples');
  return countInsideAt([samples], stream, options)[0]!.inside;
}

/** Checkpoints for a convergence curve: 1, 2, 5 × powers of ten from 1000 below `samples`, then `samples`. */
export function convergenceCheckpoints(samples: number): number[] {
  checkSamples(samples, 'samples');
  const out: number[] = [];
  for (let p = 1000; p < samples; p *= 10) {
    for (const m of [1, 2, 5]) if (m * p < samples) out.push(m * p);
  }
  out.push(samples);
  return out;
}
