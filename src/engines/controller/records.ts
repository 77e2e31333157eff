import { encodeValue } from '../protocol/codec.js';
import type { EngineInfo } from '../protocol/messages.js';
import type { Outbox } from '../protocol/sockets.js';
import type { ResultItem, TaskItem } from '../protocol/wire.js';
import type { Scheme } from './schedulers.js';

/** The controller's records of tasks, engines and clients, and its small helpers. */

export type Owner =
  { kind: 'client'; client: ClientRec; id: number } | { kind: 'internal'; done: (ok: boolean, body: Buffer) => void };

export interface TaskRec {
  id: number;
  owner: Owner;
  /** Inline body, if the client sent it in the header. */
  body?: string;
  frames: Buffer[];
  targets?: number[];
  direct: boolean;
  retriesLeft: number;
  deathsLeft: number;
  blacklist?: Set<number>;
  scheme?: Scheme;
  engine?: number;
  /** The failure of its last try, delivered if no engine is left to retry it on. */
  lastError?: ResultItem;
  /** Time limit (ms), passed to the engine. */
  timeLimitMs?: number;
  /** The client aborted it: never resubmitted. */
  aborted?: boolean;
}

export interface EngineRec {
  info: EngineInfo;
  route: Buffer;
  /** The heart's socket and routing id, for interrupts (the last one it beat on). */
  heart?: { route: Buffer; out: Outbox; key: string };
  /** task id → counted in the LRU loads (load-balanced) */
  outstanding: Map<number, boolean>;
  seen: boolean;
  misses: number;
  ewmaMs?: number;
  limit: number;
  /** Clients whose lane tasks this engine carries (see LeaseMsg). */
  leases: number;
  /** Results it has sent back (through the controller). */
  completed: number;
  /** Tasks to send at the next flush. */
  batch?: TaskItem[];
}

export interface ClientRec {
  key: string;
  route: Buffer;
  gone: boolean;
  /** The engine leased to this client's lane. */
  lease?: number;
  /** Its unfinished tasks by the client's id (for abort). */
  tasks: Map<number, TaskRec>;
  /** Results to send at the next flush. */
  batch?: ResultItem[];
}

export function errorBody(name: string, message: string): string {
  const err = new Error(message);
  err.name = name;
  err.stack = `${name}: ${message}`;
  return encodeValue(err).body;
}

/** A FIFO with O(1) shift. */
export class Queue<T> {
  private items: T[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(item: T): void {
    this.items.push(item);
  }
  peek(): T | undefined {
    return this.items[this.head];
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head]!;
    this.items[this.head++] = undefined as T;
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

export function messageOf(body: Buffer): string {
  try {
    const v = JSON.parse(body.toString()) as { message?: unknown };
    return typeof v.message === 'string' ? v.message : body.toString();
  } catch {
    return body.toString();
  }
}
