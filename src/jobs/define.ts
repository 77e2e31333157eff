import type { z } from 'zod';

/**
 * The job API. A job file's default export is `defineJob({...})`; `starcluster run job.ts`
 * bundles it with esbuild, ships it once to every engine, sends each task input to an engine
 * (`run` executes there), and reduces the results on the client.
 *
 * Task inputs and outputs travel as structured values: JSON-able data plus typed arrays, which
 * go as raw binary frames (never JSON numbers).
 */
export interface JobContext {
  /** Engines taking part in the run. */
  engines: number;
}

export interface TaskContext {
  /** Engine id running this task. */
  engine: number;
  /** Index of this task in the job's task list. */
  index: number;
  /** Set when the run is cancelled; long tasks should check it. */
  signal?: AbortSignal;
}

/** One task's result with where and when it ran. */
export interface TaskOutcome<R> {
  index: number;
  engine: number;
  value: R;
  /** Milliseconds since the epoch. */
  started: number;
  completed: number;
  /** What the task printed on its engine (console.log… / console.warn, console.error), if anything. */
  stdout?: string;
  stderr?: string;
}

/** A rendered figure: `name` is the file stem written to --out (`name.svg`, `name.png`). */
export interface Figure {
  name: string;
  title: string;
  svg: string;
  png: Uint8Array;
}

export interface JobDefinition<P, T, R, S> {
  name: string;
  description?: string;
  params: z.ZodType<P>;
  /** Task inputs; runs on the client. */
  tasks: (params: P, ctx: JobContext) => T[] | Promise<T[]>;
  /** Runs on an engine, once per task. */
  run: (task: T, ctx: TaskContext) => R | Promise<R>;
  /** Runs on the client with every task's outcome, in task order. */
  reduce: (outcomes: TaskOutcome<R>[], params: P, ctx: JobContext) => S | Promise<S>;
  /** Optional figures of the summary, written to --out. */
  plot?: (summary: S, params: P) => Figure[] | Promise<Figure[]>;
}

/** Marks a module's default export as a job (and lets TypeScript infer the types). */
export function defineJob<P, T, R, S>(definition: JobDefinition<P, T, R, S>): JobDefinition<P, T, R, S> {
  return definition;
}
