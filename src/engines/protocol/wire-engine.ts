/**
 * The typed wire between engines (and their hearts) and the controller; see wire.ts for the rules.
 */
import type { LaneInfo } from './messages.js';
import type { Frames } from './sockets.js';
import type { Raw, ResultItem, TaskItem } from './wire-common.js';
import {
  decodeLane,
  flag,
  int,
  intList,
  optInt,
  optStr,
  readHeader,
  str,
  strList,
  unknownTag,
  unreachable,
  WireError,
} from './wire-common.js';
import { decodeResults, decodeTasks, encodeResults, encodeTasks, isItems, ItemTag } from './wire-items.js';

// ------------------------------------------------------------------------------------------------
// engine (main socket, or its heart) → controller

export interface Registration {
  uuid: string;
  node: string;
  pid: number;
  lane?: LaneInfo;
  /** The id an earlier controller gave this engine: a restarted controller gives it back if free. */
  previousId?: number;
}

export type EngineToController =
  | { kind: 'register'; registration: Registration }
  | { kind: 'results'; results: ResultItem[] }
  /** A heartbeat: from the engine's main thread or its heart (whose socket names the engine by uuid). */
  | { kind: 'beat'; uuid?: string }
  | { kind: 'bye' };

const FROM_ENGINE = 'an engine';

export function decodeEngineToController(frames: readonly Buffer[]): EngineToController {
  if (isItems(frames, ItemTag.results, FROM_ENGINE))
    return { kind: 'results', results: decodeResults(frames, FROM_ENGINE) };
  const raw = readHeader(frames[0], FROM_ENGINE);
  const what = `${raw.t} from ${FROM_ENGINE}`;
  switch (raw.t) {
    case 'reg': {
      const uuid = str(raw, 'uuid', what);
      if (uuid.length === 0 || uuid.length > 128) throw new WireError(`${what}: uuid must be 1 to 128 characters`);
      const registration: Registration = { uuid, node: str(raw, 'node', what), pid: int(raw, 'pid', what) };
      const lane = decodeLane(raw.lane, what);
      if (lane) registration.lane = lane;
      const previousId = optInt(raw, 'id', what);
      if (previousId !== undefined && previousId >= 0) registration.previousId = previousId;
      return { kind: 'register', registration };
    }
    case 'hb': {
      const uuid = optStr(raw, 'uuid', what);
      return uuid === undefined ? { kind: 'beat' } : { kind: 'beat', uuid };
    }
    case 'bye':
      return { kind: 'bye' };
    default:
      return unknownTag(raw.t, FROM_ENGINE);
  }
}

export type EngineToControllerOut =
  Exclude<EngineToController, { kind: 'results' }> | { kind: 'results'; results: ResultItem<Uint8Array | string>[] };

export function encodeEngineToController(msg: EngineToControllerOut): Frames {
  switch (msg.kind) {
    case 'register': {
      const r = msg.registration;
      const head: Raw = { t: 'reg', uuid: r.uuid, node: r.node, pid: r.pid };
      if (r.lane) head.lane = r.lane;
      if (r.previousId !== undefined) head.id = r.previousId;
      return [JSON.stringify(head)];
    }
    case 'results':
      return encodeResults(msg.results);
    case 'beat':
      return [msg.uuid === undefined ? '{"t":"hb"}' : JSON.stringify({ t: 'hb', uuid: msg.uuid })];
    case 'bye':
      return ['{"t":"bye"}'];
    default:
      return unreachable(msg);
  }
}

// ------------------------------------------------------------------------------------------------
// controller → engine (main socket, or its heart)

export interface EngineWelcome {
  id: number;
  heartbeatMs: number;
  /** Beats without a word from the controller before the engine gives up. */
  lostBeats: number;
  /** The client public keys the engine's lane admits (only to an engine with a lane). */
  laneClients?: string[];
  /** The controller's epoch: a new one means the controller restarted and forgot its tasks. */
  epoch: string;
  /** The heartbeat endpoint: engines' hearts beat there as well as on the engine port. */
  heartbeatEndpoint?: string;
}

export type ControllerToEngine =
  | { kind: 'welcome'; welcome: EngineWelcome }
  | { kind: 'run'; tasks: TaskItem[] }
  /** Drop these tasks if not started (TaskAborted); with `running`, abandon an asynchronous one running. */
  | { kind: 'abort'; taskIds: number[]; running: boolean }
  /** The answer to a beat. */
  | { kind: 'beat' }
  /** The controller does not know this engine (it restarted): register again. */
  | { kind: 'unknown' }
  | { kind: 'stop' }
  /**
   * To an engine's heart: SIGINT the engine if it is computing one of these tasks (`lane`: the ids are
   * a lane client's, not the controller's).
   */
  | { kind: 'interrupt'; taskIds: number[]; lane: boolean };

const FROM_CONTROLLER = 'the controller';

function decodeWelcome(raw: Raw, what: string): EngineWelcome {
  const welcome: EngineWelcome = {
    id: int(raw, 'id', what),
    heartbeatMs: int(raw, 'hb', what),
    lostBeats: int(raw, 'lost', what),
    epoch: str(raw, 'ep', what),
  };
  if (raw.clients !== undefined) welcome.laneClients = strList(raw, 'clients', what).filter((k) => k.length === 40);
  const hbe = optStr(raw, 'hbe', what);
  if (hbe !== undefined) {
    if (!/^tcp:\/\/\S{1,200}$/.test(hbe)) throw new WireError(`${what}: hbe ${JSON.stringify(hbe)} is no tcp endpoint`);
    welcome.heartbeatEndpoint = hbe;
  }
  return welcome;
}

export function decodeControllerToEngine(frames: readonly Buffer[]): ControllerToEngine {
  if (isItems(frames, ItemTag.run, FROM_CONTROLLER))
    return { kind: 'run', tasks: decodeTasks(frames, FROM_CONTROLLER, false) };
  const raw = readHeader(frames[0], FROM_CONTROLLER);
  const what = `${raw.t} from ${FROM_CONTROLLER}`;
  switch (raw.t) {
    case 'welcome':
      return { kind: 'welcome', welcome: decodeWelcome(raw, what) };
    case 'abort':
      return { kind: 'abort', taskIds: intList(raw, 'i', what), running: flag(raw, 'r', what) };
    case 'hb':
      return { kind: 'beat' };
    case 'unknown':
      return { kind: 'unknown' };
    case 'stop':
      return { kind: 'stop' };
    case 'int':
      return { kind: 'interrupt', taskIds: intList(raw, 'i', what), lane: flag(raw, 'l', what) };
    default:
      return unknownTag(raw.t, FROM_CONTROLLER);
  }
}

export type ControllerToEngineOut =
  Exclude<ControllerToEngine, { kind: 'run' }> | { kind: 'run'; tasks: TaskItem<Uint8Array | string>[] };

/** The constant messages, encoded once. */
const BEAT = '{"t":"hb"}';
const UNKNOWN = '{"t":"unknown"}';
const STOP = '{"t":"stop"}';

export function encodeControllerToEngine(msg: ControllerToEngineOut): Frames {
  switch (msg.kind) {
    case 'welcome': {
      const w = msg.welcome;
      const head: Raw = { t: 'welcome', id: w.id, hb: w.heartbeatMs, lost: w.lostBeats, ep: w.epoch };
      if (w.laneClients) head.clients = w.laneClients;
      if (w.heartbeatEndpoint !== undefined) head.hbe = w.heartbeatEndpoint;
      return [JSON.stringify(head)];
    }
    case 'run':
      return encodeTasks(ItemTag.run, msg.tasks, false);
    case 'abort':
      return [JSON.stringify(msg.running ? { t: 'abort', i: msg.taskIds, r: 1 } : { t: 'abort', i: msg.taskIds })];
    case 'beat':
      return [BEAT];
    case 'unknown':
      return [UNKNOWN];
    case 'stop':
      return [STOP];
    case 'interrupt':
      return [JSON.stringify(msg.lane ? { t: 'int', i: msg.taskIds, l: 1 } : { t: 'int', i: msg.taskIds })];
    default:
      return unreachable(msg);
  }
}
