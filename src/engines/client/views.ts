import { JobError, StarclusterError } from '../../errors.js';
import type { Scheme } from '../protocol/messages.js';
import { isScheme, nowMs, TaskKind } from '../protocol/messages.js';
import type { Frames } from '../protocol/sockets.js';
import { AsyncMapResult, AsyncResult } from './async-result.js';
import type { PartOutcome, TaskMetadata } from './async-result.js';
import type { Submission, Submitter, TaskFunction } from './framing.js';
import { taskFrames } from './framing.js';
import { gather } from './gather.js';

export interface LoadBalancedOptions {
  /** Scheme for this view's tasks (default: the controller's). */
  scheme?: Scheme;
  /** Re-run a failed task up to this many times, each on an engine that has not failed it. */
  retries?: number;
  /** Restrict to these engines. */
  targets?: number[];
  /**
   * Per-task time limit (ms) on the engine: a synchronous task running longer is stopped, an
   * asynchronous one abandoned; either fails with TaskTimeLimit (not retried on death).
   */
  timeLimitMs?: number;
  /**
   * Time dependencies (IPython's `after`): this view's tasks are sent only once every one of these
   * results has finished, and only if all succeeded (else they fail DependencyFailed, unrun).
   */
  after?: readonly Dependency[];
  /**
   * Location dependencies (IPython's `follow`): the tasks run on the engine where these results ran
   * (waiting for them as `after` does); results that ran on several engines make it ImpossibleDependency.
   */
  follow?: readonly Dependency[];
}

/** What a task can depend on: an AsyncResult of any view. */
export type Dependency = Pick<AsyncResult<unknown>, 'wait' | 'successful' | 'metadata'>;

/** Options of a DirectView. */
export interface DirectOptions {
  /** Per-task time limit (ms) on the engine, as for LoadBalancedOptions. */
  timeLimitMs?: number;
}

function checkTimeLimit(ms: number | undefined): { timeLimitMs?: number } {
  if (ms === undefined) return {};
  if (!(Number.isFinite(ms) && ms > 0)) {
    throw new JobError('InvalidTimeLimit', `timeLimitMs must be a positive number of milliseconds, got ${String(ms)}`);
  }
  return { timeLimitMs: ms };
}

export interface MapOptions {
  /** Await/iterate results in input order (default) or as they complete. */
  ordered?: boolean;
  /** Inputs per task (default 1): batching amortises per-task overhead for tiny tasks. */
  chunksize?: number;
}

export interface ImapOptions extends MapOptions {
  /** Tasks in flight at most (default max(64, 16 × engines)). */
  maxOutstanding?: number;
}

type Fn<A extends unknown[], R> = TaskFunction<A, R>;

/** Anything array-like that map accepts: arrays, typed arrays. */
type Sliceable<T> = ArrayLike<T> & { slice(start: number, end: number): ArrayLike<T> };

function toSliceable<T>(inputs: Iterable<T> | ArrayLike<T>): Sliceable<T> {
  if (ArrayBuffer.isView(inputs)) return inputs as unknown as Sliceable<T>;
  if (Array.isArray(inputs)) return inputs;
  return Array.from(inputs as Iterable<T>);
}

function submitPart<T>(client: Submitter, sub: Submission, frames: Frames, ar: AsyncResult<T>, index: number): void {
  if (index === 0) ar.attachAbort((ids, options) => client.abort(ids, options));
  ar.metadata[index]!.taskId = client.submit(sub, frames, (outcome: PartOutcome, meta: Partial<TaskMetadata>) =>
    ar.complete(index, outcome, meta),
  );
}

/** Load-balanced tasks (IPython's LoadBalancedView): the controller's scheduler picks the engine. */
export class LoadBalancedView {
  private readonly sub: Submission;
  private readonly after: readonly Dependency[];
  private readonly follow: readonly Dependency[];

  constructor(
    private readonly client: Submitter,
    options: LoadBalancedOptions = {},
  ) {
    if (options.scheme !== undefined && !isScheme(options.scheme)) {
      throw new JobError(
        'UnknownScheme',
        `unknown scheduler scheme ${JSON.stringify(options.scheme)}: use lru, plainrandom, twobin, leastload or weighted`,
      );
    }
    this.sub = {
      ...(options.scheme ? { scheme: options.scheme } : {}),
      ...(options.retries ? { retries: options.retries } : {}),
      ...(options.targets?.length ? { to: [...options.targets] } : {}),
      ...checkTimeLimit(options.timeLimitMs),
    };
    this.after = options.after ?? [];
    this.follow = options.follow ?? [];
  }

  /** Runs `fn(...args)` on one engine. */
  apply<A extends unknown[], R>(fn: Fn<A, R>, ...args: A): AsyncResult<Awaited<R>> {
    const frames = taskFrames(TaskKind.apply, fn as TaskFunction<never[], unknown>, args);
    const ar = new AsyncResult<Awaited<R>>(1, nowMs(), (v) => v[0] as Awaited<R>);
    this.submitAll(ar, this.sub, [frames]);
    return ar;
  }

  /** Submits every part now, or once the dependencies are met (failing every part if they cannot be). */
  private submitAll<T>(ar: AsyncResult<T>, sub: Submission, parts: Frames[]): void {
    if (this.after.length === 0 && this.follow.length === 0) {
      parts.forEach((frames, index) => submitPart(this.client, sub, frames, ar, index));
      return;
    }
    let aborted = false;
    ar.attachAbort(() => (aborted = true)); // until submitted, an abort cancels the wait
    const failAll = (error: unknown): void => {
      const now = nowMs();
      const e = StarclusterError.is(error) ? (error as JobError) : new JobError('DependencyFailed', String(error));
      parts.forEach((_, index) => ar.complete(index, { ok: false, error: e }, { received: now }));
    };
    this.dependenciesMet(sub)
      .then((ready) => {
        if (aborted) throw new JobError('TaskAborted', 'aborted while it waited for its dependencies');
        parts.forEach((frames, index) => submitPart(this.client, ready, frames, ar, index));
      }, failAll)
      .catch(failAll);
  }

  /** Waits for `after` and `follow`; the submission to use (restricted to the followed engine), or throws. */
  private async dependenciesMet(sub: Submission): Promise<Submission> {
    const deps = [...this.after, ...this.follow];
    await Promise.all(deps.map((d) => d.wait()));
    const failed = deps.filter((d) => d.successful() !== true);
    if (failed.length > 0) {
      throw new JobError(
        'DependencyFailed',
        `${failed.length} of the ${deps.length} results this task depends on failed, so it was not run`,
        { hint: 'check those results’ errors' },
      );
    }
    if (this.follow.length === 0) return sub;
    const engines = [...new Set(this.follow.flatMap((d) => d.metadata.map((m) => m.engine)))];
    const engine = engines[0]!;
    if (engines.length !== 1 || (sub.to && !sub.to.includes(engine))) {
      throw new JobError(
        'ImpossibleDependency',
        engines.length !== 1
          ? `follow: the results to follow ran on ${engines.length} engines (${engines.join(', ')}); a task runs on one`
          : `follow: the results to follow ran on engine ${engine}, outside this view's targets (${sub.to!.join(', ')})`,
      );
    }
    return { ...sub, to: [engine] };
  }

  /** `fn(item)` for every input, `chunksize` inputs per task. */
  map<T, R>(fn: Fn<[T], R>, inputs: Iterable<T> | ArrayLike<T>, options: MapOptions = {}): AsyncMapResult<Awaited<R>> {
    const items = toSliceable(inputs);
    const chunksize = Math.max(1, Math.floor(options.chunksize ?? 1));
    const ar = new AsyncMapResult<Awaited<R>>(Math.ceil(items.length / chunksize), nowMs(), options.ordered ?? true);
    const parts: Frames[] = [];
    for (let start = 0; start < items.length; start += chunksize) {
      parts.push(
        taskFrames(TaskKind.mapChunk, fn as TaskFunction<never[], unknown>, [items.slice(start, start + chunksize)]),
      );
    }
    this.submitAll(ar, { ...this.sub, lane: false }, parts);
    return ar;
  }

  /**
   * Lazy map over a (possibly endless, possibly async) iterable: at most `maxOutstanding` tasks in
   * flight; yields results in input order (default) or as they complete. Breaking out of the loop
   * stops submitting (tasks in flight finish and are dropped). The first failed task throws.
   */
  async *imap<T, R>(
    fn: Fn<[T], R>,
    inputs: Iterable<T> | AsyncIterable<T>,
    options: ImapOptions = {},
  ): AsyncGenerator<Awaited<R>> {
    const ordered = options.ordered ?? true;
    const chunksize = Math.max(1, Math.floor(options.chunksize ?? 1));
    const maxOutstanding = Math.max(1, options.maxOutstanding ?? Math.max(64, 16 * this.client.ids.length));
    const source: AsyncIterator<T> | Iterator<T> =
      Symbol.asyncIterator in inputs
        ? (inputs as AsyncIterable<T>)[Symbol.asyncIterator]()
        : (inputs as Iterable<T>)[Symbol.iterator]();
    const ready = new Map<number, PartOutcome>();
    const arrivals: number[] = [];
    let wake: (() => void) | undefined;
    let submittedChunks = 0;
    let nextToYield = 0;
    let inFlight = 0;
    let exhausted = false;
    const fnArg = fn as TaskFunction<never[], unknown>;
    const sub: Submission = {
      ...(this.after.length || this.follow.length ? await this.dependenciesMet(this.sub) : this.sub),
      lane: false,
    };
    const fill = async (): Promise<void> => {
      while (!exhausted && inFlight < maxOutstanding) {
        const chunk: T[] = [];
        while (chunk.length < chunksize) {
          const step = await source.next();
          if (step.done) {
            exhausted = true;
            break;
          }
          chunk.push(step.value);
        }
        if (chunk.length === 0) break;
        const index = submittedChunks++;
        inFlight++;
        this.client.submit(sub, taskFrames(TaskKind.mapChunk, fnArg, [chunk]), (outcome) => {
          inFlight--;
          ready.set(index, outcome);
          arrivals.push(index);
          wake?.();
        });
      }
    };
    try {
      await fill();
      while (nextToYield < submittedChunks || !exhausted) {
        let index: number;
        if (ordered) {
          while (!ready.has(nextToYield)) await new Promise<void>((r) => (wake = r));
          index = nextToYield;
        } else {
          while (arrivals.length === 0) await new Promise<void>((r) => (wake = r));
          index = arrivals.shift()!;
        }
        const outcome = ready.get(index)!;
        ready.delete(index);
        nextToYield++;
        if (!outcome.ok) throw outcome.error;
        await fill();
        for (const v of outcome.value as Awaited<R>[]) yield v;
        if (exhausted && nextToYield >= submittedChunks) break;
      }
    } finally {
      exhausted = true;
      await (source as { return?: () => unknown }).return?.();
    }
  }
}

/** Work on chosen engines (IPython's DirectView); every call returns one value per target engine. */
export class DirectView {
  private readonly limit: { timeLimitMs?: number };

  constructor(
    private readonly client: Submitter,
    private readonly targetSpec: number | number[] | 'all',
    options: DirectOptions = {},
  ) {
    this.limit = checkTimeLimit(options.timeLimitMs);
  }

  /** The engines this view addresses now ('all' is resolved at each call, as in IPython). */
  get targets(): number[] {
    const spec = this.targetSpec;
    const ids = spec === 'all' ? this.client.ids : typeof spec === 'number' ? [spec] : [...spec];
    if (ids.length === 0) throw new JobError('NoEngines', 'no engines are registered: wait with waitForEngines(n)');
    return ids;
  }

  private each<T>(
    build: (engine: number, index: number) => Frames,
    combine: (values: unknown[]) => T,
    bigResult = false,
  ): AsyncResult<T> {
    const targets = this.targets;
    const ar = new AsyncResult<T>(targets.length, nowMs(), combine);
    const extra: Partial<Submission> = bigResult ? { bulk: true } : {};
    targets.forEach((engine, index) =>
      submitPart(this.client, { to: [engine], direct: true, ...this.limit, ...extra }, build(engine, index), ar, index),
    );
    return ar;
  }

  /** Runs `fn(...args)` on every target; the function sees the engine's namespace as globals. */
  apply<A extends unknown[], R>(fn: Fn<A, R>, ...args: A): AsyncResult<Awaited<R>[]> {
    const frames = taskFrames(TaskKind.apply, fn as TaskFunction<never[], unknown>, args);
    return this.each(
      () => frames,
      (v) => v as Awaited<R>[],
    );
  }

  /** Runs code in each engine's namespace (a vm context); gives each engine's completion value. */
  execute(code: string): AsyncResult<unknown[]> {
    const frames = taskFrames(TaskKind.execute, undefined, [code]);
    return this.each(
      () => frames,
      (v) => v,
    );
  }

  /** Sets names in each engine's namespace. */
  push(namespace: Record<string, unknown>): AsyncResult<void> {
    const frames = taskFrames(TaskKind.push, undefined, [namespace]);
    return this.each(
      () => frames,
      (): void => undefined,
    );
  }

  /** One name → its value on each engine; several names → each engine's list of values. */
  pull(name: string): AsyncResult<unknown[]>;
  pull(names: string[]): AsyncResult<unknown[][]>;
  pull(names: string | string[]): AsyncResult<unknown[]> | AsyncResult<unknown[][]> {
    const list = typeof names === 'string' ? [names] : names;
    const frames = taskFrames(TaskKind.pull, undefined, [list]);
    if (typeof names === 'string') {
      return this.each(
        () => frames,
        (v) => (v as unknown[][]).map((values) => values[0]),
        true,
      );
    }
    return this.each(
      () => frames,
      (v) => v as unknown[][],
      true,
    );
  }

  /** Splits `data` into contiguous blocks, one per target (sizes differ by at most one), and pushes each as `name`. */
  scatter(name: string, data: ArrayLike<unknown> & { slice(start: number, end: number): unknown }): AsyncResult<void> {
    const targets = this.targets;
    const n = targets.length;
    const base = Math.floor(data.length / n);
    const extra = data.length % n;
    const bounds: [number, number][] = [];
    for (let i = 0, start = 0; i < n; i++) {
      const size = base + (i < extra ? 1 : 0);
      bounds.push([start, start + size]);
      start += size;
    }
    return new DirectView(this.client, targets, this.limit).each(
      (_engine, index) => {
        const [s, e] = bounds[index]!;
        return taskFrames(TaskKind.push, undefined, [{ [name]: part(data, s, e) }]);
      },
      (): void => undefined,
    );
  }

  /**
   * Pulls `name` from every target and concatenates the parts (typed arrays stay typed); large typed
   * parts are received straight into the final array (see gather.ts).
   */
  gather(name: string): AsyncResult<unknown> {
    return gather(this.client, this.targets, name, { direct: true, ...this.limit });
  }
}

/**
 * Elements [s, e) of scattered data: a typed array's part is a view (its bytes are framed straight from
 * the array, as push frames a whole one: no copy of the data); other sequences are sliced.
 */
function part(
  data: ArrayLike<unknown> & { slice(start: number, end: number): unknown },
  s: number,
  e: number,
): unknown {
  if (ArrayBuffer.isView(data) && !(data instanceof DataView)) {
    return (data as unknown as { subarray(s: number, e: number): unknown }).subarray(s, e);
  }
  return data.slice(s, e);
}
