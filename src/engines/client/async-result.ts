import type { JobError } from '../../errors.js';
import { CompositeTaskError, TaskTimeoutError } from './errors.js';
import { settleWithin } from '../protocol/timeout.js';

/** Where and when one task ran. Times are epoch ms (started/completed from the engine's clock). */
export interface TaskMetadata {
  taskId: number;
  /** Engine that produced the result (-1 while pending or when the controller answered). */
  engine: number;
  submitted: number;
  started?: number;
  completed?: number;
  received?: number;
  status: 'pending' | 'ok' | 'error';
  /** What the task printed with console.log/info/debug, and with console.warn/error, on its engine. */
  stdout?: string;
  stderr?: string;
}

export type PartOutcome = { ok: true; value: unknown } | { ok: false; error: JobError };

/**
 * The pending result of one or more tasks (IPython's AsyncResult). It is a PromiseLike, so
 * `await ar` works; `get(timeoutMs)` bounds the wait. A rejection never goes unhandled if nobody
 * awaits it.
 */
export class AsyncResult<T> implements PromiseLike<T> {
  readonly metadata: TaskMetadata[];
  protected readonly outcomes: (PartOutcome | undefined)[];
  protected done = 0;
  private readonly promise: Promise<T>;
  private resolveP!: (v: T) => void;
  private rejectP!: (e: unknown) => void;
  private readonly progressListeners: ((done: number, total: number) => void)[] = [];
  private aborter?: (taskIds: number[], options: { running?: boolean }) => void;
  protected readonly partListeners: ((index: number) => void)[] = [];

  /** `tasks` parts; the client fills in each part's task id as it submits it. */
  constructor(
    tasks: number,
    submitted: number,
    private readonly combine: (values: unknown[]) => T,
  ) {
    this.metadata = new Array<TaskMetadata>(tasks);
    for (let i = 0; i < tasks; i++) this.metadata[i] = { taskId: -1, engine: -1, submitted, status: 'pending' };
    this.outcomes = new Array<PartOutcome | undefined>(tasks);
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolveP = resolve;
      this.rejectP = reject;
    });
    this.promise.catch(() => {});
    if (tasks === 0) this.finish();
  }

  /** Task ids, in submission order. */
  get taskIds(): number[] {
    return this.metadata.map((m) => m.taskId);
  }
  /** Tasks finished so far. */
  get progress(): number {
    return this.done;
  }
  get total(): number {
    return this.metadata.length;
  }
  ready(): boolean {
    return this.done === this.metadata.length;
  }
  /** True if every task succeeded, false if any failed, undefined while pending. */
  successful(): boolean | undefined {
    if (!this.ready()) return undefined;
    return this.outcomes.every((o) => o?.ok);
  }
  /** Wall time from first submission to last receipt (ms), once ready. */
  get wallTime(): number | undefined {
    if (!this.ready() || this.metadata.length === 0) return undefined;
    const first = Math.min(...this.metadata.map((m) => m.submitted));
    const last = Math.max(...this.metadata.map((m) => m.received ?? 0));
    return last - first;
  }
  /** Sum of engine run times (ms), once ready. */
  get serialTime(): number | undefined {
    if (!this.ready()) return undefined;
    return this.metadata.reduce((s, m) => s + Math.max(0, (m.completed ?? 0) - (m.started ?? 0)), 0);
  }

  /** @internal The client call that aborts this result's tasks. */
  attachAbort(aborter: (taskIds: number[], options: { running?: boolean }) => void): void {
    this.aborter = aborter;
  }

  /**
   * Aborts the tasks not finished yet: those no engine has started fail with TaskAborted (so the
   * result rejects); those already running finish as usual (IPython parallel's `abort`) — unless
   * `running: true`, which interrupts them as well (see Client.abort).
   */
  abort(options: { running?: boolean } = {}): void {
    const pending = this.metadata.filter((m, i) => this.outcomes[i] === undefined && m.taskId >= 0);
    this.aborter?.(
      pending.map((m) => m.taskId),
      options,
    );
  }

  /** Each task's printed stdout ('' if none or not finished), in part order (IPython's `ar.stdout`). */
  get stdout(): string[] {
    return this.metadata.map((m) => m.stdout ?? '');
  }

  /** Each task's printed stderr, as `stdout`. */
  get stderr(): string[] {
    return this.metadata.map((m) => m.stderr ?? '');
  }

  /** Calls `listener(done, total)` after each task finishes. */
  onProgress(listener: (done: number, total: number) => void): this {
    this.progressListeners.push(listener);
    return this;
  }

  /** The value; with `timeoutMs`, rejects with TaskTimeoutError if not ready by then (tasks keep running). */
  get(timeoutMs?: number): Promise<T> {
    if (timeoutMs === undefined || this.ready()) return this.promise;
    return settleWithin(
      this.promise,
      timeoutMs,
      () => new TaskTimeoutError(timeoutMs, this.done, this.metadata.length),
    );
  }

  /** Resolves true once every task has finished (ok or not), false if `timeoutMs` passes first. */
  async wait(timeoutMs?: number): Promise<boolean> {
    try {
      await this.get(timeoutMs);
      return true;
    } catch (error) {
      return !(error instanceof TaskTimeoutError);
    }
  }

  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.promise.then(onfulfilled, onrejected);
  }

  /** @internal Called by the client when task `index` finishes. */
  complete(index: number, outcome: PartOutcome, meta: Partial<TaskMetadata>): void {
    if (this.outcomes[index] !== undefined) return; // exactly once
    this.outcomes[index] = outcome;
    const m = Object.assign(this.metadata[index]!, meta);
    m.status = outcome.ok ? 'ok' : 'error';
    this.done++;
    for (const l of this.partListeners) l(index);
    for (const l of this.progressListeners) l(this.done, this.metadata.length);
    if (this.done === this.metadata.length) this.finish();
  }

  private finish(): void {
    // one pass, no intermediate arrays: this runs once per apply
    const n = this.outcomes.length;
    const values = new Array<unknown>(n);
    let errors: JobError[] | undefined;
    for (let i = 0; i < n; i++) {
      const o = this.outcomes[i];
      if (o === undefined) continue;
      if (o.ok) values[i] = o.value;
      else (errors ??= []).push(o.error);
    }
    if (errors) {
      this.rejectP(errors.length === 1 ? errors[0] : new CompositeTaskError(errors));
      return;
    }
    try {
      this.resolveP(this.combine(values));
    } catch (error) {
      this.rejectP(error);
    }
  }
}

/**
 * The result of a map: one task per chunk. Awaiting gives the flat list in input order; iterating
 * (`for await`) yields items as chunks arrive, in order (`ordered`, default) or as completed.
 */
export class AsyncMapResult<T> extends AsyncResult<T[]> implements AsyncIterable<T> {
  constructor(
    tasks: number,
    submitted: number,
    private readonly ordered: boolean,
  ) {
    super(tasks, submitted, (chunks) => (chunks as T[][]).flat());
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    const arrived: number[] = [];
    let wake: (() => void) | undefined;
    const listener = (index: number): void => {
      arrived.push(index);
      wake?.();
    };
    for (let i = 0; i < this.outcomes.length; i++) if (this.outcomes[i] !== undefined) arrived.push(i);
    this.partListeners.push(listener);
    try {
      if (this.ordered) {
        for (let i = 0; i < this.outcomes.length; i++) {
          while (this.outcomes[i] === undefined) await new Promise<void>((r) => (wake = r));
          yield* this.itemsOf(i);
        }
      } else {
        let yielded = 0;
        while (yielded < this.outcomes.length) {
          while (arrived.length === 0) await new Promise<void>((r) => (wake = r));
          const i = arrived.shift()!;
          yielded++;
          yield* this.itemsOf(i);
        }
      }
    } finally {
      this.partListeners.splice(this.partListeners.indexOf(listener), 1);
    }
  }

  private itemsOf(i: number): T[] {
    const o = this.outcomes[i]!;
    if (!o.ok) throw o.error;
    return o.value as T[];
  }
}
