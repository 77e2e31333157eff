import { JobError } from '../../errors.js';
import { decodeValue } from '../protocol/codec.js';
import type { ClusterKeys, PeerKeys } from '../protocol/keys.js';
import { clientKeysOf } from '../protocol/keys.js';
import type { EngineInfo, QueueStatus } from '../protocol/messages.js';
import { INLINE_BODY_MAX, INTERRUPTED_MESSAGE, nowMs } from '../protocol/messages.js';
import type { Frames } from '../protocol/sockets.js';
import type {
  ClientToControllerOut,
  ControllerToClient,
  ModuleError,
  ResultItem,
  SubmitItem,
} from '../protocol/wire.js';
import { unreachable } from '../protocol/wire.js';
import { settleWithin } from '../protocol/timeout.js';
import type { PartOutcome, TaskMetadata } from './async-result.js';
import { EngineDiedError, RemoteTaskError, TaskAbortedError, TaskTimeLimitError } from './errors.js';
import type { Done, Submission, Submitter } from './framing.js';
import type { LaneHost, Sent } from './lanes.js';
import { LaneRouter } from './lanes.js';
import { ControllerConnection } from './transport.js';
import { DirectView, LoadBalancedView } from './views.js';
import type { DirectOptions, LoadBalancedOptions } from './views.js';

export type { FnRef, TaskFunction } from './framing.js';
export { taskFrames } from './framing.js';
export { BULK_MIN_BYTES } from './lanes.js';

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

const MAX_BATCH_TASKS = 1024;
/** A resolved promise's reaction is the cheap microtask (Node's queueMicrotask allocates an AsyncResource). */
const RESOLVED = Promise.resolve();
const MAX_BATCH_BYTES = 4 << 20;

function frameBytes(f: Uint8Array | string): number {
  return typeof f === 'string' ? f.length : f.byteLength;
}

/**
 * A client of the controller (IPython parallel's Client): engines, views, modules, queue status.
 * It frames and tracks tasks; the connection is a ControllerConnection (transport.ts), and which
 * tasks take an engine's lane is a LaneRouter's to say (lanes.ts).
 */
export class Client implements Submitter {
  private readonly pending = new Map<number, Done>();
  private readonly moduleWaits = new Map<number, (errors: ModuleError[]) => void>();
  private readonly statusWaits = new Map<number, (status: QueueStatus) => void>();
  private readonly engineMap = new Map<number, EngineInfo>();
  private readonly engineListeners = new Set<() => void>();
  private nextId = 1;
  private batch: { tasks: SubmitItem<Uint8Array | string>[]; bytes: number } = { tasks: [], bytes: 0 };
  private flushQueued = false;
  private closed = false;
  private readonly link: ControllerConnection;
  private readonly lanes: LaneRouter;
  /** Tasks sent through the controller and not answered yet: resubmitted if the controller restarts. */
  private readonly routed = new Map<number, Sent>();
  /** Modules loaded through this client: sent again to a restarted controller (it forgets them). */
  private readonly modules = new Map<string, string | Uint8Array>();
  /** The controller's epoch (welcome and pong messages carry it). */
  private epoch = '';
  private restarts = 0;
  /** The controller's default scheme. */
  scheme = '';

  private constructor(private readonly options: ClientOptions) {
    const keys = clientKeysOf(options.keys);
    this.link = new ControllerConnection(options.endpoint, keys, this.onMessage);
    this.lanes = new LaneRouter(this.laneHost(), keys, options.lanes ?? 'auto');
  }

  /** Connects and waits for the controller's welcome; fails with ControllerUnreachable within `timeoutMs`. */
  static async connect(options: ClientOptions): Promise<Client> {
    const client = new Client(options);
    await client.open();
    return client;
  }

  private async open(): Promise<void> {
    const welcome = await this.link.open(this.options.timeoutMs ?? 10_000);
    this.epoch = welcome.epoch;
    this.scheme = welcome.scheme;
    for (const e of welcome.engines) this.engineMap.set(e.id, e);
    const lostAfter = this.options.lostAfterMs ?? 15_000;
    this.link.startPings(welcome.heartbeatMs, lostAfter, () => this.lose(lostAfter));
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
    // One record per task: what the lane sends (a TaskItem) and what the controller is sent (its SubmitItem).
    const task: SubmitItem<Uint8Array | string> = {
      id,
      frames: inline ? frames.slice(1) : frames,
      direct: sub.direct === true,
      retries: sub.retries ?? 0,
    };
    if (inline) task.body = first;
    if (sub.timeLimitMs !== undefined && sub.timeLimitMs > 0) task.timeLimitMs = sub.timeLimitMs;
    if (sub.to) task.targets = sub.to;
    if (sub.scheme) task.scheme = sub.scheme;
    const byLane = this.lanes.trySend(sub, task);
    this.pending.set(id, done);
    if (!byLane) this.enqueue(sub, task);
    return id;
  }

  /** What lane routing needs of this client. */
  private laneHost(): LaneHost {
    return {
      closed: () => this.closed,
      engine: (id) => this.engineMap.get(id),
      engines: () => [...this.engineMap.values()],
      idle: () => this.pending.size === 0 && this.batch.tasks.length === 0,
      routedDirectTo: (engine) => {
        for (const t of this.routed.values()) if (t.sub.direct && t.sub.to?.[0] === engine) return true;
        return false;
      },
      askLease: () => this.toController({ kind: 'lease' }),
      onResults: (results) => this.onResults(results),
      reroute: (sent) => this.enqueue(sent.sub, sent.task),
      fail: (id, error, meta) => {
        const done = this.pending.get(id);
        this.pending.delete(id);
        done?.({ ok: false, error }, meta);
      },
    };
  }

  private toController(message: ClientToControllerOut): void {
    this.link.send(message);
  }

  /** Adds a task to the next batch for the controller. */
  private enqueue(sub: Submission, task: SubmitItem<Uint8Array | string>): void {
    this.routed.set(task.id, { sub, task });
    const b = this.batch;
    b.tasks.push(task);
    for (const f of task.frames) b.bytes += frameBytes(f);
    if (task.body !== undefined) b.bytes += task.body.length;
    // A task submitted while no other is pending (a sequential apply) goes out now; one of a burst
    // waits for the burst's end (a microtask), so the burst travels as one batch.
    if (b.tasks.length >= MAX_BATCH_TASKS || b.bytes >= MAX_BATCH_BYTES || this.pending.size <= 1) this.flush();
    else if (!this.flushQueued) {
      this.flushQueued = true;
      void RESOLVED.then(this.flush);
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
    const viaController = this.lanes.abort(
      taskIds.filter((id) => this.pending.has(id)),
      running,
      (engine, ids) => this.toController({ kind: 'interrupt', engine, taskIds: ids }),
    );
    if (viaController.length > 0) {
      this.flush();
      this.toController({ kind: 'abort', taskIds: viaController, running });
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
    switch (message.kind) {
      case 'results':
        this.onResults(message.results);
        break;
      case 'engines':
        this.onEnginesChanged(message.up, message.down);
        break;
      case 'lease':
        this.lanes.onLease(message.engine);
        break;
      case 'queueStatus':
        this.statusWaits.get(message.requestId)?.(message.status);
        this.statusWaits.delete(message.requestId);
        break;
      case 'moduleLoaded':
        this.moduleWaits.get(message.requestId)?.(message.errors);
        this.moduleWaits.delete(message.requestId);
        break;
      case 'welcome':
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
    if (up.length > 0) this.lanes.enginesUp();
    for (const id of down) {
      this.engineMap.delete(id);
      this.lanes.engineDown(id);
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
      this.lanes.settled(r.id);
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
    const again: [number, Sent][] = [...this.lanes.reset(), ...this.routed].sort((a, b) => a[0] - b[0]);
    this.routed.clear();
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
    this.lanes.forgetAll();
    this.routed.clear();
    const now = nowMs();
    for (const done of pending) done({ ok: false, error }, { received: now });
    for (const wait of this.moduleWaits.values()) wait([{ engine: -1, message: error.message }]);
    this.moduleWaits.clear();
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    await Promise.all([this.lanes.close(), this.link.close()]);
  }

  /** Says goodbye (the controller drops this client's queued tasks) and closes. Pending results fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.toController({ kind: 'bye' });
    await this.link.drain(200);
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
