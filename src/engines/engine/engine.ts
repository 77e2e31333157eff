import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { JobError } from '../../errors.js';
import { BulkServer, type BulkChannel } from '../protocol/bulk.js';
import { encodeValue } from '../protocol/codec.js';
import type { ClusterKeys, PeerKeys } from '../protocol/keys.js';
import { engineKeysOf } from '../protocol/keys.js';
import type { LaneInfo } from '../protocol/messages.js';
import { INLINE_BODY_MAX, INTERRUPTED_MESSAGE, nowMs } from '../protocol/messages.js';
import type { ClientToLane, LaneToClientOut, ResultItem, TaskItem } from '../protocol/wire.js';
import { decodeOrDrop, readMessages, readRoutedMessages } from '../protocol/read-loop.js';
import { decodeClientToLane, encodeLaneToClient, unreachable } from '../protocol/wire.js';
import type { ControllerToEngine, EngineToControllerOut, EngineWelcome } from '../protocol/wire-engine.js';
import { decodeControllerToEngine, encodeEngineToController } from '../protocol/wire-engine.js';
import {
  curveClient,
  curveServer,
  endpointHost,
  isLoopbackHost,
  Outbox,
  tcpEndpoint,
  ZapHandler,
  zmq,
} from '../protocol/sockets.js';
import { isThenable, TaskExecutor } from './executor.js';
import { Heart, INTERRUPT_SLOTS, SigintKeeper } from './heart.js';
import { beginOutput, captureConsole, endOutput, type TaskOutput } from './output.js';

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
  /**
   * Where to bind the engine's direct lane (see LaneInfo): a private IP of this node, or `false` for
   * none. Default: 127.0.0.1 when the controller is on loopback (a local cluster), else none.
   */
  lane?: string | false;
  /**
   * Running tasks can be interrupted (AsyncResult.abort({ running: true })): the heart thread stops a
   * computing task with SIGINT (so SIGINT no longer ends the process; SIGTERM does), and an
   * asynchronous one is abandoned. Engine processes (engine/main.ts) turn it on; it needs the thread heart.
   */
  interruptible?: boolean;
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
  private laneResults = new Map<Buffer, ResultBatch>();
  private lane?: {
    info: LaneInfo;
    context: zmq.Context;
    zap: ZapHandler;
    sock: zmq.Router;
    out: Outbox;
    loop: Promise<void>;
    /** The bulk data lane (AES-256-GCM over TCP; see protocol/bulk.ts), keyed through this CURVE lane. */
    bulk?: BulkServer;
  };
  /** Open bulk connections by route (`bulk:<session>`). */
  private readonly bulkChannels = new Map<string, BulkChannel>();
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
  private async openLane(): Promise<void> {
    const ctlHost = endpointHost(this.options.controller);
    const host =
      this.options.lane === undefined
        ? ctlHost && isLoopbackHost(ctlHost)
          ? '127.0.0.1'
          : undefined
        : this.options.lane;
    if (!host) return;
    const context = new zmq.Context();
    const zap = new ZapHandler(context, { lane: [] });
    const sock = new zmq.Router({
      context,
      linger: 0,
      sendHighWaterMark: 0,
      receiveHighWaterMark: 0,
      mandatory: true,
      ...curveServer(this.keys.secretKey, 'lane'),
    });
    try {
      await sock.bind(tcpEndpoint(host));
    } catch (error) {
      sock.close();
      await zap.close();
      throw new JobError('LaneBindFailed', `engine cannot bind its lane on ${host}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const info: LaneInfo = { endpoint: sock.lastEndpoint ?? '', key: this.keys.publicKey };
    const out = new Outbox(sock);
    const bulk = new BulkServer(
      (route, channel) => {
        this.bulkChannels.set(route.toString('latin1'), channel);
        return (frames) => {
          const message = decodeOrDrop(decodeClientToLane, frames);
          if (message) this.onPeerMessage(route, message, (reply) => channel.send(encodeLaneToClient(reply)));
        };
      },
      (route) => this.bulkChannels.delete(route.toString('latin1')),
    );
    try {
      await bulk.listen(host);
    } catch (error) {
      sock.close();
      await zap.close();
      throw new JobError('LaneBindFailed', `engine cannot bind its bulk lane on ${host}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.lane = { info, context, zap, sock, out, loop: Promise.resolve(), bulk };
    this.lane.loop = readRoutedMessages(sock, decodeClientToLane, (message, route) =>
      this.onPeerMessage(route, message, (reply) => out.send([route, ...encodeLaneToClient(reply)])),
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
        if (this.lane?.bulk && !route.toString('latin1').startsWith('bulk:')) {
          const { s, r, ep } = this.lane.bulk.offer(message.random);
          reply({ kind: 'bulk', offer: { session: s, random: r, endpoint: ep } });
        }
        break;
      default:
        unreachable(message);
    }
  }

  /** Queues tasks from the controller (with its epoch) or a lane client (with its route). */
  private enqueue(tasks: TaskItem[], from: { lane: Buffer } | { epoch: string }): void {
    for (const t of tasks) {
      const frames: (Buffer | string)[] = t.frames;
      if (t.body !== undefined) frames.unshift(t.body);
      this.q.push({ id: t.id, frames, timeLimitMs: t.timeLimitMs, ...from });
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
    if (this.lane && welcome.laneClients) this.lane.zap.allow('lane', welcome.laneClients);
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
      queueMicrotask(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.results.length > 0) {
      const results = this.results;
      this.results = [];
      this.toController({ kind: 'results', results });
    }
    if (this.laneResults.size > 0 && this.lane) {
      for (const [route, results] of this.laneResults) {
        const message = encodeLaneToClient({ kind: 'results', results });
        const bulk = this.bulkChannels.get(route.toString('latin1'));
        if (bulk) bulk.send(message);
        else if (!route.toString('latin1').startsWith('bulk:')) this.lane.out.send([route, ...message]);
      }
      this.laneResults = new Map();
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
    if (this.lane) {
      if (why === 'closed') await this.lane.out.drain(200);
      this.lane.sock.close();
      await this.lane.loop;
      await this.lane.zap.close();
      await this.lane.bulk?.close();
    }
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

function abortedError(running: boolean): Error {
  const err = new Error(running ? INTERRUPTED_MESSAGE : 'aborted before it started');
  err.name = 'TaskAborted';
  return err;
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
