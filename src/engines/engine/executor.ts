import { createHash, randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';
import { TYPED, decodeValue } from '../protocol/codec.js';
import type { TaskBody } from '../protocol/messages.js';
import { TaskKind } from '../protocol/messages.js';
import { settleWithin } from '../protocol/timeout.js';

/** What a task function receives as its last argument when it asks for a context. */
export interface EngineTaskContext {
  engine: number;
  task: number;
}

type AnyFn = (...args: unknown[]) => unknown;

const FN_CACHE_LIMIT = 512;

/**
 * A guarded task runs through this one-line script, so that `vm`'s watchdogs apply to it (see
 * executeGuarded). It runs in this realm (runInThisContext: no entering the namespace's context per
 * task), calling a hidden global that runs whatever `guardedNext` holds. The global's name is this
 * module copy's own (a process holding two copies keeps them apart), and it is defined on the first
 * guarded run only (a process that never runs one, a client, never gets it).
 */
const GUARDED_ENTRY = `__starclusterGuardedTask_${randomUUID().replaceAll('-', '')}`;
const GUARDED_CALL = new vm.Script(`${GUARDED_ENTRY}()`, { filename: 'guarded-task' });
/** What the guarded entry runs next: set just before, cleared by the entry (no closure per task). */
const guardedNext: { executor?: TaskExecutor; taskId: number; body?: TaskBody } = { taskId: -1 };
let guardedEntryDefined = false;
function runGuardedNext(): unknown {
  const { executor, taskId, body } = guardedNext;
  guardedNext.executor = undefined;
  guardedNext.body = undefined;
  return executor && body ? executor.execute(taskId, body) : undefined;
}
function defineGuardedEntry(): void {
  // not enumerable, not writable; tasks never see it (they run in the namespace's own realm)
  Object.defineProperty(globalThis, GUARDED_ENTRY, { value: runGuardedNext });
  guardedEntryDefined = true;
}

const INTERRUPTIBLE_OPTIONS = { breakOnSigint: true } as const;

function namedError(name: string, message: string): Error {
  const err = new Error(message);
  err.name = name;
  return err;
}

/** How a task runs: within a time limit, and/or stoppable by SIGINT while it computes. */
export interface TaskGuards {
  /** Time limit, ms. */
  limitMs?: number | undefined;
  /** SIGINT stops the synchronous part (`vm` throws ERR_SCRIPT_EXECUTION_INTERRUPTED). */
  interruptible?: boolean;
}

export const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';

/**
 * Runs task bodies: shipped functions, module exports, execute/push/pull in the namespace, module
 * loads. Shared by engines and pipeline workers.
 */
export class TaskExecutor {
  /** Engine (or worker) id reported in task contexts. */
  id = -1;
  private readonly fnCache = new Map<string, AnyFn>();
  private ctx?: vm.Context;
  private readonly modules: Record<string, Record<string, unknown>> = {};
  private readonly moduleHashes = new Map<string, string>();
  private moduleDir?: string;

  constructor(private readonly tag: string) {}

  /**
   * Decodes and runs one task; the value, or a promise of it for asynchronous tasks. Throws what the
   * task throws. With `limitMs`, a synchronous run longer than that is stopped (V8 terminates it, as
   * `vm`'s timeout does) and an asynchronous one is abandoned: either fails with a TaskTimeLimit error.
   */
  run(taskId: number, frames: readonly (Uint8Array | string)[], guards: TaskGuards = {}): unknown {
    const bodyFrame = frames[0];
    if (!bodyFrame) throw new Error('empty task');
    const buffers = frames.length > 1 ? (frames.slice(1) as Uint8Array[]) : [];
    const body = decodeValue(bodyFrame, buffers) as TaskBody;
    const limitMs = guards.limitMs && guards.limitMs > 0 ? guards.limitMs : undefined;
    if (!limitMs && !guards.interruptible) return this.execute(taskId, body);
    return this.executeGuarded(taskId, body, limitMs, guards.interruptible === true);
  }

  /**
   * Runs the task through a one-line script so that `vm`'s watchdogs apply to it: `timeout` (V8
   * terminates the run) and `breakOnSigint` (a SIGINT terminates it; see Engine's interrupt).
   */
  private executeGuarded(taskId: number, body: TaskBody, limitMs: number | undefined, interruptible: boolean): unknown {
    const started = limitMs ? performance.now() : 0;
    let value: unknown;
    if (!guardedEntryDefined) defineGuardedEntry();
    guardedNext.executor = this;
    guardedNext.taskId = taskId;
    guardedNext.body = body;
    try {
      value = GUARDED_CALL.runInThisContext(
        limitMs ? { timeout: Math.max(1, Math.floor(limitMs)), breakOnSigint: interruptible } : INTERRUPTIBLE_OPTIONS,
      );
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
        throw namedError('TaskTimeLimit', `ran longer than its time limit of ${limitMs} ms and was stopped`);
      }
      throw error; // ERR_SCRIPT_EXECUTION_INTERRUPTED included: the engine tells whose interrupt it was
    } finally {
      guardedNext.executor = undefined;
      guardedNext.body = undefined;
    }
    if (!isThenable(value) || !limitMs) return value;
    const left = Math.max(1, limitMs - (performance.now() - started));
    return settleWithin(value, left, () =>
      namedError(
        'TaskTimeLimit',
        `did not settle within its time limit of ${limitMs} ms (abandoned; its pending work may still run)`,
      ),
    );
  }

  execute(taskId: number, body: TaskBody): unknown {
    const args = Array.isArray(body.a) ? (body.a as unknown[]) : [];
    switch (body.k) {
      case TaskKind.apply: {
        const fn = this.resolveFn(body);
        if (body.x) args.push({ engine: this.id, task: taskId } satisfies EngineTaskContext);
        return fn(...args);
      }
      case TaskKind.mapChunk: {
        const fn = this.resolveFn(body);
        const items = args[0] as unknown[];
        const extra = body.x ? [{ engine: this.id, task: taskId } satisfies EngineTaskContext] : [];
        const out = new Array<unknown>(items.length);
        for (let i = 0; i < items.length; i++) {
          const r = fn(items[i], ...extra);
          if (isThenable(r)) return this.finishChunkAsync(fn, items, out, i, r, extra);
          out[i] = r;
        }
        return out;
      }
      case TaskKind.execute:
        return vm.runInContext(String(args[0]), this.context(), { filename: `execute-task-${taskId}` });
      case TaskKind.push: {
        const ctx = this.context();
        for (const [k, v] of Object.entries((args[0] ?? {}) as Record<string, unknown>)) ctx[k] = v;
        return null;
      }
      case TaskKind.pull: {
        const ctx = this.context();
        return (args[0] as string[]).map((name) => {
          if (!/^[A-Za-z_$][\w$]*$/.test(name)) throw new TypeError(`cannot pull ${JSON.stringify(name)}: not a name`);
          return Object.prototype.hasOwnProperty.call(ctx, name) ? ctx[name] : vm.runInContext(name, ctx);
        });
      }
      case TaskKind.load:
        return this.loadModule(String(args[0]), args[1] as Uint8Array);
      default:
        throw new Error(`unknown task kind ${String(body.k)}`);
    }
  }

  private async finishChunkAsync(
    fn: AnyFn,
    items: unknown[],
    out: unknown[],
    i: number,
    first: PromiseLike<unknown>,
    extra: unknown[],
  ): Promise<unknown[]> {
    out[i] = await first;
    for (let j = i + 1; j < items.length; j++) out[j] = await fn(items[j], ...extra);
    return out;
  }

  private resolveFn(body: TaskBody): AnyFn {
    if (body.m) {
      const [mod, name] = body.m;
      const ns = this.modules[mod];
      if (!ns)
        throw new Error(`module ${JSON.stringify(mod)} is not loaded on engine ${this.id}: call loadModule first`);
      const fn = ns[name];
      if (typeof fn !== 'function')
        throw new Error(`module ${JSON.stringify(mod)} has no function export ${JSON.stringify(name)}`);
      return fn as AnyFn;
    }
    const src = body.f;
    if (typeof src !== 'string') throw new Error('task names no function');
    let fn = this.fnCache.get(src);
    if (!fn) {
      const compiled: unknown = vm.runInContext(`(${src})`, this.context(), { filename: 'shipped-function' });
      if (typeof compiled !== 'function') throw new TypeError('shipped source is not a function');
      fn = compiled as AnyFn;
      if (this.fnCache.size >= FN_CACHE_LIMIT) this.fnCache.clear();
      this.fnCache.set(src, fn);
    }
    return fn;
  }

  /**
   * The engine's namespace (IPython's user namespace): a vm context that push/pull/execute and
   * shipped functions share. It gets the main realm's typed-array constructors so `instanceof`
   * works on arrays that arrive as task arguments.
   */
  private context(): vm.Context {
    if (!this.ctx) {
      const require = createRequire(join(process.cwd(), 'engine.js'));
      this.ctx = vm.createContext({
        console,
        setTimeout,
        clearTimeout,
        setInterval,
        clearInterval,
        setImmediate,
        clearImmediate,
        queueMicrotask,
        structuredClone,
        performance,
        Buffer,
        URL,
        TextEncoder,
        TextDecoder,
        ArrayBuffer,
        DataView,
        ...TYPED,
        require,
        process,
        modules: this.modules,
      });
    }
    return this.ctx;
  }

  async loadModule(name: string, code: Uint8Array): Promise<null> {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new Error(`invalid module name ${JSON.stringify(name)}`);
    const hash = createHash('sha256').update(code).digest('hex').slice(0, 16);
    if (this.moduleHashes.get(name) === hash) return null;
    this.moduleDir ??= join(
      tmpdir(),
      `starcluster-${this.tag}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`,
    );
    await mkdir(this.moduleDir, { recursive: true, mode: 0o700 });
    const file = join(this.moduleDir, `${name}-${hash}.mjs`);
    await writeFile(file, code, { mode: 0o600 });
    const ns = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    this.modules[name] = ns;
    this.moduleHashes.set(name, hash);
    return null;
  }

  /** Removes the temp files of loaded modules. */
  async dispose(): Promise<void> {
    if (this.moduleDir) await rm(this.moduleDir, { recursive: true, force: true });
  }
}
