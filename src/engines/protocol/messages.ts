/**
 * What the wire's peers share besides the messages themselves (those are typed in wire.ts and
 * wire-engine.ts): task body kinds, engine and lane records, the scheduler schemes' names, limits.
 */

/**
 * IPython parallel's scheduler schemes (controller/schedulers.ts implements them); a client may name
 * one per task.
 */
export type Scheme = 'lru' | 'plainrandom' | 'twobin' | 'leastload' | 'weighted';
export const SCHEMES: readonly Scheme[] = ['lru', 'plainrandom', 'twobin', 'leastload', 'weighted'];
export const DEFAULT_SCHEME: Scheme = 'leastload';

export function isScheme(value: unknown): value is Scheme {
  return typeof value === 'string' && (SCHEMES as readonly string[]).includes(value);
}

/** Kinds of task body, as the engine executes them. */
export const TaskKind = {
  apply: 'a',
  mapChunk: 'm',
  execute: 'x',
  push: 'p',
  pull: 'g',
  load: 'l',
} as const;
export type TaskKindCode = (typeof TaskKind)[keyof typeof TaskKind];

/** The body of a task as the client encodes it (frame 0 of the task's frames). */
export interface TaskBody {
  k: TaskKindCode;
  /** Function source (fn.toString()) for apply/map. */
  f?: string;
  /** Module export reference for apply/map: [module, export]. */
  m?: [string, string];
  /** Append a TaskContext argument. */
  x?: 1;
  /** Encoded arguments (an array). */
  a: unknown;
}

/**
 * An engine's direct lane: a CURVE ROUTER the engine binds on its node's private address (127.0.0.1
 * for a local cluster), keyed with the engine's own pair and admitting only the cluster's client keys.
 * A client that can reach it sends a task straight to the engine and gets the result straight back
 * (two hops instead of four through the controller); see Client's `lanes` option.
 */
export interface LaneInfo {
  endpoint: string;
  /** The engine's public key: the lane's CURVE server key. */
  key: string;
}

export interface EngineInfo {
  id: number;
  uuid: string;
  node: string;
  pid: number;
  /** Epoch ms of registration. */
  registered: number;
  lane?: LaneInfo;
}

/** Bodies up to this many characters travel inside the header instead of as a frame of their own. */
export const INLINE_BODY_MAX = 1024;

/** The message of a TaskAborted result for a task interrupted while it ran (not one dropped from a queue). */
export const INTERRUPTED_MESSAGE = 'interrupted while it ran';

/** performance.timeOrigin is a native getter per read; it never changes, so it is read once. */
const TIME_ORIGIN = performance.timeOrigin;

/** Milliseconds since the epoch with sub-millisecond precision. */
export const nowMs = (): number => TIME_ORIGIN + performance.now();

/**
 * The controller's queues (IPython's `queue_status`): per engine the tasks sent to it and not yet
 * answered, and how many it has answered; `unassigned`, the tasks waiting for an engine. Tasks that
 * take a client's direct lane bypass the controller and are not counted.
 */
export interface QueueStatus {
  engines: { id: number; node: string; queue: number; completed: number }[];
  unassigned: number;
}
