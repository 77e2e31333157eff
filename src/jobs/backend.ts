import type { TaskOutcome } from './define.js';

/**
 * What the job runner needs from the place tasks run: ship a module to every engine once, then
 * stream task inputs through a load-balanced view. `engineRuntimeBackend` (src/jobs/runtime.ts)
 * implements it on the ZeroMQ engine runtime; tests of the runner's own logic can use an
 * in-process one.
 */
export interface MapRequest {
  /** Module name given to `loadModule`. */
  module: string;
  tasks: readonly unknown[];
  /** Scheduler scheme (lru, plainrandom, twobin, leastload, weighted); runtime default if absent. */
  scheme?: string;
  /** Per-task time limit on the engines (ms); a task running longer fails the run with TaskTimeLimit. */
  timeLimitMs?: number;
  /** Aborting rejects with JobError `Interrupted`; queued tasks are aborted and running ones interrupted. */
  signal?: AbortSignal;
  /** Called after each finished task with counts so far. */
  onProgress: (done: number, total: number) => void;
}

export interface TaskBackend {
  /** Cluster name reported in the result (`local` for a throwaway one). */
  readonly cluster: string;
  /** Engines registered now. */
  engineCount(): number;
  /** Ids of the engines registered now (where the backend has engine identities). */
  engineIds?(): number[];
  /** Times the controller has restarted since this backend opened (where there is a controller). */
  controllerRestarts?(): number;
  loadModule(name: string, code: string): Promise<void>;
  /**
   * Runs the module's task entry on each input; resolves with every outcome in input order
   * (`index` = position in `tasks`), or rejects with a JobError naming the failed task's index,
   * its engine and the remote message.
   */
  map(request: MapRequest): Promise<TaskOutcome<unknown>[]>;
}
