// Monte Carlo pi throughput: our exact WebAssembly SIMD kernel (one thread, warm), its plain
// TypeScript twin, and vectorised numpy (bench/python/pi_numpy.py) measured in the same run.
//
// Usage: npm run bench:pi -- [--json] [--samples 2e9] [--numpy-samples 2e8] [--ts-samples 4e7]
//                            [--repeat 3] [--stats 1e10]
//   --json     one JSON line: {samplesPerSecondPerCore, numpySamplesPerSecond, ...}; rates are wall-clock
//              (best of --repeat runs); the cpu* figures divide by this process's CPU time instead, which
//              is nearer an idle core's rate when the machine is shared
//   --stats N  also run N samples in 40 streams and report |pi − π| in σ and the chi-square test
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countInside, wasmKernelAvailable, type PiKernel } from '../src/science/pi.js';
import { summarisePi } from '../src/science/pi-stats.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(args[i + 1]);
  if (!Number.isSafeInteger(value) || value <= 0) {
    console.error(`${name} ${args[i + 1]} is not a positive whole number (e.g. 1e9)`);
    process.exit(2);
  }
  return value;
};
const samples = option('--samples', 2e9);
const numpySamples = option('--numpy-samples', 2e8);
const tsSamples = option('--ts-samples', 4e7);
const repeat = option('--repeat', 3);
const statsSamples = args.includes('--stats') ? option('--stats', 1e10) : 0;
const say = (line: string): void => {
  if (json) console.error(line);
  else console.log(line);
};

const here = dirname(fileURLToPath(import.meta.url));
const python = join(here, 'python', '.venv', 'bin', 'python');

interface Rate {
  /** Best of the runs, by wall clock. */
  best: number;
  median: number;
  /** Best of the runs, by this process's CPU time: closer to an idle core's figure on a busy machine. */
  cpuBest: number;
  runs: number[];
  pi: number;
}

/** Samples per second of `kernel` on `n` samples: `repeat` timed runs after a warm-up. */
function rate(kernel: PiKernel, n: number): Rate {
  countInside(Math.min(n, 5e7), { seed: 1, id: 99 }, { kernel }); // warm-up: compile and tier up
  const runs: number[] = [];
  let cpuBest = 0;
  let pi = NaN;
  for (let r = 0; r < repeat; r++) {
    const start = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    const inside = countInside(n, { seed: 20260101, id: r }, { kernel });
    const used = process.cpuUsage(cpu);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    runs.push(n / seconds);
    cpuBest = Math.max(cpuBest, n / ((used.user + used.system) / 1e6));
    pi = (4 * inside) / n;
  }
  const sorted = [...runs].sort((a, b) => a - b);
  return { best: sorted[sorted.length - 1]!, median: sorted[Math.floor(sorted.length / 2)]!, cpuBest, runs, pi };
}

interface NumpyResult {
  samplesPerSecond: number;
  cpuSamplesPerSecond: number;
  pi: number;
  numpy: string;
}

function numpyRate(): NumpyResult | { error: string } {
  if (!existsSync(python)) {
    say('bench/python/.venv is missing: running bench/python/setup.sh (a few minutes, once)');
    // its output goes to stderr, so --json still prints one line on stdout
    const setup = spawnSync('bash', [join(here, 'python', 'setup.sh')], { stdio: ['ignore', 2, 2] });
    if (setup.status !== 0 || !existsSync(python)) return { error: 'bench/python/setup.sh failed' };
  }
  const run = spawnSync(python, [join(here, 'python', 'pi_numpy.py'), String(numpySamples)], { encoding: 'utf8' });
  if (run.status !== 0) return { error: `pi_numpy.py failed: ${run.stderr.trim()}` };
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as NumpyResult;
}

if (!wasmKernelAvailable())
  say('warning: this runtime cannot compile the WebAssembly SIMD kernel; measuring the TypeScript twin');
const fmt = (x: number): string => x.toExponential(3);

say(`pi kernel, one thread: ${fmt(samples)} samples × ${repeat} runs (CPU: ${cpus()[0]?.model ?? 'unknown'})`);
const wasm = rate(wasmKernelAvailable() ? 'wasm' : 'ts', samples);
say(
  `  wasm SIMD   ${fmt(wasm.best)} samples/s (best; median ${fmt(wasm.median)}; per CPU-second ${fmt(wasm.cpuBest)})  pi ≈ ${wasm.pi}`,
);
const ts = rate('ts', tsSamples);
say(`  TypeScript  ${fmt(ts.best)} samples/s (best; median ${fmt(ts.median)})`);
say(`numpy (vectorised float64, PCG64): ${fmt(numpySamples)} samples`);
const numpy = numpyRate();
if ('error' in numpy) say(`  ${numpy.error}`);
else {
  say(
    `  numpy ${numpy.numpy}  ${fmt(numpy.samplesPerSecond)} samples/s (per CPU-second ${fmt(numpy.cpuSamplesPerSecond)})  pi ≈ ${numpy.pi}`,
  );
}
const speedup = 'error' in numpy ? undefined : wasm.best / numpy.samplesPerSecond;
if (speedup !== undefined) say(`  ours / numpy = ${speedup.toFixed(1)}×`);

let stats: Record<string, number> | undefined;
if (statsSamples > 0) {
  const tasks = 40;
  const share = Math.floor(statsSamples / tasks);
  say(`statistics: ${fmt(share * tasks)} samples in ${tasks} streams`);
  const start = process.hrtime.bigint();
  const counts = Array.from({ length: tasks }, (_, index) => ({
    index,
    engine: 0,
    samples: share,
    inside: countInside(share, { seed: 20260101, id: index }),
  }));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const s = summarisePi(counts);
  stats = {
    samples: s.samples,
    inside: s.inside,
    pi: s.pi,
    stderr: s.stderr,
    sigmas: s.sigmas,
    chiSquare: s.chiSquare.statistic,
    chiSquareDof: s.chiSquare.dof,
    chiSquarePValue: s.chiSquare.pValue,
    seconds,
  };
  say(
    `  pi = ${s.pi} ± ${s.stderr.toExponential(2)}  (${s.sigmas.toFixed(2)}σ from π); ` +
      `chi-square ${s.chiSquare.statistic.toFixed(2)} on ${s.chiSquare.dof} dof, p = ${s.chiSquare.pValue.toFixed(4)}; ${seconds.toFixed(1)} s`,
  );
}

if (json) {
  console.log(
    JSON.stringify({
      samplesPerSecondPerCore: wasm.best,
      numpySamplesPerSecond: 'error' in numpy ? null : numpy.samplesPerSecond,
      speedupOverNumpy: speedup ?? null,
      samplesPerSecondPerCoreMedian: wasm.median,
      cpuSamplesPerSecondPerCore: wasm.cpuBest,
      numpyCpuSamplesPerSecond: 'error' in numpy ? null : numpy.cpuSamplesPerSecond,
      tsSamplesPerSecond: ts.best,
      kernel: wasmKernelAvailable() ? 'wasm-simd' : 'ts',
      samples,
      numpySamples,
      ...(stats ? { stats } : {}),
    }),
  );
}
