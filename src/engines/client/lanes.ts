import { JobError } from '../../errors.js';
import { type BulkChannel, bulkRandom, connectBulk } from '../protocol/bulk.js';
import type { PeerKeys } from '../protocol/keys.js';
import type { EngineInfo, LaneInfo } from '../protocol/messages.js';
import { nowMs } from '../protocol/messages.js';
import { decodeOrDrop, readMessages } from '../protocol/read-loop.js';
import type { Frames } from '../protocol/sockets.js';
import { endpointHost, isLoopbackHost, Outbox, zmq } from '../protocol/sockets.js';
import type { BulkOffer, LaneToClient, ResultItem, SubmitItem } from '../protocol/wire.js';
import { decodeLaneToClient, encodeClientToLane, unreachable } from '../protocol/wire.js';
import type { TaskMetadata } from './async-result.js';
import { EngineDiedError } from './errors.js';
import type { Submission } from './framing.js';

/** A stand-in for a frame not received yet (placeResult). */
const NO_FRAME = Buffer.alloc(0);

/**
 * Lane routing: which tasks go straight to an engine (its CURVE lane, or the bulk connection keyed
 * on it) instead of through the controller, and the bookkeeping of those in flight. See
 * ClientOptions.lanes; the client owns everything else about a task.
 */

/** A task as sent, kept until its result arrives so that it can be sent again. */
export interface Sent {
  sub: Submission;
  task: SubmitItem<Uint8Array | string>;
}

/** A task in flight on a lane (`bulk`: on its bulk connection). */
export interface LaneSent extends Sent {
  engine: number;
  bulk?: true;
}

/** What lane routing needs of its client. */
export interface LaneHost {
  closed(): boolean;
  engine(id: number): EngineInfo | undefined;
  engines(): EngineInfo[];
  /** Nothing is pending or batched: a task now is a sequential one. */
  idle(): boolean;
  /** A direct task to this engine went through the controller and has not answered. */
  routedDirectTo(engine: number): boolean;
  /** Asks the controller which engine carries this client's sequential tasks (answered: onLease). */
  askLease(): void;
  onResults(results: ResultItem[]): void;
  /** Sends a task through the controller instead. */
  reroute(sent: Sent): void;
  /** Fails a pending task. */
  fail(id: number, error: JobError, meta: Partial<TaskMetadata>): void;
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

export class LaneRouter {
  private readonly lanes = new Map<number, Lane>();
  /** Tasks in flight on a lane: resubmitted or failed if the lane's engine dies. */
  readonly tasks = new Map<number, LaneSent>();
  private lease: number | undefined;
  private leaseState: 'none' | 'asked' | 'unavailable' = 'none';

  constructor(
    private readonly host: LaneHost,
    private readonly keys: PeerKeys,
    private readonly mode: 'auto' | 'on' | 'off',
  ) {}

  /** Sends a task by a lane if it should take one; false: it goes through the controller. */
  trySend(sub: Submission, task: SubmitItem<Uint8Array | string>): boolean {
    const bulk = this.bulkFor(sub, task.frames);
    if (bulk) {
      this.sendBulk(bulk, { engine: bulk.engine, sub, task, bulk: true });
      return true;
    }
    const lane = this.laneFor(sub);
    if (!lane) return false;
    lane.inflight++;
    this.tasks.set(task.id, { engine: lane.engine, sub, task });
    lane.out!.send(encodeClientToLane({ kind: 'submit', tasks: [task] }));
    return true;
  }

  /** A task's result arrived (by whichever way): its lane's count goes down. */
  settled(id: number): void {
    const onLane = this.tasks.get(id);
    if (!onLane) return;
    this.tasks.delete(id);
    const lane = this.lanes.get(onLane.engine);
    if (lane && onLane.bulk) {
      if (lane.bulk && lane.bulk.inflight > 0) lane.bulk.inflight--;
    } else if (lane) lane.inflight--;
  }

  /** The controller's answer to askLease. */
  onLease(engine: number): void {
    this.lease = engine >= 0 && this.host.engine(engine) ? engine : undefined;
    this.leaseState = this.lease === undefined ? 'unavailable' : 'none';
    if (this.lease !== undefined && !this.lanes.has(this.lease)) this.openLane(this.lease);
  }

  /** Engines registered: a lease may be had now. */
  enginesUp(): void {
    if (this.leaseState === 'unavailable') this.leaseState = 'none';
  }

  /**
   * Sends lane aborts for those of `ids` on a lane, and hands `interrupt` the ids of each engine to
   * interrupt (a computing engine reads nothing: its heart, reached through the controller, must);
   * returns the ids that are not on a lane.
   */
  abort(ids: readonly number[], running: boolean, interrupt: (engine: number, ids: number[]) => void): number[] {
    const viaController: number[] = [];
    const viaLane = new Map<number, number[]>();
    for (const id of ids) {
      const onLane = this.tasks.get(id);
      if (onLane) viaLane.set(onLane.engine, [...(viaLane.get(onLane.engine) ?? []), id]);
      else viaController.push(id);
    }
    for (const [engine, list] of viaLane) {
      this.lanes.get(engine)?.out?.send(encodeClientToLane({ kind: 'abort', taskIds: list, running }));
      if (running) interrupt(engine, list);
    }
    return viaController;
  }

  /** The controller restarted (engine ids are new): every lane closes; the tasks on lanes are handed back. */
  reset(): [number, LaneSent][] {
    const onLanes = [...this.tasks];
    this.tasks.clear();
    for (const lane of this.lanes.values()) this.closeLane(lane);
    this.lanes.clear();
    this.lease = undefined;
    this.leaseState = 'none';
    return onLanes;
  }

  /** Every pending task failed: nothing is in flight any more. */
  forgetAll(): void {
    this.tasks.clear();
    for (const lane of this.lanes.values()) {
      lane.inflight = 0;
      if (lane.bulk) {
        lane.bulk.inflight = 0;
        lane.bulk.queue = [];
      }
    }
  }

  async close(): Promise<void> {
    for (const lane of this.lanes.values()) this.closeLane(lane);
    await Promise.all([...this.lanes.values()].map((lane) => lane.loop));
  }

  /**
   * The ready lane this task may take, if any (starting to open one, or asking for a lease, for next
   * time). A task takes a lane only when nothing else is pending, so lanes serve sequential calls
   * and never bypass the scheduler for concurrent work. A direct task also takes its engine's lane
   * while earlier tasks are still on that lane: tasks to one engine run in the order they were sent.
   */
  private laneFor(sub: Submission): Lane | undefined {
    if (this.mode === 'off' || sub.lane === false) return undefined;
    const idle = this.host.idle();
    let engine: number | undefined;
    if (sub.direct) {
      engine = sub.to?.length === 1 ? sub.to[0] : undefined;
      if (engine === undefined) return undefined;
      const lane = this.lanes.get(engine);
      if (lane?.ready && lane.inflight > 0) return lane;
    } else if (!sub.to && !sub.retries && idle) {
      engine = this.lease;
      if (engine === undefined && this.leaseState === 'none') {
        if (this.host.engines().some((e) => this.laneAllowed(e.lane))) {
          this.leaseState = 'asked';
          this.host.askLease();
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
    if (this.mode === 'off' || sub.lane === false || !sub.direct || sub.to?.length !== 1) {
      return undefined;
    }
    const engine = sub.to[0]!;
    const existing = this.lanes.get(engine);
    if (existing?.bulk && existing.bulk.state !== 'failed' && existing.bulk.inflight > 0) return existing;
    let bytes = 0;
    for (const f of payload) if (typeof f !== 'string') bytes += f.byteLength;
    if (bytes < BULK_MIN_BYTES && !sub.bulk) return undefined;
    if (existing && (existing.failed || existing.inflight > 0 || existing.bulk?.state === 'failed')) return undefined;
    if (this.host.routedDirectTo(engine)) return undefined;
    if (!this.laneAllowed(this.host.engine(engine)?.lane)) return undefined;
    const lane = existing ?? this.openLane(engine);
    if (lane.failed) return undefined;
    lane.bulk ??= { state: 'opening', asked: false, queue: [], inflight: 0 };
    this.askBulk(lane);
    return lane;
  }

  private sendBulk(lane: Lane, task: LaneSent & { bulk: true }): void {
    const link = lane.bulk!;
    link.inflight++;
    this.tasks.set(task.task.id, task);
    if (link.state === 'ready') link.channel!.send(encodeClientToLane({ kind: 'submit', tasks: [task.task] }));
    else link.queue.push(task.task.id);
  }

  /** Asks the engine for a bulk session on the CURVE lane (once the lane is welcomed). */
  private askBulk(lane: Lane): void {
    const link = lane.bulk;
    if (!link || link.asked || !lane.ready || this.host.closed()) return;
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
      (first, lens) => this.placeResult(first, lens),
    ).then(
      (channel) => {
        if (link.state !== 'opening' || this.host.closed()) {
          channel.close();
          return;
        }
        link.state = 'ready';
        link.channel = channel;
        link.random = undefined;
        const queued = link.queue;
        link.queue = [];
        for (const id of queued) {
          const t = this.tasks.get(id);
          if (t) channel.send(encodeClientToLane({ kind: 'submit', tasks: [t.task] }));
        }
      },
      () => this.bulkFailed(lane),
    );
  }

  /**
   * Where a bulk message's frames after its header go (BulkChannel's Placement): the result of a task
   * sent with `into` (a gather's part), alone in its message, whose last frames are exactly `into`'s
   * bytes, is received there; anything else in fresh memory.
   */
  private placeResult(first: Buffer, lens: readonly number[]): Buffer[] | undefined {
    let wanted = false;
    for (const t of this.tasks.values()) if (t.sub.into && t.bulk) wanted = true;
    if (!wanted) return undefined;
    // the header decoded as the message will be, with stand-ins for the frames not received yet
    const message = decodeOrDrop(decodeLaneToClient, [first, ...lens.map(() => NO_FRAME)]);
    const item = message?.kind === 'results' && message.results.length === 1 ? message.results[0] : undefined;
    const into = item ? this.tasks.get(item.id)?.sub.into : undefined;
    if (!into || !item!.ok || item!.frames.length !== lens.length) return undefined;
    // the value's body (if not inline) comes first, its bytes last
    let start = lens.length;
    let bytes = 0;
    while (start > 0 && bytes < into.byteLength) bytes += lens[--start]!;
    if (bytes !== into.byteLength) return undefined;
    const out: Buffer[] = lens.slice(0, start).map((n) => Buffer.allocUnsafe(n));
    let at = into.byteOffset;
    for (const n of lens.slice(start)) {
      out.push(Buffer.from(into.buffer, at, n));
      at += n;
    }
    return out;
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
      const t = this.tasks.get(id);
      if (!t) continue;
      this.tasks.delete(id);
      link.inflight--;
      this.host.reroute(t);
    }
  }

  /** The bulk connection closed: tasks on it that have not answered fail (they may have run). */
  private bulkClosed(lane: Lane, error?: Error): void {
    const link = lane.bulk;
    if (!link) return;
    if (link.state === 'opening') return this.bulkFailed(lane);
    // an engine that died: laneEngineDown fails its tasks with EngineDied; a closing client, ClientClosed
    if (!this.host.engine(lane.engine) || this.host.closed()) return;
    link.state = 'failed';
    const now = nowMs();
    for (const [i, t] of this.tasks) {
      if (!t.bulk || t.engine !== lane.engine) continue;
      this.tasks.delete(i);
      const why = error ? `: ${error.message}` : '';
      this.host.fail(
        i,
        new JobError('BulkLaneLost', `task ${i}: the bulk connection to engine ${lane.engine} closed${why}`),
        { engine: lane.engine, received: now },
      );
    }
    link.inflight = 0;
  }

  private laneAllowed(lane: LaneInfo | undefined): lane is LaneInfo {
    if (!lane) return false;
    const mode = this.mode;
    if (mode === 'on') return true;
    const host = endpointHost(lane.endpoint);
    return mode === 'auto' && host !== undefined && isLoopbackHost(host);
  }

  private openLane(engine: number): Lane {
    const lane: Lane = { engine, ready: false, failed: true, inflight: 0 };
    this.lanes.set(engine, lane);
    const info = this.host.engine(engine)?.lane;
    if (!this.laneAllowed(info)) return lane;
    const keys = this.keys;
    const sock = new zmq.Dealer({
      curveServerKey: info.key,
      curvePublicKey: keys.publicKey,
      curveSecretKey: keys.secretKey,
      linger: 0,
      sendHighWaterMark: 0,
      receiveHighWaterMark: 0,
      // never waits (unlimited HWM; the pipe exists from connect on), so zeromq.js need not ask
      // ZMQ_EVENTS before each send (a poll() and a getpid())
      sendTimeout: 0,
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
      if (lane.ready || lane.failed || this.host.closed()) return;
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
        this.host.onResults(message.results);
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
  engineDown(engine: number): void {
    const lane = this.lanes.get(engine);
    if (lane) {
      this.closeLane(lane);
      this.lanes.delete(engine);
    }
    if (this.lease === engine) {
      this.lease = undefined;
      this.leaseState = 'none';
    }
    for (const [i, t] of this.tasks) {
      if (t.engine !== engine) continue;
      this.tasks.delete(i);
      if (t.sub.direct) {
        const message = `engine ${engine} died while running task ${i}`;
        this.host.fail(i, new EngineDiedError(engine, i, message), { engine, received: nowMs() });
      } else this.host.reroute(t);
    }
  }
}
