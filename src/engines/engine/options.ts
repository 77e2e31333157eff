import type { ClusterKeys, PeerKeys } from '../protocol/keys.js';

export interface EngineOptions {
  /** The controller's engine endpoint, e.g. `tcp://10.0.0.5:41002`. */
  controller: string;
  keys: ClusterKeys | PeerKeys;
  /** Node name reported to the controller (default: this host's name). */
  node?: string;
  uuid?: string;
  /**
   * `thread` (default): beat from a worker thread, so long tasks never look like death.
   * `main`: beat from the main thread (lightweight; the scale simulation runs 1,000 of these).
   */
  heart?: 'thread' | 'main';
  /** Kill the process if the controller is gone (process entry points only). */
  exitOnLost?: boolean;
  /** How long startEngine waits for the controller's welcome (default 30 s). */
  registerTimeoutMs?: number;
  /**
   * Where to bind the engine's direct lane (see LaneInfo): a private IP of this node, or `false` for
   * none. Default: 127.0.0.1 when the controller is on loopback (a local cluster), else none.
   */
  lane?: string | false;
  /**
   * Running tasks can be interrupted (AsyncResult.abort({ running: true })): the heart thread stops a
   * computing task with SIGINT (so SIGINT no longer ends the process; SIGTERM does), and an
   * asynchronous one is abandoned. Engine processes (engine/main.ts) turn it on; it needs the thread heart.
   */
  interruptible?: boolean;
}

export type EngineEnd = 'closed' | 'stopped' | 'lost';

export interface EngineHandle {
  readonly id: number;
  readonly uuid: string;
  /** Settles when the engine ends: closed by us, stopped by the controller, or controller lost. */
  readonly ended: Promise<EngineEnd>;
  close(): Promise<void>;
}
