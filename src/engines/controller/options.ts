import type { Clock } from '../../clock.js';
import type { ClusterKeys, ControllerKeys } from '../protocol/keys.js';
import type { EngineInfo, QueueStatus, Scheme } from '../protocol/messages.js';
import type { ZapStats } from '../protocol/sockets.js';
import type { Random } from './schedulers.js';

/**
 * Outstanding tasks per engine. A number is a fixed high-water mark as in ipyparallel (`0` =
 * unlimited, ipyparallel's pre-0.13 behaviour; `1` = its current default). `'auto'` (our default)
 * starts every engine at 1 and lets it hold as many tasks as fit in AUTO_WINDOW_MS of its measured
 * task time (at most AUTO_MAX): tasks of 10 ms or more get ipyparallel's hwm=1 (perfect balance,
 * a round trip of idle per task is < 3 %), tiny tasks get up to AUTO_MAX in flight, which hides the
 * round trip and lets messages carry many tasks — while at most ~10 ms of work ever waits on an
 * engine that another idle engine could have done.
 */
export type HighWaterMark = number | 'auto';
export const AUTO_WINDOW_MS = 10;
export const AUTO_MAX = 256;

export interface ControllerOptions {
  /** Interface to bind: a private IP or 127.0.0.1. `0.0.0.0`/`*` only with `allowAnyInterface`. */
  host: string;
  /** Client port (0 = ephemeral). */
  port?: number;
  /** Engine port (0 = ephemeral). */
  enginePort?: number;
  /**
   * Heartbeat port (0 = ephemeral): engines' hearts beat here too, on a socket with its own ZeroMQ
   * context (I/O thread), so beats are never queued behind a big transfer on the engine port.
   */
  heartbeatPort?: number;
  keys: ClusterKeys | ControllerKeys;
  scheme?: Scheme;
  hwm?: HighWaterMark;
  /** Heartbeat period; an engine silent for `deadAfterBeats` periods is dead. */
  heartbeatMs?: number;
  deadAfterBeats?: number;
  /** Periods without a word from the controller before an engine gives up (told to engines). */
  engineLostBeats?: number;
  /** How many times a task whose engine died is resubmitted before it fails with EngineDied. */
  deathRetries?: number;
  allowAnyInterface?: boolean;
  /** Random source for the random schemes (tests pin it). */
  random?: Random;
  /** Where the controller's waits (closing: the stop messages' drain) read the time (tests pass a ManualClock). */
  clock?: Clock;
}

export interface ControllerStats {
  engines: number;
  queued: number;
  running: number;
  submitted: number;
  completed: number;
  resubmitted: number;
  droppedResults: number;
  /** Messages that did not decode (malformed, or of an unknown kind), dropped. */
  rejectedMessages: number;
  zap: ZapStats;
}

export interface ControllerHandle {
  readonly clientEndpoint: string;
  readonly engineEndpoint: string;
  /** Where engines' hearts beat besides the engine port (see ControllerOptions.heartbeatPort). */
  readonly heartbeatEndpoint: string;
  readonly scheme: Scheme;
  /** Random per controller process: changes when a controller restarts (see WelcomeClientMsg.ep). */
  readonly epoch: string;
  engines(): EngineInfo[];
  stats(): ControllerStats;
  queueStatus(): QueueStatus;
  /** Resolves when `n` engines are registered. */
  waitForEngines(n: number, timeoutMs?: number): Promise<EngineInfo[]>;
  /** Stops serving. With `stopEngines`, tells every engine to exit first. */
  close(options?: { stopEngines?: boolean }): Promise<void>;
}
