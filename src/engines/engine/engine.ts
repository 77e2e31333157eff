import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { JobError } from '../../errors.js';
import { encodeValue } from '../protocol/codec.js';
import type { ClusterKeys, PeerKeys } from '../protocol/keys.js';
import { engineKeysOf } from '../protocol/keys.js';
import type { ResultHead, TaskHead } from '../protocol/messages.js';
import { INLINE_BODY_MAX, nowMs, parseHeader } from '../protocol/messages.js';
import type { Frames } from '../protocol/sockets.js';
import { curveClient, Outbox, zmq } from '../protocol/sockets.js';
import { isThenable, TaskExecutor } from './executor.js';
import { Heart } from './heart.js';

export type { EngineTaskContext } from './executor.js';

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

interface QueuedTask {
  id: number;
  frames: (Buffer | string)[];
}

const SLICE_MS = 5;

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
  private readonly executor = new TaskExecutor('engine');
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
          const frames: (Buffer | string)[] = msg.slice(offset, offset + h.n);
          if (typeof h.b === 'string') frames.unshift(h.b);
          this.q.push({ id: h.i, frames });
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
    this.executor.id = id;
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
      value = this.executor.run(task.id, task.frames);
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

  private addResult(id: number, ok: boolean, started: number, value: unknown): void {
    const completed = nowMs();
    let encoded;
    try {
      encoded = encodeValue(ok ? value : toError(value));
    } catch (error) {
      ok = false;
      encoded = encodeValue(toError(error));
    }
    if (encoded.body.length <= INLINE_BODY_MAX) {
      this.results.heads.push({ i: id, n: encoded.buffers.length, ok, s: started, c: completed, b: encoded.body });
      for (const b of encoded.buffers) this.results.frames.push(b);
    } else {
      this.results.heads.push({ i: id, n: 1 + encoded.buffers.length, ok, s: started, c: completed });
      this.results.frames.push(encoded.body, ...encoded.buffers);
    }
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
    await this.executor.dispose();
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
