import { randomInt } from 'node:crypto';
import { encodeValue } from '../protocol/codec.js';
import { nowMs, TaskKind } from '../protocol/messages.js';
import type { ResultItem, SubmitItem, TaskItem } from '../protocol/wire.js';
import type { HighWaterMark } from './options.js';
import { AUTO_MAX, AUTO_WINDOW_MS } from './options.js';
import type { ClientRec, EngineRec, TaskRec } from './records.js';
import { errorBody, Queue } from './records.js';
import type { Random, Scheme, SchemeFn } from './schedulers.js';
import { LruLoads, SCHEME_FUNCTIONS } from './schedulers.js';

const RESOLVED = Promise.resolve();

/** What the scheduler needs of its controller: the registered engines and clients, and the wire. */
export interface SchedulerHost {
  readonly engineRecs: ReadonlyMap<number, EngineRec>;
  clients(): Iterable<ClientRec>;
  closed(): boolean;
  /** Sends a batch of tasks to an engine (the records are the TaskItems: their frames go on untouched). */
  sendRun(rec: EngineRec, tasks: TaskItem[]): void;
  sendResults(client: ClientRec, results: ResultItem[]): void;
}

export interface SchedulerOptions {
  scheme: Scheme;
  hwm: HighWaterMark;
  deathRetries: number;
  random?: Random | undefined;
}

/** Counters the controller reports in stats(). */
export interface TaskCounters {
  submitted: number;
  completed: number;
  resubmitted: number;
  droppedResults: number;
}

/**
 * The controller's task scheduler, as ipyparallel's TaskScheduler: tasks queue until an engine under
 * its high-water mark is picked by the scheme (LRU order, loads); tasks whose engine died go first
 * (`urgent`), tasks restricted to engines or retried away from failed ones wait in `restricted`.
 * Results go back to their owner; batches for engines and clients go out at the next flush.
 */
export class Scheduler {
  readonly lru = new LruLoads();
  readonly tasks = new Map<number, TaskRec>();
  readonly counters: TaskCounters = { submitted: 0, completed: 0, resubmitted: 0, droppedResults: 0 };
  private readonly queue = new Queue<TaskRec>();
  private urgent: TaskRec[] = [];
  private restricted: TaskRec[] = [];
  private readonly schemeFn: SchemeFn;
  /**
   * Task ids start at a random point so that a result an engine computed for a previous controller
   * cannot pass for one of this controller's tasks.
   */
  private nextTaskId = randomInt(1, 2 ** 47);
  private flushScheduled = false;

  constructor(
    private readonly host: SchedulerHost,
    private readonly options: SchedulerOptions,
  ) {
    this.schemeFn = SCHEME_FUNCTIONS[options.scheme];
  }

  /** Tasks waiting for an engine. */
  get waiting(): number {
    return this.queue.length + this.urgent.length + this.restricted.length;
  }

  /** The outstanding-task limit a new engine starts with. */
  initialLimit(): number {
    const hwm = this.options.hwm;
    if (hwm === 'auto') return 1;
    return hwm === 0 ? Number.POSITIVE_INFINITY : hwm;
  }

  /** A client's tasks: direct ones go to their engine now, the others queue for the scheme. */
  submit(client: ClientRec, items: SubmitItem[]): void {
    for (const item of items) {
      const t: TaskRec = {
        id: this.nextTaskId++,
        owner: { kind: 'client', client, id: item.id },
        frames: item.frames,
        direct: item.direct,
        retriesLeft: item.retries,
        deathsLeft: this.options.deathRetries,
      };
      if (item.body !== undefined) t.body = item.body;
      if (item.timeLimitMs !== undefined) t.timeLimitMs = item.timeLimitMs;
      if (item.targets) t.targets = item.targets;
      if (item.scheme) t.scheme = item.scheme;
      this.counters.submitted++;
      this.tasks.set(t.id, t);
      client.tasks.set(item.id, t);
      if (t.direct) {
        const target = t.targets?.[0];
        const rec = target === undefined ? undefined : this.host.engineRecs.get(target);
        if (!rec) this.fail(t, 'EngineNotFound', `engine ${String(target)} is not registered`, target ?? -1);
        else this.sendTask(rec, t, false);
      } else if (t.targets) this.restricted.push(t);
      else this.queue.push(t);
    }
    this.dispatch();
  }

  /** Runs a module load on one engine for the controller itself; `done` gets the outcome. */
  load(rec: EngineRec, name: string, code: Buffer, done: (ok: boolean, body: Buffer) => void): void {
    const { body, buffers } = encodeValue([name, new Uint8Array(code.buffer, code.byteOffset, code.byteLength)]);
    const t: TaskRec = {
      id: this.nextTaskId++,
      owner: { kind: 'internal', done },
      frames: [Buffer.from(`{"k":"${TaskKind.load}","a":${body}}`), ...buffers.map((b) => Buffer.from(b))],
      targets: [rec.info.id],
      direct: true,
      retriesLeft: 0,
      deathsLeft: 0,
    };
    this.tasks.set(t.id, t);
    this.sendTask(rec, t, false);
  }

  /**
   * Marks a client's tasks aborted: queued ones fail with TaskAborted now; returns, per engine, the
   * controller's ids of those already sent (the engine drops or interrupts them).
   */
  abort(client: ClientRec, ids: number[], running: boolean): Map<number, number[]> {
    const onEngines = new Map<number, number[]>();
    for (const id of ids) {
      const t = client.tasks.get(id);
      if (!t || (t.aborted && !running)) continue;
      t.aborted = true;
      if (t.engine === undefined) {
        this.fail(t, 'TaskAborted', 'aborted before it started', -1);
      } else {
        const list = onEngines.get(t.engine) ?? [];
        list.push(t.id);
        onEngines.set(t.engine, list);
      }
    }
    return onEngines;
  }

  /** An engine's results: each goes to its owner, or back to the queue for a retry elsewhere. */
  onResults(rec: EngineRec | undefined, results: ResultItem[]): void {
    for (const r of results) {
      if (rec) this.finished(rec, r);
      const t = this.tasks.get(r.id);
      if (!t) {
        this.counters.droppedResults++;
        continue;
      }
      const engineId = rec?.info.id ?? -1;
      r.engine = engineId;
      if (!r.ok && !t.direct && t.retriesLeft > 0 && !t.aborted) {
        t.retriesLeft--;
        (t.blacklist ??= new Set()).add(engineId);
        t.lastError = r;
        t.engine = undefined;
        this.counters.resubmitted++;
        this.restricted.push(t);
        continue;
      }
      this.tasks.delete(r.id);
      this.deliver(t, r);
    }
    this.dispatch();
  }

  /** An engine is gone: its tasks run again elsewhere (the urgent queue, at the next dispatch) or fail with EngineDied. */
  engineGone(rec: EngineRec, why: string): void {
    this.lru.remove(rec.info.id);
    for (const taskId of rec.outstanding.keys()) {
      const t = this.tasks.get(taskId);
      if (!t || t.engine !== rec.info.id) continue;
      t.engine = undefined;
      const message = `engine ${rec.info.id} (${rec.info.node || 'local'} pid ${rec.info.pid}) died while running task: ${why}`;
      if (t.direct || t.deathsLeft <= 0 || t.aborted) {
        this.fail(t, 'EngineDied', message, rec.info.id);
      } else {
        t.deathsLeft--;
        this.counters.resubmitted++;
        this.urgent.push(t);
      }
    }
    rec.outstanding.clear();
  }

  /** Sends what can go: urgent tasks first, then restricted ones, then the queue in order. */
  dispatch(): void {
    if (this.host.engineRecs.size === 0) return;
    if (this.urgent.length) this.dispatchUrgent();
    if (this.restricted.length) this.dispatchRestricted();
    while (this.queue.length > 0 && this.urgent.length === 0) {
      const t = this.queue.peek()!;
      if (this.cancelled(t)) {
        this.queue.shift();
        continue;
      }
      const e = this.pick(t);
      if (e === undefined) break;
      this.queue.shift();
      this.sendTask(this.host.engineRecs.get(e)!, t, true);
    }
  }

  /** Sends the batches now (the controller calls it after each message it handles, before reading on). */
  readonly flush = (): void => {
    if (!this.flushScheduled) return;
    this.flushScheduled = false;
    if (this.host.closed()) return;
    for (const rec of this.host.engineRecs.values()) {
      const tasks = rec.batch;
      if (!tasks) continue;
      rec.batch = undefined;
      this.host.sendRun(rec, tasks);
    }
    for (const c of this.host.clients()) {
      const results = c.batch;
      if (!results) continue;
      c.batch = undefined;
      this.host.sendResults(c, results);
    }
  };

  private dispatchUrgent(): void {
    const urgent = this.urgent;
    this.urgent = [];
    for (const t of urgent) {
      if (this.cancelled(t)) continue;
      if (t.targets || t.blacklist) this.restricted.push(t);
      else {
        const e = this.pick(t);
        if (e === undefined) this.urgent.push(t);
        else this.sendTask(this.host.engineRecs.get(e)!, t, true);
      }
    }
  }

  private dispatchRestricted(): void {
    const rest: TaskRec[] = [];
    for (const t of this.restricted) {
      if (this.cancelled(t)) continue;
      const e = this.pick(t);
      if (e !== undefined) this.sendTask(this.host.engineRecs.get(e)!, t, true);
      else if (!this.possible(t)) this.failImpossible(t);
      else rest.push(t);
    }
    this.restricted = rest;
  }

  /** A result came back from `rec`: its load goes down, and its auto hwm learns the task's time. */
  private finished(rec: EngineRec, r: ResultItem): void {
    const lb = rec.outstanding.get(r.id);
    if (lb === undefined) return;
    rec.outstanding.delete(r.id);
    rec.completed++;
    if (lb) this.lru.finish(rec.info.id);
    if (this.options.hwm === 'auto') {
      const ms = r.completed - r.started;
      const d = Math.max(0.001, Number.isFinite(ms) ? ms : 0);
      rec.ewmaMs = rec.ewmaMs === undefined ? d : 0.8 * rec.ewmaMs + 0.2 * d;
      rec.limit = Math.max(1, Math.min(AUTO_MAX, Math.ceil(AUTO_WINDOW_MS / rec.ewmaMs)));
    }
  }

  private pick(t: TaskRec): number | undefined {
    const to = t.targets;
    const black = t.blacklist;
    const engines = this.host.engineRecs;
    return this.lru.pick(
      t.scheme ? SCHEME_FUNCTIONS[t.scheme] : this.schemeFn,
      (engine, load) =>
        load < (engines.get(engine)?.limit ?? 0) &&
        (to === undefined || to.includes(engine)) &&
        !(black?.has(engine) ?? false),
      this.options.random,
    );
  }

  /** Could this task ever run on a registered engine? */
  private possible(t: TaskRec): boolean {
    for (const id of this.host.engineRecs.keys()) {
      if ((t.targets === undefined || t.targets.includes(id)) && !(t.blacklist?.has(id) ?? false)) return true;
    }
    return false;
  }

  private cancelled(t: TaskRec): boolean {
    if (t.aborted) return true; // already failed with TaskAborted
    if (t.owner.kind === 'client' && t.owner.client.gone) {
      this.tasks.delete(t.id);
      return true;
    }
    return false;
  }

  private failImpossible(t: TaskRec): void {
    if (t.lastError) {
      this.tasks.delete(t.id);
      this.deliver(t, t.lastError);
      return;
    }
    this.fail(t, 'NoEngine', `no registered engine is among the task's targets ${JSON.stringify(t.targets)}`, -1);
  }

  private sendTask(rec: EngineRec, t: TaskRec, lb: boolean): void {
    t.engine = rec.info.id;
    rec.outstanding.set(t.id, lb);
    if (lb) this.lru.assign(rec.info.id);
    (rec.batch ??= []).push(t);
    this.scheduleFlush();
  }

  private fail(t: TaskRec, name: string, message: string, engine: number): void {
    this.tasks.delete(t.id);
    const now = nowMs();
    this.deliver(t, {
      id: t.id,
      ok: false,
      started: now,
      completed: now,
      engine,
      frames: [],
      body: errorBody(name, message),
    });
  }

  /** Hands a task's result to its owner: a client (by the client's id, at the next flush) or the controller. */
  private deliver(t: TaskRec, result: ResultItem): void {
    this.counters.completed++;
    const owner = t.owner;
    if (owner.kind === 'internal') {
      owner.done(
        result.ok,
        result.body !== undefined ? Buffer.from(result.body) : (result.frames[0] ?? Buffer.alloc(0)),
      );
      return;
    }
    const client = owner.client;
    client.tasks.delete(owner.id);
    if (client.gone) return;
    result.id = owner.id;
    (client.batch ??= []).push(result);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // A resolved promise's reaction: Node's queueMicrotask allocates an AsyncResource per call.
    void RESOLVED.then(this.flush);
  }
}
