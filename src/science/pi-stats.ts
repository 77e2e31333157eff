/**
 * Statistics of a Monte Carlo π run: exact totals, the standard error, per-engine estimates, a
 * chi-square homogeneity test across tasks, and the convergence curve. Pure: counts in, numbers out.
 */

/** One task's exact counts and where it ran. */
export interface PiTaskCount {
  index: number;
  engine: number;
  samples: number;
  inside: number;
  /** Prefix counts within the task (ascending samples), for the convergence curve. */
  checkpoints?: readonly { samples: number; inside: number }[];
}

export interface ChiSquareTest {
  statistic: number;
  dof: number;
  /** P(χ²_dof ≥ statistic): small values reject homogeneity. */
  pValue: number;
}

export interface PiSummary {
  pi: number;
  samples: number;
  inside: number;
  /** Standard error of `pi`: 4·sqrt(p(1 − p)/n), p = inside/samples. */
  stderr: number;
  /** (pi − π)/stderr. */
  sigmas: number;
  perEngine: { engine: number; samples: number; inside: number; pi: number }[];
  /** Homogeneity of the tasks' inside fractions (a 2 × tasks contingency table). */
  chiSquare: ChiSquareTest;
  /** The running estimate over nested prefixes of the whole run: task 0's checkpoints, then task by task. */
  convergence: { samples: number; pi: number }[];
  tasks: number;
}

// Lanczos approximation (g = 7, n = 9): ln Γ to ~1e-15 relative for x > 0.
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0. */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`logGamma(${x}): x must be positive`);
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x); // reflection
  const z = x - 1;
  let sum = LANCZOS[0]!;
  for (let i = 1; i < LANCZOS.length; i++) sum += LANCZOS[i]! / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

const EPS = 1e-16;
const TINY = 1e-300;
const MAX_ITERATIONS = 100_000;

/** ln of the common factor e^(−x)·x^a/Γ(a). */
function logPrefactor(a: number, x: number): number {
  return a * Math.log(x) - x - logGamma(a);
}

/** P(a, x) by its series: e^(−x)·x^a/Γ(a) · Σ x^n/(a(a+1)…(a+n)); converges fast for x < a + 1. */
function lowerSeries(a: number, x: number): number {
  let term = 1 / a;
  let sum = term;
  for (let n = 1; n < MAX_ITERATIONS; n++) {
    term *= x / (a + n);
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * EPS) break;
  }
  return sum * Math.exp(logPrefactor(a, x));
}

/** Q(a, x) by its continued fraction (modified Lentz); converges fast for x ≥ a + 1. */
function upperFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITERATIONS; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return Math.exp(logPrefactor(a, x)) * h;
}

/** The regularized lower incomplete gamma function P(a, x) = γ(a, x)/Γ(a), a > 0, x ≥ 0. */
export function regularizedGammaP(a: number, x: number): number {
  checkGammaArgs(a, x);
  if (x === 0) return 0;
  if (x === Infinity) return 1;
  return x < a + 1 ? lowerSeries(a, x) : 1 - upperFraction(a, x);
}

/** The regularized upper incomplete gamma function Q(a, x) = Γ(a, x)/Γ(a) = 1 − P(a, x). */
export function regularizedGammaQ(a: number, x: number): number {
  checkGammaArgs(a, x);
  if (x === 0) return 1;
  if (x === Infinity) return 0;
  return x < a + 1 ? 1 - lowerSeries(a, x) : upperFraction(a, x);
}

function checkGammaArgs(a: number, x: number): void {
  if (!(a > 0) || !Number.isFinite(a)) throw new RangeError(`incomplete gamma: a = ${a} must be a positive number`);
  if (!(x >= 0)) throw new RangeError(`incomplete gamma: x = ${x} must be non-negative`);
}

/** Survival function of the chi-square distribution: P(χ²_dof ≥ statistic). */
export function chiSquareSurvival(statistic: number, dof: number): number {
  if (!Number.isInteger(dof) || dof < 1) throw new RangeError(`chi-square dof ${dof} must be a positive integer`);
  if (!(statistic >= 0)) throw new RangeError(`chi-square statistic ${statistic} must be non-negative`);
  return regularizedGammaQ(dof / 2, statistic / 2);
}

/**
 * Chi-square homogeneity test of inside fractions across groups: the 2 × k contingency table
 * (inside, outside) × group against the pooled fraction p̂, statistic
 * Σ (inside_i − n_i·p̂)² / (n_i·p̂·(1 − p̂)), k − 1 degrees of freedom. Groups with no samples
 * carry no information and are left out.
 */
export function chiSquareHomogeneity(groups: readonly { samples: number; inside: number }[]): ChiSquareTest {
  const used = groups.filter((g) => g.samples > 0);
  const n = exactSum(used.map((g) => g.samples));
  const inside = exactSum(used.map((g) => g.inside));
  const dof = used.length - 1;
  if (dof < 1 || inside === 0 || inside === n) return { statistic: 0, dof: Math.max(dof, 0), pValue: 1 };
  const p = inside / n;
  let statistic = 0;
  for (const g of used) {
    const expected = g.samples * p;
    const d = g.inside - expected;
    statistic += (d * d) / (expected * (1 - p));
  }
  return { statistic, dof, pValue: chiSquareSurvival(statistic, dof) };
}

/** Sum of non-negative safe integers, exact (BigInt), or an error if the total is not a safe integer. */
export function exactSum(values: readonly number[]): number {
  let total = 0n;
  for (const v of values) {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`count ${v} is not a non-negative whole number`);
    total += BigInt(v);
  }
  if (total > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`total count ${total} exceeds 2^53 − 1: run fewer samples`);
  }
  return Number(total);
}

/** Standard error of 4·p̂ from n Bernoulli samples with p̂ = inside/n. */
export function piStandardError(inside: number, samples: number): number {
  if (samples <= 0) return NaN;
  const p = inside / samples;
  return 4 * Math.sqrt((p * (1 - p)) / samples);
}

/** Everything a pi run reports, from its tasks' exact counts (in any order). */
export function summarisePi(tasks: readonly PiTaskCount[]): PiSummary {
  const ordered = [...tasks].sort((a, b) => a.index - b.index);
  const samples = exactSum(ordered.map((t) => t.samples));
  const inside = exactSum(ordered.map((t) => t.inside));
  const pi = samples > 0 ? (4 * inside) / samples : NaN;
  const stderr = piStandardError(inside, samples);

  const engines = new Map<number, { samples: number[]; inside: number[] }>();
  for (const t of ordered) {
    const e = engines.get(t.engine) ?? { samples: [], inside: [] };
    e.samples.push(t.samples);
    e.inside.push(t.inside);
    engines.set(t.engine, e);
  }
  const perEngine = [...engines.entries()]
    .sort(([a], [b]) => a - b)
    .map(([engine, e]) => {
      const n = exactSum(e.samples);
      const k = exactSum(e.inside);
      return { engine, samples: n, inside: k, pi: n > 0 ? (4 * k) / n : NaN };
    });

  const convergence: { samples: number; pi: number }[] = [];
  const first = ordered[0];
  for (const c of first?.checkpoints ?? []) {
    if (c.samples > 0 && c.samples < first!.samples)
      convergence.push({ samples: c.samples, pi: (4 * c.inside) / c.samples });
  }
  let n = 0n;
  let k = 0n;
  for (const t of ordered) {
    n += BigInt(t.samples);
    k += BigInt(t.inside);
    if (n > 0n) convergence.push({ samples: Number(n), pi: (4 * Number(k)) / Number(n) });
  }

  return {
    pi,
    samples,
    inside,
    stderr,
    sigmas: (pi - Math.PI) / stderr,
    perEngine,
    chiSquare: chiSquareHomogeneity(ordered),
    convergence,
    tasks: ordered.length,
  };
}
