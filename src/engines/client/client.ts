import { JobError } from '../../errors.js';
import type { Scheme } from '../controller/schedulers.js';
import { type BulkChannel, bulkRandom, connectBulk } from '../protocol/bulk.js';
import { decodeValue, encodeValue } from '../protocol/codec.js';
import type { ClusterKeys, PeerKeys } from '../protocol/keys.js';
import { clientKeysOf } from '../protocol/keys.js';
import type { EngineInfo, LaneInfo, QueueStatus, TaskKindCode } from '../protocol/messages.js';
import { INLINE_BODY_MAX, INTERRUPTED_MESSAGE, nowMs } from '../protocol/messages.js';
import type {
  BulkOffer,
  ClientToControllerOut,
  ControllerToClient,
  LaneToClient,
  ModuleError,
  ResultItem,
  SubmitItem,
  TaskItem,
} from '../protocol/wire.js';
import { decodeOrDrop, readMessages } from '../protocol/read-loop.js';
import {
  decodeControllerToClient,
  decodeLaneToClient,
  encodeClientToController,
  encodeClientToLane,
  unreachable,
} from '../protocol/wire.js';
import type { Frames } from '../protocol/sockets.js';
import { curveClient, endpointHost, isLoopbackHost, Outbox, zmq } from '../protocol/sockets.js';
import { settleWithin } from '../protocol/timeout.js';
import type { PartOutcome, TaskMetadata } from './async-result.js';
import { EngineDiedError, RemoteTaskError, TaskAbortedError, TaskTimeLimitError } from './errors.js';
import { DirectView, LoadBalancedView } from './views.js';
import type { DirectOptions, LoadBalancedOptions } from './views.js';

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

export interface ClientOptions {
  /** The controller's client endpoint (through the SSH tunnel for a remote cluster). */
  endpoint: string;
  keys: ClusterKeys | PeerKeys;
  /** How long connect waits for the controller's welcome (default 10 s). */
  timeoutMs?: number;
  /** No word from the controller for this long fails every pending task (default 15 s). */
  lostAfterMs?: number;
  /**
   * Direct lanes (see LaneInfo). A task submitted while nothing else is pending — a sequential
   * `await view.apply(…)` — goes straight to an engine and back: two hops instead of four through
   * the controller, about half the round trip. Load-balanced tasks use the engine the controller
   * leases to this client; direct tasks their target. Everything else (maps, many tasks in flight,
   * retries, restrictions) goes through the controller's scheduler as usual. If a lane's engine
   * dies, its task is resubmitted through the controller (load-balanced) or fails with EngineDied
   * (direct), exactly as through the controller.
   * `auto` (default): only lanes on loopback (a local cluster; a remote cluster's engines sit behind
   * the SSH tunnel). `on`: any lane (the client runs inside the cluster's network). `off`: none.
   */
  lanes?: 'auto' | 'on' | 'off';
}

/** A client's direct connection to one engine's lane. */
interface Lane {
  engine: number;
  sock?: zmq.Dealer;
  out?: Outbox;
  /** Welcomed by the engine: tasks may go. */
  ready: boolean;
  /** Unusable (not allowed, unreachable): never tried again for this engine. */
  failed: boolean;
  /** Tasks sent on this lane whose results have not come back. */
  inflight: number;
  timer?: NodeJS.Timeout;
  loop?: Promise<void>;
  /** The engine's bulk data lane, once asked for (see protocol/bulk.ts). */
  bulk?: BulkLink;
}

/**
 * A client's bulk connection to one engine: AES-256-GCM over TCP, keyed on the CURVE lane. Tasks wait
 * in `queue` (by id) while it opens; if it cannot open they go through the controller instead.
 */
interface BulkLink {
  state: 'opening' | 'ready' | 'failed';
  channel?: BulkChannel;
  random?: { bytes: Buffer; text: string };
  asked: boolean;
  queue: number[];
  /** Tasks sent (or queued) on it whose results have not come back. */
  inflight: number;
}

/** Task payloads of at least this many bytes of binary frames take the bulk lane when they can. */
export const BULK_MIN_BYTES = 256 << 10;

/** How long a lane may take to answer its hello before the client gives up on it. */
const LANE_HELLO_MS = 3000;

type Done = (outcome: PartOutcome, meta: Partial<TaskMetadata>) => void;

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
}

/** A task as sent, kept until its result arrives so that it can be sent again. */
interface Sent {
  sub: Submission;
  task: TaskItem<Uint8Array | string>;
}

type WelcomeMsg = Extract<ControllerToClient, { kind: 'welcome' }>;

const MAX_BATCH_TASKS = 1024;
const MAX_BATCH_BYTES = 4 << 20;

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

const [PING] = encodeClientToController({ kind: 'ping' }) as [string];

function frameBytes(f: Uint8Array | string): number {
  return typeof f === 'string' ? f.length : f.byteLength;
}

export class Client {
  private readonly sock: zmq.Dealer;
  private readonly out: Outbox;
  /**
   * Pings and pongs travel on a connection of their own, so a big result streaming in on the main
   * one never makes the controller look silent.
   */
  private readonly pingSock: zmq.Dealer;
  private pingLoop?: Promise<void>;
  private readonly pending = new Map<number, Done>();
  private readonly moduleWaits = new Map<number, (errors: ModuleError[]) => void>();
  private readonly statusWaits = new Map<number, (status: QueueStatus) => void>();
  private readonly engineMap = new Map<number, EngineInfo>();
  private readonly engineListeners = new Set<() => void>();
  private nextId = 1;
  private batch: { tasks: SubmitItem<Uint8Array | string>[]; bytes: number } = { tasks: [], bytes: 0 };
  private flushQueued = false;
  private closed = false;
  private lastHeard = Date.now();
  private pingTimer?: NodeJS.Timeout;
  private loop?: Promise<void>;
  private welcomed?: (msg: WelcomeMsg) => void;
  private authError?: string;
  private readonly lanes = new Map<number, Lane>();
  /** Tasks in flight on a lane: resubmitted or failed if the lane's engine dies. */
  private readonly laneTasks = new Map<number, Sent & { engine: number; bulk?: true }>();
  /** Tasks sent through the controller and not answered yet: resubmitted if the controller restarts. */
  private readonly routed = new Map<number, Sent>();
  /** Modules loaded through this client: sent again to a restarted controller (it forgets them). */
  private readonly modules = new Map<string, string | Uint8Array>();
  /** The controller's epoch (welcome and pong messages carry it). */
  private epoch = '';
  private restarts = 0;
  private lease: number | undefined;
  private leaseState: 'none' | 'asked' | 'unavailable' = 'none';
  /** The controller's default scheme. */
  scheme = '';

  private constructor(private readonly options: ClientOptions) {
    this.sock = new zmq.Dealer({
      ...curveClient(clientKeysOf(options.keys)),
      linger: 0,
      sendHighWaterMark: 0,
      receiveHighWaterMark: 0,
    });
    this.out = new Outbox(this.sock);
    this.pingSock = new zmq.Dealer({ ...curveClient(clientKeysOf(options.keys)), linger: 0, sendTimeout: 0 });
    this.sock.events.on('handshake:error:auth', (e) => {
      this.authError = `the controller refused this client's CURVE key (${e.error.message})`;
    });
    this.sock.events.on('handshake:error:protocol', (e) => {
      this.authError = `CURVE handshake failed (${e.error.message}): are these the cluster's keys?`;
    });
  }

  /** Connects and waits for the controller's welcome; fails with ControllerUnreachable within `timeoutMs`. */
  static async connect(options: ClientOptions): Promise<Client> {
    const client = new Client(options);
    await client.open();
    return client;
  }

  private async open(): Promise<void> {
    const timeoutMs = this.options.timeoutMs ?? 10_000;
    const welcome = new Promise<WelcomeMsg>((resolve) => {
      this.welcomed = resolve;
    });
    try {
      this.sock.connect(this.options.endpoint);
    } catch (error) {
      this.sock.close();
      throw new JobError(
        'ControllerUnreachable',
        `bad controller endpoint ${this.options.endpoint}: ${(error as Error).message}`,
      );
    }
    this.loop = readMessages(this.sock, decodeControllerToClient, this.onMessage);
    this.toController({ kind: 'hello' });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    });
    const w = await Promise.race([welcome, timeout]);
    this.epoch = w?.epoch ?? '';
    clearTimeout(timer);
    if (!w) {
      await this.shutdown();
      const why = this.authError ?? 'is the cluster running, the SSH tunnel up, and are these the cluster keys?';
      throw new JobError(
        'ControllerUnreachable',
        `no answer from the controller at ${this.options.endpoint} within ${timeoutMs} ms: ${why}`,
      );
    }
    this.scheme = w.scheme;
    for (const e of w.engines) this.engineMap.set(e.id, e);
    const hb = Math.max(50, w.heartbeatMs);
    const lostAfter = this.options.lostAfterMs ?? 15_000;
    this.pingSock.connect(this.options.endpoint);
    this.pingLoop = readMessages(this.pingSock, decodeControllerToClient, this.onMessage);
    this.pingTimer = setInterval(() => {
      this.pingSock.send(PING).catch(() => {});
      if (Date.now() - this.lastHeard > lostAfter) this.lose(lostAfter);
    }, hb * 2);
    this.pingTimer.unref();
  }

  /** Registered engine ids, ascending. */
  get ids(): number[] {
    return [...this.engineMap.keys()].sort((a, b) => a - b);
  }

  get engines(): EngineInfo[] {
    return this.ids.map((id) => this.engineMap.get(id)!);
  }

  /** Calls `listener` whenever engines register or die; returns an unsubscribe function. */
  onEngines(listener: () => void): () => void {
    this.engineListeners.add(listener);
    return () => this.engineListeners.delete(listener);
  }

  /** Resolves with the engine ids once at least `n` are registered. */
  waitForEngines(n: number, timeoutMs = 30_000): Promise<number[]> {
    if (this.engineMap.size >= n) return Promise.resolve(this.ids);
    return new Promise((resolve, reject) => {
      const off = this.onEngines(() => {
        if (this.engineMap.size >= n) {
          off();
          clearTimeout(timer);
          resolve(this.ids);
        }
      });
      const timer = setTimeout(() => {
        off();
        reject(
          new JobError(
            'EnginesTimeout',
            `only ${this.engineMap.size} of ${n} engines registered within ${timeoutMs} ms: check the engines' logs`,
          ),
        );
      }, timeoutMs);
    });
  }

  directView(targets: number | number[] | 'all' = 'all', options: DirectOptions = {}): DirectView {
    return new DirectView(this, targets, options);
  }

  loadBalancedView(options: LoadBalancedOptions = {}): LoadBalancedView {
    return new LoadBalancedView(this, options);
  }

  /**
   * Ships an ES module (e.g. an esbuild bundle) to every engine, and to every engine that registers
   * later; its exports are then callable as `{ module: name, export }`. Resolves when every current
   * engine has imported it; rejects with ModuleLoadFailed naming the engines that could not.
   */
  async loadModule(name: string, code: string | Uint8Array): Promise<void> {
    this.assertOpen();
    const id = this.nextId++;
    const done = new Promise<ModuleError[]>((resolve) => this.moduleWaits.set(id, resolve));
    this.modules.set(name, code);
    this.sendModule(id, name, code);
    const errors = await done;
    if (errors.length > 0) {
      throw new JobError(
        'ModuleLoadFailed',
        `module ${name} failed to load on ${errors.length} engine(s): ${errors[0]!.message}`,
        { details: errors.map((e) => `engine ${e.engine}: ${e.message}`) },
      );
    }
  }

  private sendModule(id: number, name: string, code: string | Uint8Array): void {
    this.flush();
    this.toController({
      kind: 'loadModule',
      requestId: id,
      name,
      code: typeof code === 'string' ? Buffer.from(code) : code,
    });
  }

  /**
   * The controller's queues now (IPython's `queue_status`): per engine, tasks sent and not answered
   * and tasks answered; tasks waiting for an engine. Rejects ControllerUnreachable after `timeoutMs`.
   */
  async queueStatus(timeoutMs = 5_000): Promise<QueueStatus> {
    this.assertOpen();
    const id = this.nextId++;
    const answer = new Promise<QueueStatus>((resolve) => this.statusWaits.set(id, resolve));
    this.flush();
    this.toController({ kind: 'queueStatus', requestId: id });
    try {
      return await settleWithin(
        answer,
        timeoutMs,
        () =>
          new JobError('ControllerUnreachable', `no queue status from ${this.options.endpoint} within ${timeoutMs} ms`),
      );
    } finally {
      this.statusWaits.delete(id);
    }
  }

  /** @internal Queues one task; `done` is called exactly once with its outcome. */
  submit(sub: Submission, frames: Frames, done: Done): number {
    this.assertOpen();
    const id = this.nextId++;
    const first = frames[0];
    const inline = typeof first === 'string' && first.length <= INLINE_BODY_MAX;
    const task: TaskItem<Uint8Array | string> = inline ? { id, body: first, frames: frames.slice(1) } : { id, frames };
    if (sub.timeLimitMs !== undefined && sub.timeLimitMs > 0) task.timeLimitMs = sub.timeLimitMs;
    const bulk = this.bulkFor(sub, task.frames);
    const lane = bulk ? undefined : this.laneFor(sub);
    this.pending.set(id, done);
    if (bulk) {
      this.sendBulk(bulk, { engine: bulk.engine, sub, task, bulk: true });
      return id;
    }
    if (lane) {
      lane.inflight++;
      this.laneTasks.set(id, { engine: lane.engine, sub, task });
      lane.out!.send(encodeClientToLane({ kind: 'submit', tasks: [task] }));
    } else this.enqueue(sub, task);
    return id;
  }

  private toController(message: ClientToControllerOut): void {
    this.out.send(encodeClientToController(message));
  }

  /** Adds a task to the next batch for the controller. */
  private enqueue(sub: Submission, task: TaskItem<Uint8Array | string>): void {
    const item: SubmitItem<Uint8Array | string> = { ...task, direct: sub.direct === true, retries: sub.retries ?? 0 };
    if (sub.to) item.targets = sub.to;
    if (sub.scheme) item.scheme = sub.scheme;
    this.routed.set(task.id, { sub, task });
    const b = this.batch;
    b.tasks.push(item);
    for (const f of task.frames) b.bytes += frameBytes(f);
    if (task.body !== undefined) b.bytes += task.body.length;
    if (b.tasks.length >= MAX_BATCH_TASKS || b.bytes >= MAX_BATCH_BYTES) this.flush();
    else if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flush);
    }
  }

  // ------------------------------------------------------------ lanes

  /**
   * The ready lane this task may take, if any (starting to open one, or asking for a lease, for next
   * time). A task takes a lane only when nothing else is pending, so lanes serve sequential calls
   * and never bypass the scheduler for concurrent work. A direct task also takes its engine's lane
   * while earlier tasks are still on that lane: tasks to one engine run in the order they were sent.
   */
  private laneFor(sub: Submission): Lane | undefined {
    if ((this.options.lanes ?? 'auto') === 'off' || sub.lane === false) return undefined;
    const idle = this.pending.size === 0 && this.batch.tasks.length === 0;
    let engine: number | undefined;
    if (sub.direct) {
      engine = sub.to?.length === 1 ? sub.to[0] : undefined;
      if (engine === undefined) return undefined;
      const lane = this.lanes.get(engine);
      if (lane?.ready && lane.inflight > 0) return lane;
    } else if (!sub.to && !sub.retries && idle) {
      engine = this.lease;
      if (engine === undefined && this.leaseState === 'none') {
        if ([...this.engineMap.values()].some((e) => this.laneAllowed(e.lane))) {
          this.leaseState = 'asked';
          this.toController({ kind: 'lease' });
        } else this.leaseState = 'unavailable';
      }
    }
    if (engine === undefined || !idle) return undefined;
    const lane = this.lanes.get(engine) ?? this.openLane(engine);
    return lane.ready ? lane : undefined;
  }

  /**
   * The lane whose bulk connection a direct task takes, if any: one whose payload is large (or whose
   * result may be, `sub.bulk`), when nothing sent to that engine another way is still pending (tasks
   * to one engine run in the order they were sent); and every direct task to an engine while its bulk
   * connection has tasks in flight.
   */
  private bulkFor(sub: Submission, payload: Frames): Lane | undefined {
    if ((this.options.lanes ?? 'auto') === 'off' || sub.lane === false || !sub.direct || sub.to?.length !== 1) {
      return undefined;
    }
    const engine = sub.to[0]!;
    const existing = this.lanes.get(engine);
    if (existing?.bulk && existing.bulk.state !== 'failed' && existing.bulk.inflight > 0) return existing;
    let bytes = 0;
    for (const f of payload) if (typeof f !== 'string') bytes += f.byteLength;
    if (bytes < BULK_MIN_BYTES && !sub.bulk) return undefined;
    if (existing && (existing.failed || existing.inflight > 0 || existing.bulk?.state === 'failed')) return undefined;
    for (const t of this.routed.values()) if (t.sub.direct && t.sub.to?.[0] === engine) return undefined;
    if (!this.laneAllowed(this.engineMap.get(engine)?.lane)) return undefined;
    const lane = existing ?? this.openLane(engine);
    if (lane.failed) return undefined;
    lane.bulk ??= { state: 'opening', asked: false, queue: [], inflight: 0 };
    this.askBulk(lane);
    return lane;
  }

  private sendBulk(lane: Lane, task: Sent & { engine: number; bulk: true }): void {
    const link = lane.bulk!;
    link.inflight++;
    this.laneTasks.set(task.task.id, task);
    if (link.state === 'ready') link.channel!.send(encodeClientToLane({ kind: 'submit', tasks: [task.task] }));
    else link.queue.push(task.task.id);
  }

  /** Asks the engine for a bulk session on the CURVE lane (once the lane is welcomed). */
  private askBulk(lane: Lane): void {
    const link = lane.bulk;
    if (!link || link.asked || !lane.ready || this.closed) return;
    link.asked = true;
    link.random = bulkRandom();
    lane.out!.send(encodeClientToLane({ kind: 'bulk', random: link.random.text }));
    const timer = setTimeout(() => {
      if (link.state === 'opening') this.bulkFailed(lane);
    }, LANE_HELLO_MS);
    timer.unref();
  }

  private onBulkOffer(lane: Lane, offer: BulkOffer): void {
    const link = lane.bulk;
    if (!link || link.state !== 'opening' || !link.random) return;
    if (!this.laneAllowed({ endpoint: offer.endpoint, key: '' })) {
      this.bulkFailed(lane);
      return;
    }
    connectBulk(
      offer.endpoint,
      { s: offer.session, r: offer.random },
      link.random.bytes,
      (frames) => this.onBulkMessage(frames),
      (error) => this.bulkClosed(lane, error),
    ).then(
      (channel) => {
        if (link.state !== 'opening' || this.closed) {
          channel.close();
          return;
        }
        link.state = 'ready';
        link.channel = channel;
        link.random = undefined;
        const queued = link.queue;
        link.queue = [];
        for (const id of queued) {
          const t = this.laneTasks.get(id);
          if (t) channel.send(encodeClientToLane({ kind: 'submit', tasks: [t.task] }));
        }
      },
      () => this.bulkFailed(lane),
    );
  }

  private onBulkMessage(frames: Buffer[]): void {
    const message = decodeOrDrop(decodeLaneToClient, frames);
    if (message) this.onLaneMessage(undefined, message);
  }

  /** The bulk connection could not open: its queued tasks go through the controller instead. */
  private bulkFailed(lane: Lane): void {
    const link = lane.bulk;
    if (!link || link.state === 'failed') return;
    link.state = 'failed';
    link.random = undefined;
    const queued = link.queue;
    link.queue = [];
    for (const id of queued) {
      const t = this.laneTasks.get(id);
      if (!t) continue;
      this.laneTasks.delete(id);
      link.inflight--;
      this.enqueue(t.sub, t.task);
    }
  }

  /** The bulk connection closed: tasks on it that have not answered fail (they may have run). */
  private bulkClosed(lane: Lane, error?: Error): void {
    const link = lane.bulk;
    if (!link) return;
    if (link.state === 'opening') return this.bulkFailed(lane);
    // an engine that died: laneEngineDown fails its tasks with EngineDied; a closing client, ClientClosed
    if (!this.engineMap.has(lane.engine) || this.closed) return;
    link.state = 'failed';
    const now = nowMs();
    for (const [i, t] of this.laneTasks) {
      if (!t.bulk || t.engine !== lane.engine) continue;
      this.laneTasks.delete(i);
      const done = this.pending.get(i);
      this.pending.delete(i);
      const why = error ? `: ${error.message}` : '';
      done?.(
        {
          ok: false,
          error: new JobError('BulkLaneLost', `task ${i}: the bulk connection to engine ${lane.engine} closed${why}`),
        },
        { engine: lane.engine, received: now },
      );
    }
    link.inflight = 0;
  }

  private laneAllowed(lane: LaneInfo | undefined): lane is LaneInfo {
    if (!lane) return false;
    const mode = this.options.lanes ?? 'auto';
    if (mode === 'on') return true;
    const host = endpointHost(lane.endpoint);
    return mode === 'auto' && host !== undefined && isLoopbackHost(host);
  }

  private openLane(engine: number): Lane {
    const lane: Lane = { engine, ready: false, failed: true, inflight: 0 };
    this.lanes.set(engine, lane);
    const info = this.engineMap.get(engine)?.lane;
    if (!this.laneAllowed(info)) return lane;
    const keys = clientKeysOf(this.options.keys);
    const sock = new zmq.Dealer({
      curveServerKey: info.key,
      curvePublicKey: keys.publicKey,
      curveSecretKey: keys.secretKey,
      linger: 0,
      sendHighWaterMark: 0,
      receiveHighWaterMark: 0,
    });
    try {
      sock.connect(info.endpoint);
    } catch {
      sock.close();
      return lane;
    }
    Object.assign(lane, { sock, out: new Outbox(sock), failed: false });
    lane.loop = readMessages(sock, decodeLaneToClient, (message) => this.onLaneMessage(lane, message));
    const since = Date.now();
    const hello = (): void => {
      if (lane.ready || lane.failed || this.closed) return;
      if (Date.now() - since > LANE_HELLO_MS) {
        this.closeLane(lane);
        return;
      }
      lane.out!.send(encodeClientToLane({ kind: 'hello' }));
      lane.timer = setTimeout(hello, 250);
      lane.timer.unref();
    };
    hello();
    return lane;
  }

  /** A message from an engine's lane (`lane`), or from a bulk connection (undefined: results only). */
  private onLaneMessage(lane: Lane | undefined, message: LaneToClient): void {
    switch (message.kind) {
      case 'results':
        this.onResults(message.results);
        break;
      case 'welcome':
        if (!lane) break;
        if (message.engine === lane.engine) {
          lane.ready = true;
          this.askBulk(lane);
        } else this.closeLane(lane);
        break;
      case 'bulk':
        if (lane) this.onBulkOffer(lane, message.offer);
        break;
      default:
        unreachable(message);
    }
  }

  /** Closes a lane's socket; the entry stays, failed, so the engine is not tried again. */
  private closeLane(lane: Lane): void {
    lane.ready = false;
    lane.failed = true;
    if (lane.timer) clearTimeout(lane.timer);
    lane.sock?.close();
    if (lane.bulk?.state === 'opening') this.bulkFailed(lane);
    lane.bulk?.channel?.close();
  }

  /** An engine died: its lane closes; its lane tasks go to the controller (load-balanced) or fail (direct). */
  private laneEngineDown(engine: number): void {
    const lane = this.lanes.get(engine);
    if (lane) {
      this.closeLane(lane);
      this.lanes.delete(engine);
    }
    if (this.lease === engine) {
      this.lease = undefined;
      this.leaseState = 'none';
    }
    for (const [i, t] of this.laneTasks) {
      if (t.engine !== engine) continue;
      this.laneTasks.delete(i);
      if (t.sub.direct) {
        const done = this.pending.get(i);
        this.pending.delete(i);
        const message = `engine ${engine} died while running task ${i}`;
        done?.({ ok: false, error: new EngineDiedError(engine, i, message) }, { engine, received: nowMs() });
      } else this.enqueue(t.sub, t.task);
    }
  }

  /**
   * Aborts tasks (the ids AsyncResult.taskIds gives): those no engine has started fail with
   * TaskAborted. Those already running finish and deliver their result, as in IPython parallel —
   * unless `running`: then they are interrupted on engine processes (a computing task is stopped
   * where it is by the engine's heart thread, an asynchronous one abandoned) and fail with TaskAborted
   * too. The engine, its namespace and its other tasks carry on.
   */
  abort(taskIds: readonly number[], options: { running?: boolean } = {}): void {
    if (this.closed) return;
    const running = options.running === true;
    const viaController: number[] = [];
    const viaLane = new Map<number, number[]>();
    for (const id of taskIds) {
      if (!this.pending.has(id)) continue;
      const onLane = this.laneTasks.get(id);
      if (onLane) viaLane.set(onLane.engine, [...(viaLane.get(onLane.engine) ?? []), id]);
      else viaController.push(id);
    }
    if (viaController.length > 0) {
      this.flush();
      this.toController({ kind: 'abort', taskIds: viaController, running });
    }
    for (const [engine, ids] of viaLane) {
      this.lanes.get(engine)?.out?.send(encodeClientToLane({ kind: 'abort', taskIds: ids, running }));
      // a computing engine reads nothing: its heart, reached through the controller, interrupts it
      if (running) this.toController({ kind: 'interrupt', engine, taskIds: ids });
    }
  }

  private readonly flush = (): void => {
    this.flushQueued = false;
    const b = this.batch;
    if (b.tasks.length === 0 || this.closed) return;
    this.batch = { tasks: [], bytes: 0 };
    this.toController({ kind: 'submit', tasks: b.tasks });
  };

  private assertOpen(): void {
    if (this.closed) throw new JobError('ClientClosed', 'this client is closed: connect a new one');
  }

  /** A message from the controller, on the main socket or the ping socket. */
  private readonly onMessage = (message: ControllerToClient): void => {
    this.lastHeard = Date.now();
    switch (message.kind) {
      case 'results':
        this.onResults(message.results);
        break;
      case 'engines':
        this.onEnginesChanged(message.up, message.down);
        break;
      case 'lease': {
        const e = message.engine;
        this.lease = e >= 0 && this.engineMap.has(e) ? e : undefined;
        this.leaseState = this.lease === undefined ? 'unavailable' : 'none';
        if (this.lease !== undefined && !this.lanes.has(this.lease)) this.openLane(this.lease);
        break;
      }
      case 'queueStatus':
        this.statusWaits.get(message.requestId)?.(message.status);
        this.statusWaits.delete(message.requestId);
        break;
      case 'moduleLoaded':
        this.moduleWaits.get(message.requestId)?.(message.errors);
        this.moduleWaits.delete(message.requestId);
        break;
      case 'welcome':
        if (this.welcomed) {
          this.welcomed(message);
          this.welcomed = undefined;
          break;
        }
        if (message.epoch !== this.epoch) this.controllerRestarted(message.epoch);
        this.onEnginesChanged(message.engines, []);
        break;
      case 'pong':
        if (this.epoch && message.epoch !== this.epoch) this.controllerRestarted(message.epoch);
        break;
      default:
        unreachable(message);
    }
  };

  private onEnginesChanged(up: EngineInfo[], down: number[]): void {
    for (const e of up) this.engineMap.set(e.id, e);
    if (up.length > 0 && this.leaseState === 'unavailable') this.leaseState = 'none';
    for (const id of down) {
      this.engineMap.delete(id);
      this.laneEngineDown(id);
    }
    for (const l of [...this.engineListeners]) l();
  }

  private onResults(results: ResultItem[]): void {
    const received = nowMs();
    for (const r of results) {
      const done = this.pending.get(r.id);
      if (!done) continue; // a duplicate: each result is delivered once
      this.pending.delete(r.id);
      this.routed.delete(r.id);
      const onLane = this.laneTasks.get(r.id);
      if (onLane) {
        this.laneTasks.delete(r.id);
        const lane = this.lanes.get(onLane.engine);
        if (lane && onLane.bulk) {
          if (lane.bulk && lane.bulk.inflight > 0) lane.bulk.inflight--;
        } else if (lane) lane.inflight--;
      }
      const engine = r.engine ?? -1;
      const meta: Partial<TaskMetadata> = { engine, started: r.started, completed: r.completed, received };
      if (r.stdout !== undefined) meta.stdout = r.stdout;
      if (r.stderr !== undefined) meta.stderr = r.stderr;
      let outcome: PartOutcome;
      try {
        const value =
          r.body !== undefined
            ? decodeValue(r.body, r.frames)
            : decodeValue(r.frames[0] ?? Buffer.from('null'), r.frames.slice(1));
        outcome = r.ok ? { ok: true, value } : { ok: false, error: remoteError(r.id, engine, value) };
      } catch (error) {
        outcome = {
          ok: false,
          error: new JobError('BadResult', `task ${r.id}: undecodable result: ${(error as Error).message}`),
        };
      }
      done(outcome, meta);
    }
  }

  /** Times this client has seen its controller restart (and resubmitted its load-balanced tasks). */
  get controllerRestarts(): number {
    return this.restarts;
  }

  /**
   * The controller restarted (a supervisor brought it back on the same port) and forgot every task
   * and engine id. Load-balanced tasks still pending are sent again (each result is still delivered
   * once; a task may run twice); direct tasks and tasks restricted to engines fail with
   * ControllerRestarted, since engine ids are handed out afresh. Lanes (keyed by the old ids) close.
   */
  private controllerRestarted(epoch: string): void {
    this.epoch = epoch;
    this.restarts++;
    const again = [...this.laneTasks, ...this.routed].sort((a, b) => a[0] - b[0]);
    this.laneTasks.clear();
    this.routed.clear();
    for (const lane of this.lanes.values()) this.closeLane(lane);
    this.lanes.clear();
    this.lease = undefined;
    this.leaseState = 'none';
    this.engineMap.clear();
    this.flush();
    this.toController({ kind: 'hello' });
    for (const wait of this.moduleWaits.values()) wait([{ engine: -1, message: 'the controller restarted' }]);
    this.moduleWaits.clear();
    // Modules first: the controller loads them on every engine (now and later) before any task after them.
    for (const [name, code] of this.modules) this.sendModule(this.nextId++, name, code);
    const now = nowMs();
    for (const [i, t] of again) {
      const done = this.pending.get(i);
      if (!done) continue;
      if (t.sub.direct || t.sub.to) {
        this.pending.delete(i);
        const what = t.sub.direct ? 'a direct task' : 'a task restricted to chosen engines';
        const error = new JobError(
          'ControllerRestarted',
          `task ${i}: the controller restarted while it was pending; ${what} is not sent again, since engine ids are new after a restart`,
        );
        done({ ok: false, error }, { received: now });
      } else this.enqueue(t.sub, t.task);
    }
    for (const l of [...this.engineListeners]) l();
  }

  private lose(afterMs: number): void {
    this.failAll(
      new JobError('ControllerLost', `no word from the controller at ${this.options.endpoint} for ${afterMs} ms`),
    );
  }

  private failAll(error: JobError): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    this.laneTasks.clear();
    this.routed.clear();
    for (const lane of this.lanes.values()) {
      lane.inflight = 0;
      if (lane.bulk) {
        lane.bulk.inflight = 0;
        lane.bulk.queue = [];
      }
    }
    const now = nowMs();
    for (const done of pending) done({ ok: false, error }, { received: now });
    for (const wait of this.moduleWaits.values()) wait([{ engine: -1, message: error.message }]);
    this.moduleWaits.clear();
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    for (const lane of this.lanes.values()) this.closeLane(lane);
    this.sock.close();
    this.pingSock.close();
    await this.loop;
    await this.pingLoop;
    await Promise.all([...this.lanes.values()].map((lane) => lane.loop));
  }

  /** Says goodbye (the controller drops this client's queued tasks) and closes. Pending results fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.toController({ kind: 'bye' });
    await this.out.drain(200);
    await this.shutdown();
    this.failAll(new JobError('ClientClosed', 'the client was closed before this result arrived'));
  }
}

function remoteError(taskId: number, engine: number, value: unknown): JobError {
  const e = (value ?? {}) as { name?: unknown; message?: unknown; stack?: unknown };
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const message = typeof e.message === 'string' ? e.message : String(value);
  if (name === 'EngineDied') return new EngineDiedError(engine, taskId, message);
  if (name === 'TaskAborted') return new TaskAbortedError(taskId, message === INTERRUPTED_MESSAGE);
  if (name === 'TaskTimeLimit') return new TaskTimeLimitError(engine, taskId, message);
  if (name === 'EngineNotFound' || name === 'NoEngine') return new JobError(name, `task ${taskId}: ${message}`);
  return new RemoteTaskError(engine, taskId, name, message, typeof e.stack === 'string' ? e.stack : undefined);
}
