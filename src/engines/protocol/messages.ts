/**
 * The wire protocol between clients, the controller and engines. Every message is
 * `[header JSON, ...payload frames]` (after the ROUTER's routing id). Tasks and results are batched:
 * a header lists many items and each item owns `n` consecutive payload frames — its body (JSON made by
 * the codec; small bodies ride inline in the header as `b` instead, saving a frame per task) and the
 * binary frames of its typed arrays. The controller routes by the header only
 * and forwards payload frames untouched, so it never parses task data. CURVE encrypts and
 * authenticates every frame.
 */

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

// engine → controller
export interface RegisterMsg {
  t: 'reg';
  uuid: string;
  node: string;
  pid: number;
  lane?: LaneInfo;
  /** The id an earlier controller gave this engine: a restarted controller gives it back if free. */
  id?: number;
}
export interface ResultHead {
  /** Task id (controller's to engines, the client's own to clients). */
  i: number;
  /** Frames owned by this result. */
  n: number;
  ok: boolean;
  /** Started / completed, epoch ms (engine clock). */
  s: number;
  c: number;
  /** Engine id (controller → client only). */
  e?: number;
  /** The body inline (small bodies travel in the header; then `n` counts only the binary frames). */
  b?: string;
  /** What the task printed to stdout / stderr (console), if anything. */
  o?: string;
  x?: string;
}
export interface ResultsMsg {
  t: 'res';
  r: ResultHead[];
}
export interface BeatMsg {
  t: 'hb';
  uuid?: string;
}

// controller → engine
export interface WelcomeEngineMsg {
  t: 'welcome';
  id: number;
  hb: number;
  /** Beats without a word from the controller before the engine gives up. */
  lost: number;
  /** The client public keys the engine's lane admits. */
  clients?: string[];
  /** The controller's epoch: a new one means the controller restarted and forgot its tasks. */
  ep: string;
  /** The heartbeat endpoint: engines' hearts beat there as well as on the engine port. */
  hbe?: string;
}
export interface TaskHead {
  i: number;
  n: number;
  /** The body inline (see ResultHead.b). */
  b?: string;
  /** Time limit (ms): the engine stops the task's synchronous run, or abandons its promise, past it. */
  tl?: number;
}

/**
 * `{t:'abort', i:[ids], r?:1}`: client → controller (the client's ids), controller → engine (the
 * controller's ids), client → engine lane (the client's ids). A task not started yet fails with
 * TaskAborted; one already running finishes (as in IPython parallel) unless `r`: then an
 * asynchronous one is abandoned, and a computing one is stopped by the engine's heart (IntMsg).
 */
export interface AbortMsg {
  t: 'abort';
  i: number[];
  r?: 1;
}
/**
 * `{t:'int', i:[ids], l?:1}`: controller → an engine's heart, which SIGINTs the engine if it is
 * computing one of these tasks (`l`: the ids are a lane client's). A client asks the controller
 * for its lane tasks with `{t:'int', e: engine, i:[ids]}`.
 */
export interface IntMsg {
  t: 'int';
  i: number[];
  l?: 1;
  e?: number;
}
export interface RunMsg {
  t: 'run';
  k: TaskHead[];
}

// client → controller
export interface HelloMsg {
  t: 'hello';
}
export interface SubmitHead {
  /** The client's task id. */
  i: number;
  n: number;
  /** Target engines: for a direct task exactly one; for load-balanced tasks a restriction. */
  to?: number[];
  /** Direct: run on `to[0]`, no scheduler, no hwm, no resubmission. */
  d?: 1;
  /** Retries on failure (load-balanced only), each on an engine that has not failed it. */
  r?: number;
  /** Scheme for this task instead of the controller's default. */
  s?: string;
  /** The body inline (see ResultHead.b). */
  b?: string;
  /** Time limit in ms (see TaskHead.tl). */
  tl?: number;
}

/** Bodies up to this many characters travel inside the header instead of as a frame of their own. */
export const INLINE_BODY_MAX = 1024;
export interface SubmitMsg {
  t: 'sub';
  k: SubmitHead[];
}
/**
 * client → controller `{t:'lease'}`: which engine should carry this client's sequential load-balanced
 * tasks on its lane? The controller answers `{t:'lease', e}` with the laned engine holding the fewest
 * leases (ties: its scheme's least-recently-used order), or `e: -1` if no engine has a lane. A lease
 * is a placement hint, not a reservation: it spreads the lanes of many clients over the engines.
 */
export interface LeaseMsg {
  t: 'lease';
  e: number;
}

export interface ModuleMsg {
  t: 'mod';
  i: number;
  name: string;
}

// controller → client
export interface WelcomeClientMsg {
  t: 'welcome';
  engines: EngineInfo[];
  scheme: string;
  hb: number;
  /** The controller's epoch (also in every pong): a client that sees it change resubmits. */
  ep: string;
}
export interface EnginesMsg {
  t: 'eng';
  up?: EngineInfo[];
  down?: number[];
}
export interface ModuleDoneMsg {
  t: 'modok';
  i: number;
  errors: { engine: number; message: string }[];
}

/** Parses a header frame; undefined if it is not a JSON object with a string `t`. */
export function parseHeader(frame: Uint8Array | undefined): ({ t: string } & Record<string, unknown>) | undefined {
  if (!frame || frame.length === 0) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).toString());
    if (typeof value === 'object' && value !== null && typeof (value as { t?: unknown }).t === 'string') {
      return value as { t: string } & Record<string, unknown>;
    }
  } catch {
    // fall through
  }
  return undefined;
}

/** The message of a TaskAborted result for a task interrupted while it ran (not one dropped from a queue). */
export const INTERRUPTED_MESSAGE = 'interrupted while it ran';

/** A task head's time limit (`tl`), if it is a usable one: a positive, finite number of ms. */
export function timeLimitOf(tl: unknown): number | undefined {
  return typeof tl === 'number' && tl > 0 && Number.isFinite(tl) ? tl : undefined;
}

/** Milliseconds since the epoch with sub-millisecond precision. */
export const nowMs = (): number => performance.timeOrigin + performance.now();

/**
 * The controller's queues (IPython's `queue_status`): per engine the tasks sent to it and not yet
 * answered, and how many it has answered; `unassigned`, the tasks waiting for an engine. Tasks that
 * take a client's direct lane bypass the controller and are not counted.
 */
export interface QueueStatus {
  engines: { id: number; node: string; queue: number; completed: number }[];
  unassigned: number;
}
