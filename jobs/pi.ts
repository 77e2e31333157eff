/**
 * Monte Carlo estimate of π across the cluster's engines.
 *
 *   starcluster run jobs/pi.ts -c mycluster --param samples=1e10 --param seed=7
 *
 * Each task counts, exactly, how many points of its own random stream fall inside the quarter unit
 * circle. Stream i of a seed is its own block of the xoshiro256++ sequence (2^192·i steps in), so
 * tasks never share a sample and a run is reproducible from (samples, seed, tasks) whatever the
 * engines. The result has the estimate, its standard error, the estimate per engine, and a
 * chi-square test that the tasks agree with each other.
 */
import { z } from 'zod';
import { defineJob } from '../src/jobs/define.js';
import { piConvergenceFigure, piPerEngineFigure } from '../src/plots/index.js';
import { AbortError } from '../src/errors.js';
import { PiCounter, convergenceCheckpoints } from '../src/science/pi.js';
import { summarisePi, type PiSummary } from '../src/science/pi-stats.js';

/** Each task is one message each way; a million is far past any useful split. */
const MAX_TASKS = 1_000_000;

const params = z.object({
  samples: z
    .number()
    .int('samples must be a whole number, e.g. 1e9')
    .min(1, 'samples must be at least 1')
    .max(Number.MAX_SAFE_INTEGER, 'samples must be below 2^53')
    .default(1e9),
  seed: z
    .number()
    .int('seed must be a whole number')
    .min(0, 'seed must be non-negative')
    .max(Number.MAX_SAFE_INTEGER)
    .default(20260101),
  /** Default: four tasks per engine, so a slow engine delays the end by at most a quarter of its share. */
  tasks: z
    .number()
    .int('tasks must be a whole number')
    .min(1, 'tasks must be at least 1')
    .max(MAX_TASKS, `tasks must be at most ${MAX_TASKS}`)
    .optional(),
});

export type PiParams = z.infer<typeof params>;

export interface PiTask {
  seed: number;
  /** Stream id: the task's index. */
  stream: number;
  samples: number;
  /** Report prefix counts (task 0 does, for the convergence curve). */
  checkpoints: boolean;
}

export interface PiTaskResult {
  samples: number;
  inside: number;
  checkpoints?: { samples: number; inside: number }[];
}

/** Samples counted between checks for cancellation (~0.1–0.3 s of one core). */
const CHUNK = 2 ** 27;

/** `samples` split into `tasks` near-equal whole shares (the first `samples % tasks` get one more). */
export function splitSamples(samples: number, tasks: number): number[] {
  const base = Math.floor(samples / tasks);
  const extra = samples - base * tasks;
  return Array.from({ length: tasks }, (_, i) => base + (i < extra ? 1 : 0));
}

export default defineJob({
  name: 'pi',
  description: 'Monte Carlo estimate of π with exact counts and independent random streams per task',
  params,
  tasks: (p: PiParams, ctx): PiTask[] => {
    const count = Math.min(p.tasks ?? Math.max(1, ctx.engines) * 4, p.samples);
    return splitSamples(p.samples, count).map((samples, stream) => ({
      seed: p.seed,
      stream,
      samples,
      checkpoints: stream === 0,
    }));
  },
  run: async (task: PiTask, ctx): Promise<PiTaskResult> => {
    const counter = new PiCounter({ seed: task.seed, id: task.stream });
    const marks = task.checkpoints ? convergenceCheckpoints(task.samples) : [task.samples];
    const checkpoints: { samples: number; inside: number }[] = [];
    for (const mark of marks) {
      // Pieces of CHUNK samples (a multiple of 8, so the count is the same as in one piece): between
      // them the engine's event loop runs and a cancelled run stops within a fraction of a second.
      while (counter.samples < mark) {
        if (ctx.signal?.aborted)
          throw new AbortError(`pi task ${task.stream} cancelled after ${counter.samples} samples`);
        counter.advance(Math.min(CHUNK, mark - counter.samples));
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      checkpoints.push({ samples: counter.samples, inside: counter.inside });
    }
    return {
      samples: counter.samples,
      inside: counter.inside,
      ...(task.checkpoints ? { checkpoints } : {}),
    };
  },
  reduce: (outcomes): PiSummary =>
    summarisePi(
      outcomes.map((o) => ({
        index: o.index,
        engine: o.engine,
        samples: o.value.samples,
        inside: o.value.inside,
        ...(o.value.checkpoints ? { checkpoints: o.value.checkpoints } : {}),
      })),
    ),
  plot: async (summary: PiSummary) => [
    await piPerEngineFigure({ perEngine: summary.perEngine, pi: summary.pi }),
    await piConvergenceFigure(summary.convergence),
  ],
});
