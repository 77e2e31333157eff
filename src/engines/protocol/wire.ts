/**
 * The typed wire between clients, the controller and engines: one discriminated union per direction,
 * and one decode / encode each. A message is `[header JSON, ...payload frames]` (after a ROUTER's
 * routing id); the header's short keys (`t`, `i`, `n`, …) stay on the wire, where every byte of a
 * batch of 1,000 tiny tasks counts, and never leave this file: peers see full names. The controller
 * relays payload frames untouched, so it never parses task data. CURVE encrypts and authenticates
 * every frame; decoders still check every field, since a peer's bug must not become ours.
 *
 * Engine ↔ controller and the heart are in wire-engine.ts; the pipeline's in wire-pipeline.ts.
 */
import type { EngineInfo, QueueStatus, Scheme } from './messages.js';
import { isScheme } from './messages.js';
import type { Frames } from './sockets.js';
import type { Raw, ResultItem, TaskItem } from './wire-common.js';
import {
  decodeLane,
  flag,
  int,
  intList,
  list,
  num,
  readHeader,
  record,
  str,
  unknownTag,
  unreachable,
  WireError,
} from './wire-common.js';
import { decodeResults, decodeTasks, encodeResults, encodeTasks, isItems, ItemTag } from './wire-items.js';

export type { ResultItem, TaskItem } from './wire-common.js';
export { unreachable, WireError } from './wire-common.js';

/** A task a client submits to the controller. */
export interface SubmitItem<F = Buffer> extends TaskItem<F> {
  /** Target engines: for a direct task exactly one; for load-balanced tasks a restriction. */
  targets?: number[];
  /** Run on `targets[0]`: no scheduler, no hwm, no resubmission. */
  direct: boolean;
  /** Retries on failure (load-balanced only), each on an engine that has not failed it. */
  retries: number;
  /** Scheme for this task instead of the controller's default. */
  scheme?: Scheme;
}

/** An engine's failure to load a module (ModuleLoadedMsg). */
export interface ModuleError {
  engine: number;
  message: string;
}

// ------------------------------------------------------------------------------------------------
// client → controller

export type ClientToController =
  | { kind: 'hello' }
  /** On the client's ping socket too (which is no client of its own). */
  | { kind: 'ping' }
  | { kind: 'submit'; tasks: SubmitItem[] }
  /** Ships an ES module to every engine, now and later; answered by `moduleLoaded`. */
  | { kind: 'loadModule'; requestId: number; name: string; code: Buffer }
  /**
   * Queued tasks fail with TaskAborted; tasks already sent to an engine are dropped there if not
   * started, and with `running` interrupted if they are.
   */
  | { kind: 'abort'; taskIds: number[]; running: boolean }
  /** Interrupt these lane tasks of this client's on `engine` (only its heart can reach a busy engine). */
  | { kind: 'interrupt'; engine: number; taskIds: number[] }
  /**
   * Which engine should carry this client's sequential load-balanced tasks on its lane? Answered by
   * `lease`: a placement hint, not a reservation; it spreads the lanes of many clients over the engines.
   */
  | { kind: 'lease' }
  | { kind: 'queueStatus'; requestId: number }
  /** The controller drops this client's queued tasks. */
  | { kind: 'bye' };

const FROM_CLIENT = 'a client';

export function decodeClientToController(frames: readonly Buffer[]): ClientToController {
  if (isItems(frames, ItemTag.submit, FROM_CLIENT)) {
    // submit: true fills in direct and retries
    return { kind: 'submit', tasks: decodeTasks(frames, FROM_CLIENT, true) as SubmitItem[] };
  }
  const raw = readHeader(frames[0], FROM_CLIENT);
  const what = `${raw.t} from ${FROM_CLIENT}`;
  switch (raw.t) {
    case 'hello':
      return { kind: 'hello' };
    case 'ping':
      return { kind: 'ping' };
    case 'mod': {
      const code = frames[1];
      if (!code) throw new WireError(`${what}: the module's code frame is missing`);
      return { kind: 'loadModule', requestId: int(raw, 'i', what), name: str(raw, 'name', what), code };
    }
    case 'abort':
      return { kind: 'abort', taskIds: intList(raw, 'i', what), running: flag(raw, 'r', what) };
    case 'int':
      return { kind: 'interrupt', engine: int(raw, 'e', what), taskIds: intList(raw, 'i', what) };
    case 'lease':
      return { kind: 'lease' };
    case 'qs':
      return { kind: 'queueStatus', requestId: int(raw, 'i', what) };
    case 'bye':
      return { kind: 'bye' };
    default:
      return unknownTag(raw.t, FROM_CLIENT);
  }
}

/** The outgoing form: payload frames may be strings or any bytes. */
export type ClientToControllerOut =
  | Exclude<ClientToController, { kind: 'submit' } | { kind: 'loadModule' }>
  | { kind: 'submit'; tasks: SubmitItem<Uint8Array | string>[] }
  | { kind: 'loadModule'; requestId: number; name: string; code: Uint8Array };

export function encodeClientToController(msg: ClientToControllerOut): Frames {
  switch (msg.kind) {
    case 'hello':
      return ['{"t":"hello"}'];
    case 'ping':
      return ['{"t":"ping"}'];
    case 'submit':
      return encodeTasks(ItemTag.submit, msg.tasks, true);
    case 'loadModule':
      return [JSON.stringify({ t: 'mod', i: msg.requestId, name: msg.name }), msg.code];
    case 'abort':
      return [JSON.stringify(msg.running ? { t: 'abort', i: msg.taskIds, r: 1 } : { t: 'abort', i: msg.taskIds })];
    case 'interrupt':
      return [JSON.stringify({ t: 'int', e: msg.engine, i: msg.taskIds })];
    case 'lease':
      return ['{"t":"lease"}'];
    case 'queueStatus':
      return [JSON.stringify({ t: 'qs', i: msg.requestId })];
    case 'bye':
      return ['{"t":"bye"}'];
    default:
      return unreachable(msg);
  }
}

// ------------------------------------------------------------------------------------------------
// controller → client

export type ControllerToClient =
  | { kind: 'welcome'; engines: EngineInfo[]; scheme: Scheme; heartbeatMs: number; epoch: string }
  /** The answer to a ping; `epoch` changes when the controller restarts (then the client resubmits). */
  | { kind: 'pong'; epoch: string }
  | { kind: 'results'; results: ResultItem[] }
  | { kind: 'engines'; up: EngineInfo[]; down: number[] }
  /** The laned engine with the fewest leases, or -1 if no engine has a lane. */
  | { kind: 'lease'; engine: number }
  | { kind: 'queueStatus'; requestId: number; status: QueueStatus }
  | { kind: 'moduleLoaded'; requestId: number; errors: ModuleError[] };

const FROM_CONTROLLER = 'the controller';

function decodeEngineInfo(value: unknown, what: string): EngineInfo {
  const raw = record(value, what);
  const info: EngineInfo = {
    id: int(raw, 'id', what),
    uuid: str(raw, 'uuid', what),
    node: str(raw, 'node', what),
    pid: int(raw, 'pid', what),
    registered: num(raw, 'registered', what),
  };
  const lane = decodeLane(raw.lane, what);
  if (lane) info.lane = lane;
  return info;
}

function engineInfos(raw: Raw, key: string, what: string): EngineInfo[] {
  if (raw[key] === undefined) return [];
  return list(raw, key, what).map((e, i) => decodeEngineInfo(e, `${what}: ${key}[${i}]`));
}

function decodeQueueStatus(raw: Raw, what: string): QueueStatus {
  const engines = list(raw, 'engines', what).map((value, i) => {
    const e = record(value, `${what}: engines[${i}]`);
    return {
      id: int(e, 'id', what),
      node: str(e, 'node', what),
      queue: int(e, 'queue', what),
      completed: int(e, 'completed', what),
    };
  });
  return { engines, unassigned: int(raw, 'unassigned', what) };
}

export function decodeControllerToClient(frames: readonly Buffer[]): ControllerToClient {
  if (isItems(frames, ItemTag.results, FROM_CONTROLLER)) {
    return { kind: 'results', results: decodeResults(frames, FROM_CONTROLLER) };
  }
  const raw = readHeader(frames[0], FROM_CONTROLLER);
  const what = `${raw.t} from ${FROM_CONTROLLER}`;
  switch (raw.t) {
    case 'welcome': {
      const scheme = raw.scheme;
      if (!isScheme(scheme)) throw new WireError(`${what}: unknown scheme ${JSON.stringify(scheme)}`);
      return {
        kind: 'welcome',
        engines: engineInfos(raw, 'engines', what),
        scheme,
        heartbeatMs: num(raw, 'hb', what),
        epoch: str(raw, 'ep', what),
      };
    }
    case 'pong':
      return { kind: 'pong', epoch: str(raw, 'ep', what) };
    case 'eng':
      return {
        kind: 'engines',
        up: engineInfos(raw, 'up', what),
        down: raw.down === undefined ? [] : intList(raw, 'down', what),
      };
    case 'lease':
      return { kind: 'lease', engine: int(raw, 'e', what) };
    case 'qs':
      return { kind: 'queueStatus', requestId: int(raw, 'i', what), status: decodeQueueStatus(raw, what) };
    case 'modok': {
      const errors = list(raw, 'errors', what).map((value, i) => {
        const e = record(value, `${what}: errors[${i}]`);
        return { engine: int(e, 'engine', what), message: str(e, 'message', what) };
      });
      return { kind: 'moduleLoaded', requestId: int(raw, 'i', what), errors };
    }
    default:
      return unknownTag(raw.t, FROM_CONTROLLER);
  }
}

export type ControllerToClientOut =
  Exclude<ControllerToClient, { kind: 'results' }> | { kind: 'results'; results: ResultItem<Uint8Array | string>[] };

export function encodeControllerToClient(msg: ControllerToClientOut): Frames {
  switch (msg.kind) {
    case 'welcome':
      return [
        JSON.stringify({ t: 'welcome', engines: msg.engines, scheme: msg.scheme, hb: msg.heartbeatMs, ep: msg.epoch }),
      ];
    case 'pong':
      return [JSON.stringify({ t: 'pong', ep: msg.epoch })];
    case 'results':
      return encodeResults(msg.results);
    case 'engines': {
      const head: Raw = { t: 'eng' };
      if (msg.up.length > 0) head.up = msg.up;
      if (msg.down.length > 0) head.down = msg.down;
      return [JSON.stringify(head)];
    }
    case 'lease':
      return [JSON.stringify({ t: 'lease', e: msg.engine })];
    case 'queueStatus':
      return [JSON.stringify({ t: 'qs', i: msg.requestId, ...msg.status })];
    case 'moduleLoaded':
      return [JSON.stringify({ t: 'modok', i: msg.requestId, errors: msg.errors })];
    default:
      return unreachable(msg);
  }
}

// ------------------------------------------------------------------------------------------------
// client → an engine's lane (the CURVE lane, or the bulk connection keyed on it)

export type ClientToLane =
  | { kind: 'hello' }
  | { kind: 'submit'; tasks: TaskItem[] }
  | { kind: 'abort'; taskIds: number[]; running: boolean }
  /** Asks for a bulk session (CURVE lane only), with the client's random (protocol/bulk.ts). */
  | { kind: 'bulk'; random: string };

const FROM_LANE_CLIENT = 'a lane client';

export function decodeClientToLane(frames: readonly Buffer[]): ClientToLane {
  if (isItems(frames, ItemTag.submit, FROM_LANE_CLIENT)) {
    return { kind: 'submit', tasks: decodeTasks(frames, FROM_LANE_CLIENT, false) };
  }
  const raw = readHeader(frames[0], FROM_LANE_CLIENT);
  const what = `${raw.t} from ${FROM_LANE_CLIENT}`;
  switch (raw.t) {
    case 'hello':
      return { kind: 'hello' };
    case 'abort':
      return { kind: 'abort', taskIds: intList(raw, 'i', what), running: flag(raw, 'r', what) };
    case 'bulk':
      return { kind: 'bulk', random: str(raw, 'r', what) };
    default:
      return unknownTag(raw.t, FROM_LANE_CLIENT);
  }
}

export type ClientToLaneOut =
  Exclude<ClientToLane, { kind: 'submit' }> | { kind: 'submit'; tasks: TaskItem<Uint8Array | string>[] };

export function encodeClientToLane(msg: ClientToLaneOut): Frames {
  switch (msg.kind) {
    case 'hello':
      return ['{"t":"hello"}'];
    case 'submit':
      return encodeTasks(ItemTag.submit, msg.tasks, false);
    case 'abort':
      return [JSON.stringify(msg.running ? { t: 'abort', i: msg.taskIds, r: 1 } : { t: 'abort', i: msg.taskIds })];
    case 'bulk':
      return [JSON.stringify({ t: 'bulk', r: msg.random })];
    default:
      return unreachable(msg);
  }
}

// ------------------------------------------------------------------------------------------------
// an engine's lane → client

/** A bulk session offered on the CURVE lane: its id, the engine's random, the TCP endpoint. */
export interface BulkOffer {
  session: string;
  random: string;
  endpoint: string;
}

export type LaneToClient =
  { kind: 'welcome'; engine: number } | { kind: 'results'; results: ResultItem[] } | { kind: 'bulk'; offer: BulkOffer };

const FROM_LANE = 'an engine lane';

export function decodeLaneToClient(frames: readonly Buffer[]): LaneToClient {
  if (isItems(frames, ItemTag.results, FROM_LANE))
    return { kind: 'results', results: decodeResults(frames, FROM_LANE) };
  const raw = readHeader(frames[0], FROM_LANE);
  const what = `${raw.t} from ${FROM_LANE}`;
  switch (raw.t) {
    case 'welcome':
      return { kind: 'welcome', engine: int(raw, 'id', what) };
    case 'bulk':
      return {
        kind: 'bulk',
        offer: { session: str(raw, 's', what), random: str(raw, 'r', what), endpoint: str(raw, 'ep', what) },
      };
    default:
      return unknownTag(raw.t, FROM_LANE);
  }
}

export type LaneToClientOut =
  Exclude<LaneToClient, { kind: 'results' }> | { kind: 'results'; results: ResultItem<Uint8Array | string>[] };

export function encodeLaneToClient(msg: LaneToClientOut): Frames {
  switch (msg.kind) {
    case 'welcome':
      return [JSON.stringify({ t: 'welcome', id: msg.engine })];
    case 'results':
      return encodeResults(msg.results);
    case 'bulk':
      return [JSON.stringify({ t: 'bulk', s: msg.offer.session, r: msg.offer.random, ep: msg.offer.endpoint })];
    default:
      return unreachable(msg);
  }
}
