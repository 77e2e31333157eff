import { encodeValue } from '../protocol/codec.js';
import type { Scheme, TaskKindCode } from '../protocol/messages.js';
import type { Frames } from '../protocol/sockets.js';
import type { PartOutcome, TaskMetadata } from './async-result.js';

/**
 * Task framing, and what a view needs of a client (`Submitter`): views build tasks' frames here and
 * hand them to a Submitter; they know nothing of sockets, lanes or the controller.
 */

/**
 * A function run on engines: either a self-contained function, shipped as its source
 * (`fn.toString()`) and compiled in the engine's namespace — it must not use variables it closes
 * over (they do not travel; pass them as arguments or `push` them), nor be a method shorthand or a
 * native function — or a reference to an export of a module loaded with `client.loadModule`.
 */
export type TaskFunction<A extends unknown[] = never[], R = unknown> = ((...args: A) => R) | FnRef;

/** An export of a loaded module. With `context: true` the engine appends an EngineTaskContext argument. */
export interface FnRef {
  module: string;
  export: string;
  context?: boolean;
}

/** @internal what a view submits */
export interface Submission {
  to?: number[];
  direct?: boolean;
  retries?: number;
  scheme?: Scheme;
  /** `false`: never by a lane (maps: their tasks belong to the scheduler). */
  lane?: false;
  /** Per-task time limit on the engine (ms). */
  timeLimitMs?: number;
  /** Its result may be large (pull, gather): a direct task takes the bulk lane when it can. */
  bulk?: true;
  /**
   * Where its result's binary frames may be received (a gather's part, in the final array): exactly
   * their bytes, consecutive. Used when the result comes by the bulk lane and its frames fit exactly.
   */
  into?: Uint8Array;
}

/** Called exactly once with a task's outcome. */
export type Done = (outcome: PartOutcome, meta: Partial<TaskMetadata>) => void;

/** What views need of a client. */
export interface Submitter {
  /** Registered engine ids, ascending. */
  readonly ids: number[];
  /** Queues one task; `done` is called exactly once with its outcome. Returns the task id. */
  submit(sub: Submission, frames: Frames, done: Done): number;
  /** Aborts tasks by id (see Client.abort). */
  abort(taskIds: readonly number[], options?: { running?: boolean }): void;
}

const fnSources = new WeakMap<object, string>();

/** Builds a task's frames: its body JSON (kind, function, encoded args) and the args' binary frames. */
export function taskFrames(
  kind: TaskKindCode,
  fn: TaskFunction<never[], unknown> | undefined,
  args: unknown[],
): Frames {
  const enc = encodeValue(args);
  let head = `{"k":"${kind}"`;
  if (typeof fn === 'function') {
    let src = fnSources.get(fn);
    if (src === undefined) {
      src = JSON.stringify(fn.toString());
      fnSources.set(fn, src);
    }
    head += `,"f":${src}`;
  } else if (fn) {
    if (typeof fn.module !== 'string' || typeof fn.export !== 'string') {
      throw new TypeError('a function reference needs { module, export } strings');
    }
    head += `,"m":${JSON.stringify([fn.module, fn.export])}`;
    if (fn.context) head += ',"x":1';
  }
  return [`${head},"a":${enc.body}}`, ...enc.buffers];
}
