import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { JobError } from '../../errors.js';
import { encodeValue } from '../protocol/codec.js';
import type { PeerKeys } from '../protocol/keys.js';
import { engineKeysOf } from '../protocol/keys.js';
import { INLINE_BODY_MAX, nowMs } from '../protocol/messages.js';
import { readMessages } from '../protocol/read-loop.js';
import { curveClient, endpointHost, isLoopbackHost, Outbox, zmq } from '../protocol/sockets.js';
import type { ClientToLane, LaneToClientOut, ResultItem, TaskItem } from '../protocol/wire.js';
import { unreachable } from '../protocol/wire.js';
import type { ControllerToEngine, EngineToControllerOut, EngineWelcome } from '../protocol/wire-engine.js';
import { decodeControllerToEngine, encodeEngineToController } from '../protocol/wire-engine.js';
import { isThenable, TaskExecutor } from './executor.js';
import { Heart, INTERRUPT_SLOTS, SigintKeeper } from './heart.js';
import { EngineLane } from './lane.js';
import type { EngineEnd, EngineHandle, EngineOptions } from './options.js';
import { abortedError, toError } from './task-errors.js';
import { beginOutput, captureConsole, endOutput, type TaskOutput } from './output.js';

export type { EngineTaskContext } from './executor.js';

export type { EngineEnd, EngineHandle, EngineOptions } from './options.js';

interface QueuedTask {
  id: number;
  frames: (Buffer | string)[];
  /** The client's routing id on the lane, for a task that came by the lane. */
  lane?: Buffer;
  /** Time limit, ms. */
  timeLimitMs?: number | undefined;
  /** The controller epoch a controller task came in (lane tasks have none). */
  epoch?: string;
  /** What it printed, once started. */
  output?: TaskOutput;
}

type ResultBatch = ResultItem<Uint8Array | string>[];

const SLICE_MS = 5;

export class Engine implements EngineHandle {
  id = -1;
  /** The epoch of the controller that welcomed this engine last. */
  private epoch = '';
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
  private q: QueuedTask[] = [];
  /** Shared with the heart (INTERRUPT_SLOTS), when tasks are interruptible. */
  private readonly interrupts?: BigInt64Array;
  private keeper?: SigintKeeper;
  /** Set while the heart thread starts (tasks wait; see onWelcome). */
  private heartStarting?: NodeJS.Timeout;
  /** The asynchronous task being awaited, and how to abandon it. */
  private current?: { task: QueuedTask; cancel: (error: Error) => void };
  private running = false;
  private results: ResultBatch = [];
  private readonly laneResults = new Map<Buffer, ResultBatch>();
  private lane?: EngineLane;
  private flushScheduled = false;
  /** Inside pump's run of queued tasks (it flushes their results when it ends). */
  private pumping = false;
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
      sendTimeout: 0,
    });
    this.out = new Outbox(this.sock);
    if (options.interruptible && (options.heart ?? 'thread') === 'thread') {
      this.interrupts = new BigInt64Array(new SharedArrayBuffer(INTERRUPT_SLOTS * 8));
      this.interrupts[2] = -1n;
    }
  }

  async start(): Promise<void> {
    captureConsole();
    if (this.interrupts) this.keeper = new SigintKeeper();
    await this.openLane();
    this.sock.connect(this.options.controller);
    this.loop = readMessages(this.sock, decodeControllerToEngine, (message) => this.onMessage(message));
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
    const lane = this.lane ? { lane: this.lane.info } : {};
    const previousId = this.id >= 0 ? { previousId: this.id } : {};
    this.toController({
      kind: 'register',
      registration: { uuid: this.uuid, node: this.node, pid: process.pid, ...lane, ...previousId },
    });
  }

  private toController(message: EngineToControllerOut): void {
    this.out.send(encodeEngineToController(message));
  }

  /** Binds the direct lane (CURVE server with this engine's pair; ZAP admits the clients the controller names). */
  /** Binds the direct lane (CURVE server with this engine's pair; ZAP admits the clients the controller names). */
  private async openLane(): Promise<void> {
    const ctlHost = endpointHost(this.options.controller);
    const loopback = ctlHost !== undefined && isLoopbackHost(ctlHost);
    const host = this.options.lane === undefined ? (loopback ? '127.0.0.1' : undefined) : this.options.lane;
    if (!host) return;
    this.lane = await EngineLane.open(host, this.keys, (route, message, reply) =>
      this.onPeerMessage(route, message, reply),
    );
  }

  /**
   * A message from a lane client, by its CURVE lane or its bulk connection (`route` names which):
   * `[header, ...frames]`. Results go back the way the task came.
   */
  private onPeerMessage(route: Buffer, message: ClientToLane, reply: (message: LaneToClientOut) => void): void {
    if (this.closing) return;
    switch (message.kind) {
      case 'hello':
        if (this.id >= 0) reply({ kind: 'welcome', engine: this.id });
        break;
      case 'submit':
        this.enqueue(message.tasks, { lane: route });
        break;
      case 'abort':
        this.abort(message.taskIds, route, message.running);
        break;
      case 'bulk':
        // a bulk session, asked for on the CURVE lane only (the client's key was admitted by ZAP)
        {
          const offer = this.lane?.offerBulk(route, message.random);
          if (offer) reply({ kind: 'bulk', offer });
        }
        break;
      default:
        unreachable(message);
    }
  }

  /** Queues tasks from the controller (with its epoch) or a lane client (with its route). */
  private enqueue(tasks: TaskItem[], from: { lane: Buffer } | { epoch: string }): void {
    const lane = 'lane' in from ? from.lane : undefined;
    const epoch = 'epoch' in from ? from.epoch : undefined;
    for (const t of tasks) {
      const frames: (Buffer | string)[] = t.frames;
      if (t.body !== undefined) frames.unshift(t.body);
      const task: QueuedTask = { id: t.id, frames, timeLimitMs: t.timeLimitMs };
      if (lane) task.lane = lane;
      else task.epoch = epoch!;
      this.q.push(task);
    }
    this.pump();
  }

  private onMessage(message: ControllerToEngine): void {
    this.lastHeard = Date.now();
    switch (message.kind) {
      case 'run':
        this.enqueue(message.tasks, { epoch: this.epoch });
        break;
      case 'abort':
        this.abort(message.taskIds, undefined, message.running);
        break;
      case 'welcome':
        this.onWelcome(message.welcome);
        break;
      case 'unknown':
        this.register();
        break;
      case 'stop':
        void this.end('stopped');
        break;
      case 'beat':
      case 'interrupt': // the heart's to act on
        break;
      default:
        unreachable(message);
    }
  }

  private onWelcome(welcome: EngineWelcome): void {
    const { id, heartbeatMs: hb, lostBeats: lost, epoch, heartbeatEndpoint: hbe } = welcome;
    this.id = id;
    if (hbe && this.heart) this.heart.heartbeatEndpoint(hbe);
    if (epoch !== this.epoch) {
      // A new controller (it restarted): the tasks the old one sent are its no more; drop those
      // not started, and the result of one running now (addResult checks the epoch).
      this.epoch = epoch;
      this.q = this.q.filter((t) => t.lane !== undefined);
    }
    if (this.lane && welcome.laneClients) this.lane.allowClients(welcome.laneClients);
    this.executor.id = id;
    if (this.regTimer) clearInterval(this.regTimer);
    this.regTimer = undefined;
    if (hb > 0) this.hb = hb;
    if (lost > 0) this.lostBeats = lost;
    if (!this.heart && !this.mainBeat) {
      // The main thread beats until the heart thread is up (it takes a while to start under load), or
      // for good with heart: 'main'.
      this.mainBeat = setInterval(() => {
        this.toController({ kind: 'beat', uuid: this.uuid });
        if (Date.now() - this.lastHeard > this.lostBeats * this.hb) void this.end('lost');
      }, this.hb);
      if ((this.options.heart ?? 'thread') === 'thread') this.startHeart(hbe);
    }
    this.registered();
  }

  private startHeart(hbe: string | undefined): void {
    // Tasks wait until the heart beats: one that computes from the start would otherwise silence
    // the main thread's beats before the heart takes over, and the engine would look dead.
    this.heartStarting = setTimeout(() => this.heartUp(), HEART_START_MAX_MS);
    this.heartStarting.unref();
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
        this.heartUp();
      },
      ...(this.interrupts ? { interrupts: this.interrupts.buffer as SharedArrayBuffer } : {}),
      ...(hbe ? { hbEndpoint: hbe } : {}),
    });
  }

  // ------------------------------------------------------------ execution

  /**
   * Drops queued (not started) tasks with these ids — the controller's, or a lane client's — failing
   * them with TaskAborted; with `running`, also abandons the asynchronous task being awaited if it is
   * one of them (a computing task is the heart's to interrupt: this thread is busy with it).
   */
  private abort(ids: number[], lane?: Buffer, running = false): void {
    const wanted = new Set(ids);
    const now = nowMs();
    const mine = (task: QueuedTask): boolean =>
      wanted.has(task.id) && (lane ? task.lane?.equals(lane) === true : task.lane === undefined);
    if (running && this.current && mine(this.current.task)) this.current.cancel(abortedError(true));
    this.q = this.q.filter((task) => {
      if (!mine(task)) return true;
      this.addResult(task, false, now, abortedError(false));
      return false;
    });
  }

  private heartUp(): void {
    if (!this.heartStarting) return;
    clearTimeout(this.heartStarting);
    this.heartStarting = undefined;
    this.pump();
  }

  private pump(): void {
    if (this.running || this.heartStarting) return;
    this.running = true;
    this.pumping = true;
    try {
      this.runQueued();
    } finally {
      this.pumping = false;
    }
    // Results go out now, before the read loop waits for the next message (a microtask would run after it).
    this.flush();
  }

  private runQueued(): void {
    const start = performance.now();
    while (this.q.length > 0) {
      if (this.closing) break;
      const task = this.q.shift()!;
      const pending = this.runOne(task);
      if (pending) {
        void pending.then(this.resume);
        return;
      }
      if (this.q.length > 0 && performance.now() - start > SLICE_MS) {
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
    const slots = this.interrupts;
    let value: unknown;
    task.output = beginOutput();
    if (slots) {
      Atomics.store(slots, 0, BigInt(task.id));
      Atomics.store(slots, 1, task.lane ? 3n : 1n);
    }
    try {
      value = this.executor.run(task.id, task.frames, {
        limitMs: task.timeLimitMs,
        interruptible: slots !== undefined,
      });
    } catch (error) {
      if (slots && (error as { code?: unknown }).code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED') {
        const target = Atomics.exchange(slots, 2, -1n);
        if (target !== BigInt(task.id)) {
          // a SIGINT meant for a task that had just finished: run this one again
          endOutput(task.output);
          this.q.unshift(task);
          return undefined;
        }
        this.addResult(task, false, started, abortedError(true));
        return undefined;
      }
      this.addResult(task, false, started, error);
      return undefined;
    } finally {
      if (slots) Atomics.store(slots, 1, 0n);
    }
    if (isThenable(value)) {
      return new Promise<void>((resolve) => {
        let settled = false;
        const finish = (ok: boolean, v: unknown): void => {
          if (settled) return;
          settled = true;
          if (this.current?.task === task) this.current = undefined;
          this.addResult(task, ok, started, v);
          resolve();
        };
        this.current = { task, cancel: (e) => finish(false, e) };
        value.then(
          (v) => finish(true, v),
          (e: unknown) => finish(false, e),
        );
      });
    }
    this.addResult(task, true, started, value);
    return undefined;
  }

  private addResult(task: QueuedTask, ok: boolean, started: number, value: unknown): void {
    endOutput(task.output);
    if (task.lane === undefined && task.epoch !== this.epoch) return; // for a controller that has restarted since
    const id = task.id;
    const completed = nowMs();
    let encoded;
    try {
      encoded = encodeValue(ok ? value : toError(value));
    } catch (error) {
      ok = false;
      encoded = encodeValue(toError(error));
    }
    let batch = this.results;
    if (task.lane) {
      batch = this.laneResults.get(task.lane) ?? [];
      this.laneResults.set(task.lane, batch);
    }
    const inline = encoded.body.length <= INLINE_BODY_MAX;
    const result: ResultItem<Uint8Array | string> = {
      id,
      ok,
      started,
      completed,
      frames: inline ? encoded.buffers : [encoded.body, ...encoded.buffers],
    };
    if (inline) result.body = encoded.body;
    if (task.lane) result.engine = this.id;
    if (task.output?.out) result.stdout = task.output.out;
    if (task.output?.err) result.stderr = task.output.err;
    batch.push(result);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // within pump, which flushes when its run ends; else (an asynchronous task settled) soon
      if (!this.pumping) queueMicrotask(this.flush);
    }
  }

  private readonly flush = (): void => {
    if (!this.flushScheduled) return;
    this.flushScheduled = false;
    if (this.results.length > 0) {
      const results = this.results;
      this.results = [];
      this.toController({ kind: 'results', results });
    }
    if (this.laneResults.size > 0 && this.lane) {
      for (const [route, results] of this.laneResults) this.lane.sendResults(route, results);
      this.laneResults.clear();
    }
  };

  // ------------------------------------------------------------ shutdown

  private async end(why: EngineEnd): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.regTimer) clearInterval(this.regTimer);
    if (this.mainBeat) clearInterval(this.mainBeat);
    if (this.heartStarting) clearTimeout(this.heartStarting);
    if (why === 'closed') {
      this.flush();
      this.toController({ kind: 'bye' });
      await this.out.drain(200);
    }
    await this.heart?.stop();
    await this.keeper?.stop();
    this.sock.close();
    await this.loop;
    await this.lane?.close(why === 'closed');
    await this.executor.dispose();
    this.endWith(why);
  }

  async close(): Promise<void> {
    await this.end('closed');
    await this.ended;
  }
}

/** The longest tasks wait for the heart thread to start beating. */
const HEART_START_MAX_MS = 10_000;

/** Starts an engine in this process; resolves once the controller has welcomed it. */
export async function startEngine(options: EngineOptions): Promise<EngineHandle> {
  const engine = new Engine(options);
  await engine.start();
  return engine;
}
