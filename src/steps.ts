import { AbortError, StarclusterError } from './errors.js';
import type { IoHost } from './io-host.js';

/** What a running step may say about itself while it works. */
export interface StepReport {
  detail?: string;
  current?: number;
  total?: number;
}

/**
 * One step of a long operation (start, resize, terminate...). Steps run in order; when one fails
 * or the run is interrupted, the steps that completed are rolled back in reverse order, so a
 * failed run leaves nothing behind that it made.
 */
export interface Step<C> {
  id: string;
  title: string;
  /** Return a reason to skip the step (it is shown), or false to run it. */
  skip?: (ctx: C) => string | false;
  run: (ctx: C, report: (r: StepReport) => void, signal: AbortSignal) => Promise<void>;
  /** Undo what `run` made in this run. Must be safe to call when `run` only half finished. */
  rollback?: (ctx: C) => Promise<void>;
}

export interface RunStepsOptions {
  io: IoHost;
  signal?: AbortSignal;
  /** Roll back completed steps when a later one fails (default true). */
  rollbackOnFailure?: boolean;
}

/**
 * Runs steps in order with progress events and rollback. Throws the first failure (an
 * AbortError when the signal fired), after rollback; rollback failures are reported, not thrown,
 * so the original cause stays visible.
 */
export async function runSteps<C>(steps: readonly Step<C>[], ctx: C, options: RunStepsOptions): Promise<void> {
  const { io } = options;
  const signal = options.signal ?? new AbortController().signal;
  const done: Step<C>[] = [];
  let current: Step<C> | undefined;
  try {
    for (const step of steps) {
      if (signal.aborted) throw new AbortError();
      const skipReason = step.skip?.(ctx);
      if (skipReason) {
        io.progress({ id: step.id, state: 'skip', title: step.title, detail: skipReason });
        continue;
      }
      current = step;
      io.progress({ id: step.id, state: 'start', title: step.title });
      let last: StepReport = {};
      await step.run(
        ctx,
        (report) => {
          last = report;
          io.progress({ id: step.id, state: 'update', title: step.title, ...report });
        },
        signal,
      );
      done.push(step);
      current = undefined;
      io.progress({
        id: step.id,
        state: 'done',
        title: step.title,
        ...last,
        ...(step.rollback ? { undoable: true } : {}),
      });
      if (signal.aborted) throw new AbortError();
    }
  } catch (error) {
    const failure = signal.aborted && !StarclusterError.is(error) ? new AbortError(undefined, { cause: error }) : error;
    if (current) {
      io.progress({
        id: current.id,
        state: 'fail',
        title: current.title,
        detail: messageOf(failure),
        ...(current.rollback ? { undoable: true } : {}),
      });
      // A step that failed half-way may have made something: give it the chance to undo it.
      done.push(current);
    }
    if (options.rollbackOnFailure ?? true) await rollback(done, ctx, io);
    throw failure;
  }
}

async function rollback<C>(done: Step<C>[], ctx: C, io: IoHost): Promise<void> {
  for (const step of [...done].reverse()) {
    if (!step.rollback) continue;
    io.progress({ id: `${step.id}:rollback`, state: 'rollback', title: `undo: ${step.title}` });
    try {
      await step.rollback(ctx);
      io.progress({ id: `${step.id}:rollback`, state: 'done', title: `undo: ${step.title}` });
    } catch (error) {
      io.progress({ id: `${step.id}:rollback`, state: 'fail', title: `undo: ${step.title}`, detail: messageOf(error) });
      io.notify({
        level: 'warn',
        code: 'SC_ROLLBACK_W0001',
        message: `could not undo "${step.title}": ${messageOf(error)}; run \`starcluster terminate\` to remove what is left`,
      });
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
