import { createHash, randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';
import { JobError } from '../../errors.js';
import { decodeValue, encodeValue } from '../protocol/codec.js';
import type { ClusterKeys, PeerKeys } from '../protocol/keys.js';
import { engineKeysOf } from '../protocol/keys.js';
import type { ResultHead, TaskBody, TaskHead } from '../protocol/messages.js';
import { nowMs, parseHeader, TaskKind } from '../protocol/messages.js';
import type { Frames } from '../protocol/sockets.js';
import { curveClient, Outbox, zmq } from '../protocol/sockets.js';
import { Heart } from './heart.js';

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
}

export type EngineEnd = 'closed' | 'stopped' | 'lost';

export interface EngineHandle {
  readonly id: number;
  readonly uuid: string;
  /** Settles when the engine ends: closed by us, stopped by the controller, or controller lost. */
  readonly ended: Promise<EngineEnd>;
  close(): Promise<void>;
}

/** What a task function receives as its last argument when it asks for a context. */
export interface EngineTaskContext {
  engine: number;
  task: number;
}

interface QueuedTask {
  id: number;
  frames: Buffer[];
}

type AnyFn = (...args: unknown[]) => unknown;

const FN_CACHE_LIMIT = 512;
const SLICE_MS = 5;

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';

export class Engine implements EngineHandle {
  id = -1;
  readonly uuid: string;
  readonly ended: Promise<EngineEnd>;

  private readonly sock: zmq.Dealer;
  private readonly out: Outbox;
  private readonly keys: PeerKeys;
  private readonly node: string;
  private heart?: Heart;
  private hb = 500;
  private lostBeats = 10;
  private endWith!: (why: EngineEnd) => void;
  private registered!: () => void;
  private readonly registeredP: Promise<void>;
  private closing = false;
  private readonly q: QueuedTask[] = [];
  private running = false;
  private results: { heads: ResultHead[]; frames: Frames } = { heads: [], frames: [] };
  private flushScheduled = false;
  private readonly fnCache = new Map<string, AnyFn>();
  private ctx?: vm.Context;
  private readonly modules: Record<string, Record<string, unknown>> = {};
  private readonly moduleHashes = new Map<string, string>();
  private moduleDir?: string;
  private regTimer?: NodeJS.Timeout;
  private mainBeat?: NodeJS.Timeout;
  private lastHeard = Date.now();
  private loop?: Promise<void>;

  constructor(private readonly options: EngineOptions) {
    this.uuid = options.uuid ?? randomUUID();
    this.keys = engineKeysOf(options.keys);
    this.node = options.node ?? hostname();
    this.ended = new Promise((resolve) => (this.endWith = resolve));
    this.registeredP = new Promise((resolve) => (this.registered = resolve));
    this.sock = new zmq.Dealer({
      ...curveClient(this.keys),
      routingId: `e:${this.uuid}`,
      linger: 0,
      sendHighWaterMark: 0,
      receiveHighWaterMark: 0,
    });
    this.out = new Outbox(this.sock);
  }

  async start(): Promise<void> {
    this.sock.connect(this.options.controller);
    this.loop = this.readLoop();
    this.register();
    // resend until welcomed: the controller may start after us or restart
    this.regTimer = setInterval(() => this.register(), 2000);
    const timeoutMs = this.options.registerTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new JobError(
              'EngineRegistrationTimeout',
              `engine could not register with the controller at ${this.options.controller} within ${timeoutMs} ms: ` +
                'check the endpoint, that the controller runs, and that this engine has the cluster keys',
            ),
          ),
        timeoutMs,
      );
    });
    try {
      await Promise.race([this.registeredP, timeout]);
    } catch (error) {
      await this.close();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  private register(): void {
    if (this.closing) return;
    this.out.send([JSON.stringify({ t: 'reg', uuid: this.uuid, node: this.node, pid: process.pid })]);
  }

  private async readLoop(): Promise<void> {
    try {
      for await (const msg of this.sock) this.onMessage(msg);
    } catch {
      // socket closed
    }
  }

  private onMessage(msg: Buffer[]): void {
    this.lastHeard = Date.now();
    const head = parseHeader(msg[0]);
    if (!head) return;
    switch (head.t) {
      case 'run': {
        let offset = 1;
        for (const h of head.k as TaskHead[]) {
          this.q.push({ id: h.i, frames: msg.slice(offset, offset + h.n) });
          offset += h.n;
        }
        this.pump();
        break;
      }
      case 'welcome':
        this.onWelcome(Number(head.id), Number(head.hb), Number(head.lost));
        break;
      case 'unknown':
        this.register();
        break;
      case 'stop':
        void this.end('stopped');
        break;
      default:
        break;
    }
  }

  private onWelcome(id: number, hb: number, lost: number): void {
    this.id = id;
    if (this.regTimer) clearInterval(this.regTimer);
    this.regTimer = undefined;
    if (hb > 0) this.hb = hb;
    if (lost > 0) this.lostBeats = lost;
    if (!this.heart && !this.mainBeat) {
      // The main thread beats until the heart thread is up (it takes a while to start under load), or
      // for good with heart: 'main'.
      this.mainBeat = setInterval(() => {
        this.out.send([JSON.stringify({ t: 'hb', uuid: this.uuid })]);
        if (Date.now() - this.lastHeard > this.lostBeats * this.hb) void this.end('lost');
      }, this.hb);
      if ((this.options.heart ?? 'thread') === 'thread') {
        this.heart = new Heart({
          endpoint: this.options.controller,
          keys: this.keys,
          uuid: this.uuid,
          hb: this.hb,
          lostBeats: this.lostBeats,
          killOnLost: this.options.exitOnLost ?? false,
          onLost: () => void this.end('lost'),
          onUnknown: () => this.register(),
          onAlive: () => {
            if (this.mainBeat) clearInterval(this.mainBeat);
            this.mainBeat = undefined;
          },
        });
      }
    }
    this.registered();
  }

  // ------------------------------------------------------------ execution

  private pump(): void {
    if (this.running) return;
    this.running = true;
    const start = performance.now();
    while (this.q.length > 0) {
      if (this.closing) break;
      const task = this.q.shift()!;
      const pending = this.runOne(task);
      if (pending) {
        void pending.then(this.resume);
        return;
      }
      if (performance.now() - start > SLICE_MS) {
        // let incoming messages and the result flush through
        setImmediate(this.resume);
        return;
      }
    }
    this.running = false;
  }

  private readonly resume = (): void => {
    this.running = false;
    this.pump();
  };

  /** Runs one task; returns a promise only if the task is asynchronous. */
  private runOne(task: QueuedTask): Promise<void> | undefined {
    const started = nowMs();
    let value: unknown;
    try {
      const [bodyFrame, ...buffers] = task.frames;
      if (!bodyFrame) throw new Error('empty task');
      const body = decodeValue(bodyFrame, buffers) as TaskBody;
      value = this.execute(task.id, body);
    } catch (error) {
      this.addResult(task.id, false, started, error);
      return undefined;
    }
    if (isThenable(value)) {
      return Promise.resolve(value).then(
        (v) => this.addResult(task.id, true, started, v),
        (e: unknown) => this.addResult(task.id, false, started, e),
      );
    }
    this.addResult(task.id, true, started, value);
    return undefined;
  }

  private execute(taskId: number, body: TaskBody): unknown {
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
        Int8Array,
        Uint8Array,
        Uint8ClampedArray,
        Int16Array,
        Uint16Array,
        Int32Array,
        Uint32Array,
        Float32Array,
        Float64Array,
        BigInt64Array,
        BigUint64Array,
        require,
        process,
        modules: this.modules,
      });
    }
    return this.ctx;
  }

  private async loadModule(name: string, code: Uint8Array): Promise<null> {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new Error(`invalid module name ${JSON.stringify(name)}`);
    const hash = createHash('sha256').update(code).digest('hex').slice(0, 16);
    if (this.moduleHashes.get(name) === hash) return null;
    this.moduleDir ??= join(tmpdir(), `starcluster-engine-${process.pid}-${this.uuid.slice(0, 8)}`);
    await mkdir(this.moduleDir, { recursive: true, mode: 0o700 });
    const file = join(this.moduleDir, `${name}-${hash}.mjs`);
    await writeFile(file, code, { mode: 0o600 });
    const ns = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    this.modules[name] = ns;
    this.moduleHashes.set(name, hash);
    return null;
  }

  private addResult(id: number, ok: boolean, started: number, value: unknown): void {
    const completed = nowMs();
    let encoded;
    try {
      encoded = encodeValue(ok ? value : toError(value));
    } catch (error) {
      ok = false;
      encoded = encodeValue(toError(error));
    }
    this.results.heads.push({ i: id, n: 1 + encoded.buffers.length, ok, s: started, c: completed });
    this.results.frames.push(encoded.body, ...encoded.buffers);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.results.heads.length === 0) return;
    const { heads, frames } = this.results;
    this.results = { heads: [], frames: [] };
    this.out.send([JSON.stringify({ t: 'res', r: heads }), ...frames]);
  };

  // ------------------------------------------------------------ shutdown

  private async end(why: EngineEnd): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.regTimer) clearInterval(this.regTimer);
    if (this.mainBeat) clearInterval(this.mainBeat);
    if (why === 'closed') {
      this.flush();
      this.out.send(['{"t":"bye"}']);
      await this.out.drain(200);
    }
    await this.heart?.stop();
    this.sock.close();
    await this.loop;
    if (this.moduleDir) await rm(this.moduleDir, { recursive: true, force: true });
    this.endWith(why);
  }

  async close(): Promise<void> {
    await this.end('closed');
    await this.ended;
  }
}

function toError(value: unknown): Error {
  if (value instanceof Error || Object.prototype.toString.call(value) === '[object Error]') return value as Error;
  const err = new Error(typeof value === 'string' ? value : `non-error thrown: ${safeString(value)}`);
  err.name = 'Error';
  return err;
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Starts an engine in this process; resolves once the controller has welcomed it. */
export async function startEngine(options: EngineOptions): Promise<EngineHandle> {
  const engine = new Engine(options);
  await engine.start();
  return engine;
}
