/**
 * IPython parallel's task schedulers (ipyparallel/controller/task_scheduler.py), as pure functions.
 *
 * The controller keeps its engines in LRU order: index 0 is the least recently assigned engine; a
 * new engine is inserted at 0; assigning a task moves the engine to the end. A scheme receives the
 * outstanding-task counts (`loads`) of the candidate engines in that order and returns an index.
 * `random` is injectable so tests can pin the draws.
 */
import type { Scheme } from '../protocol/messages.js';

export type { Scheme } from '../protocol/messages.js';
export { DEFAULT_SCHEME, isScheme, SCHEMES } from '../protocol/messages.js';

export type Random = () => number;
export type SchemeFn = (loads: readonly number[], random?: Random) => number;

const randint = (n: number, random: Random): number => Math.min(n - 1, Math.floor(random() * n));

/** Always the least recently used engine; ignores load. */
export const lru: SchemeFn = () => 0;

/** Uniformly random engine. */
export const plainrandom: SchemeFn = (loads, random = Math.random) => randint(loads.length, random);

/** Two uniform draws; the less recently used of the two (the smaller index). */
export const twobin: SchemeFn = (loads, random = Math.random) => {
  const a = randint(loads.length, random);
  const b = randint(loads.length, random);
  return Math.min(a, b);
};

/** Fewest outstanding tasks; ties go to the least recently used (first index of the minimum). */
export const leastload: SchemeFn = (loads) => {
  let best = 0;
  for (let i = 1; i < loads.length; i++) if (loads[i]! < loads[best]!) best = i;
  return best;
};

/**
 * Two draws with probability ∝ 1/(1e-6 + load), by walking the cumulative sum as ipyparallel does
 * (`while sums[i] < x: i += 1`); returns the second draw only if its weight is strictly larger.
 */
export const weighted: SchemeFn = (loads, random = Math.random) => {
  const weights = loads.map((l) => 1 / (1e-6 + l));
  const sums: number[] = [];
  let sum = 0;
  for (const w of weights) sums.push((sum += w));
  const draw = (): number => {
    const x = random() * sum;
    let i = 0;
    while (i < sums.length - 1 && sums[i]! < x) i++; // the bound only guards float rounding
    return i;
  };
  const x = draw();
  const y = draw();
  return weights[y]! > weights[x]! ? y : x;
};

export const SCHEME_FUNCTIONS: Record<Scheme, SchemeFn> = { lru, plainrandom, twobin, leastload, weighted };

/**
 * The LRU-ordered engine list with loads, exactly as ipyparallel's TaskScheduler keeps
 * `targets`/`loads`: `add` inserts at the front, `assign` bumps the load and moves the engine to
 * the back, `finish` lowers the load in place.
 */
export class LruLoads {
  readonly targets: number[] = [];
  readonly loads: number[] = [];

  add(engine: number): void {
    if (this.targets.includes(engine)) return;
    this.targets.unshift(engine);
    this.loads.unshift(0);
  }

  remove(engine: number): void {
    const i = this.targets.indexOf(engine);
    if (i < 0) return;
    this.targets.splice(i, 1);
    this.loads.splice(i, 1);
  }

  assign(engine: number): void {
    const i = this.targets.indexOf(engine);
    if (i < 0) return;
    const load = this.loads[i]! + 1;
    this.targets.splice(i, 1);
    this.loads.splice(i, 1);
    this.targets.push(engine);
    this.loads.push(load);
  }

  finish(engine: number): void {
    const i = this.targets.indexOf(engine);
    if (i >= 0 && this.loads[i]! > 0) this.loads[i]!--;
  }

  loadOf(engine: number): number {
    const i = this.targets.indexOf(engine);
    return i < 0 ? 0 : this.loads[i]!;
  }

  /**
   * Picks an engine among those that `accept` (below their hwm, in the task's targets, not
   * blacklisted) with `scheme` applied to the candidates' loads in LRU order; undefined if none.
   */
  pick(scheme: SchemeFn, accept: (engine: number, load: number) => boolean, random?: Random): number | undefined {
    const idx: number[] = [];
    const loads: number[] = [];
    for (let i = 0; i < this.targets.length; i++) {
      if (accept(this.targets[i]!, this.loads[i]!)) {
        idx.push(i);
        loads.push(this.loads[i]!);
      }
    }
    if (idx.length === 0) return undefined;
    const chosen = scheme(loads, random);
    return this.targets[idx[chosen]!];
  }
}
