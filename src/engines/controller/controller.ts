import { randomBytes } from 'node:crypto';
import { systemClock } from '../../clock.js';
import { JobError } from '../../errors.js';
import { controllerKeysOf } from '../protocol/keys.js';
import type { EngineInfo, QueueStatus } from '../protocol/messages.js';
import type { Frames } from '../protocol/sockets.js';
import { curveServer, Outbox, tcpEndpoint, ZapHandler, zmq } from '../protocol/sockets.js';
import type { ControllerToClientOut } from '../protocol/wire.js';
import { readRoutedMessages } from '../protocol/read-loop.js';
import { decodeClientToController, encodeControllerToClient, unreachable } from '../protocol/wire.js';
import type { ControllerToEngineOut, EngineToController, Registration } from '../protocol/wire-engine.js';
import { decodeEngineToController, encodeControllerToEngine } from '../protocol/wire-engine.js';
import { ClientDesk } from './clients.js';
import type { ControllerHandle, ControllerOptions, ControllerStats, HighWaterMark } from './options.js';
import type { EngineRec } from './records.js';
import { Scheduler } from './scheduler.js';
import type { Scheme } from './schedulers.js';
import { DEFAULT_SCHEME, isScheme } from './schedulers.js';

export type { ControllerHandle, ControllerOptions, ControllerStats, HighWaterMark } from './options.js';
export { AUTO_MAX, AUTO_WINDOW_MS } from './options.js';

/**
 * The hub (ipyparallel's Hub and schedulers in one process): engines register and beat here, clients
 * submit here. Scheduling is the Scheduler's (scheduler.ts), clients' requests the ClientDesk's
 * (clients.ts); this class owns the sockets, the engines' registry and their heartbeats.
 */
export class Controller implements ControllerHandle {
  readonly scheme: Scheme;
  clientEndpoint = '';
  engineEndpoint = '';
  heartbeatEndpoint = '';

  private readonly context = new zmq.Context();
  private readonly zap: ZapHandler;
  private readonly clientSock: zmq.Router;
  private readonly engineSock: zmq.Router;
  private readonly clientOut: Outbox;
  private readonly engineOut: Outbox;
  /** The heartbeat socket, in a context (I/O thread) of its own with its own ZAP handler. */
  private readonly hbContext = new zmq.Context();
  private readonly hbZap: ZapHandler;
  private readonly hbSock: zmq.Router;
  private readonly hbOut: Outbox;
  private readonly hb: number;
  private readonly deadAfter: number;
  private readonly lostBeats: number;
  private readonly clientKeys: string[];

  private readonly engineRecs = new Map<number, EngineRec>();
  private readonly byRoute = new Map<string, EngineRec>();
  private readonly byUuid = new Map<string, EngineRec>();
  private readonly byHeart = new Map<string, EngineRec>();
  private readonly scheduler: Scheduler;
  private readonly desk: ClientDesk;
  /**
   * This controller's epoch, sent in welcomes and pongs: a client or engine that sees it change knows
   * the controller restarted and forgot its tasks.
   */
  readonly epoch = randomBytes(6).toString('hex');
  private readonly pong: Frames;
  private nextEngineId = 0;
  private closed = false;
  private beatTimer?: NodeJS.Timeout;
  private lastRound = Date.now();
  private readonly loops: Promise<void>[] = [];
  private readonly waiters = new Set<() => void>();
  private rejectedMessages = 0;

  constructor(private readonly options: ControllerOptions) {
    const host = options.host;
    if (!options.allowAnyInterface && (host === '0.0.0.0' || host === '*' || host === '::' || host === '')) {
      throw new JobError(
        'UnsafeBindAddress',
        `refusing to bind the controller on ${JSON.stringify(host)}: give the node's private IP or 127.0.0.1`,
      );
    }
    const scheme = options.scheme ?? DEFAULT_SCHEME;
    if (!isScheme(scheme)) {
      throw new JobError(
        'UnknownScheme',
        `unknown scheduler scheme ${JSON.stringify(scheme)}: use lru, plainrandom, twobin, leastload or weighted`,
      );
    }
    this.scheme = scheme;
    this.hb = options.heartbeatMs ?? 500;
    this.deadAfter = options.deadAfterBeats ?? 3;
    this.lostBeats = options.engineLostBeats ?? 10;
    const hwm: HighWaterMark = options.hwm ?? 'auto';
    if (hwm !== 'auto' && !(Number.isInteger(hwm) && hwm >= 0)) {
      throw new JobError('InvalidHwm', `hwm must be 'auto' or an integer ≥ 0, got ${String(hwm)}`);
    }
    this.scheduler = new Scheduler(this.schedulerHost(), {
      scheme,
      hwm,
      deathRetries: options.deathRetries ?? 3,
      random: options.random,
    });
    this.desk = new ClientDesk(this.deskHost());
    const keys = controllerKeysOf(options.keys);
    this.clientKeys = keys.clientPublicKeys;
    this.pong = encodeControllerToClient({ kind: 'pong', epoch: this.epoch });
    this.zap = new ZapHandler(this.context, { client: keys.clientPublicKeys, engine: keys.enginePublicKeys });
    const common = { context: this.context, linger: 0, sendHighWaterMark: 0, receiveHighWaterMark: 0, sendTimeout: 0 };
    this.clientSock = new zmq.Router({ ...common, ...curveServer(keys.server.secretKey, 'client'), mandatory: true });
    this.engineSock = new zmq.Router({
      ...common,
      ...curveServer(keys.server.secretKey, 'engine'),
      mandatory: true,
      handover: true,
    });
    this.clientOut = new Outbox(this.clientSock);
    this.engineOut = new Outbox(this.engineSock);
    this.hbZap = new ZapHandler(this.hbContext, { engine: keys.enginePublicKeys });
    this.hbSock = new zmq.Router({
      context: this.hbContext,
      linger: 0,
      mandatory: true,
      ...curveServer(keys.server.secretKey, 'engine'),
    });
    this.hbOut = new Outbox(this.hbSock);
  }

  private schedulerHost(): ConstructorParameters<typeof Scheduler>[0] {
    return {
      engineRecs: this.engineRecs,
      clients: () => this.desk.clients.values(),
      closed: () => this.closed,
      sendRun: (rec, tasks) => this.toEngine(rec.route, { kind: 'run', tasks }),
      sendResults: (client, results) => this.toClient(client.route, { kind: 'results', results }),
    };
  }

  private deskHost(): ConstructorParameters<typeof ClientDesk>[0] {
    return {
      engineRecs: this.engineRecs,
      scheduler: this.scheduler,
      welcome: { scheme: this.scheme, heartbeatMs: this.hb, epoch: this.epoch },
      engines: () => this.engines(),
      queueStatus: () => this.queueStatus(),
      toClient: (route, message) => this.toClient(route, message),
      pong: (route) => this.clientOut.send([route, ...this.pong]),
      interruptOn: (rec, ids, lane) => this.interruptOn(rec, ids, lane),
      abortOn: (rec, ids, running) => this.toEngine(rec.route, { kind: 'abort', taskIds: ids, running }),
    };
  }

  async start(): Promise<void> {
    const { host } = this.options;
    try {
      await this.engineSock.bind(tcpEndpoint(host, this.options.enginePort ?? 0));
      await this.clientSock.bind(tcpEndpoint(host, this.options.port ?? 0));
      await this.hbSock.bind(tcpEndpoint(host, this.options.heartbeatPort ?? 0));
    } catch (error) {
      await this.close();
      throw new JobError('ControllerBindFailed', `cannot bind the controller on ${host}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.engineEndpoint = this.engineSock.lastEndpoint ?? '';
    this.clientEndpoint = this.clientSock.lastEndpoint ?? '';
    this.heartbeatEndpoint = this.hbSock.lastEndpoint ?? '';
    const rejected = (): void => void this.rejectedMessages++;
    // Batches go out at the end of each message handled (flush), before the loop waits for the next.
    this.loops.push(
      readRoutedMessages(
        this.engineSock,
        decodeEngineToController,
        (m, route) => {
          this.onEngineMessage(m, route);
          this.scheduler.flush();
        },
        rejected,
      ),
      readRoutedMessages(
        this.clientSock,
        decodeClientToController,
        (m, route) => {
          this.desk.onMessage(m, route);
          this.scheduler.flush();
        },
        rejected,
      ),
      readRoutedMessages(
        this.hbSock,
        decodeEngineToController,
        (m, route) => {
          if (m.kind === 'beat') this.onBeat(route, `h:${route.toString('latin1')}`, m.uuid, undefined, this.hbOut);
        },
        rejected,
      ),
    );
    this.beatTimer = setInterval(() => this.beatRound(), this.hb);
    this.beatTimer.unref?.();
  }

  engines(): EngineInfo[] {
    return [...this.engineRecs.values()].map((e) => e.info).sort((a, b) => a.id - b.id);
  }

  queueStatus(): QueueStatus {
    return {
      engines: [...this.engineRecs.values()]
        .map((r) => ({ id: r.info.id, node: r.info.node, queue: r.outstanding.size, completed: r.completed }))
        .sort((a, b) => a.id - b.id),
      unassigned: this.scheduler.waiting,
    };
  }

  stats(): ControllerStats {
    let running = 0;
    for (const e of this.engineRecs.values()) running += e.outstanding.size;
    return {
      engines: this.engineRecs.size,
      queued: this.scheduler.waiting,
      running,
      ...this.scheduler.counters,
      rejectedMessages: this.rejectedMessages,
      zap: {
        ...this.zap.stats,
        admitted: this.zap.stats.admitted + this.hbZap.stats.admitted,
        rejected: this.zap.stats.rejected + this.hbZap.stats.rejected,
      },
    };
  }
  waitForEngines(n: number, timeoutMs = 30_000): Promise<EngineInfo[]> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (this.engineRecs.size >= n) {
          this.waiters.delete(check);
          clearTimeout(timer);
          resolve(this.engines());
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(
          new JobError(
            'EnginesTimeout',
            `only ${this.engineRecs.size} of ${n} engines registered within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      if (!check()) this.waiters.add(check);
    });
  }

  async close(options: { stopEngines?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    if (options.stopEngines) {
      const clock = this.options.clock ?? systemClock;
      for (const e of this.engineRecs.values()) this.toEngine(e.route, { kind: 'stop' });
      await this.engineOut.drain(500, clock);
      // give the I/O thread a moment to put the stop messages on the wire
      await clock.sleep(20);
    }
    this.closed = true;
    if (this.beatTimer) clearInterval(this.beatTimer);
    this.clientSock.close();
    this.engineSock.close();
    this.hbSock.close();
    await Promise.allSettled(this.loops);
    await this.zap.close();
    await this.hbZap.close();
  }

  // ---------------------------------------------------------------- engines

  private onEngineMessage(message: EngineToController, route: Buffer): void {
    const key = route.toString('latin1');
    const rec = this.byRoute.get(key);
    if (rec) rec.seen = true;
    switch (message.kind) {
      case 'results':
        this.scheduler.onResults(rec, message.results);
        break;
      case 'beat':
        this.onBeat(route, `e:${key}`, message.uuid, rec, this.engineOut);
        break;
      case 'register':
        this.onRegister(route, message.registration);
        break;
      case 'bye':
        if (rec) this.removeEngine(rec, 'it shut down');
        break;
      default:
        unreachable(message);
    }
  }

  private toEngine(route: Buffer, message: ControllerToEngineOut): void {
    this.engineOut.send([route, ...encodeControllerToEngine(message)]);
  }

  private toClient(route: Buffer, message: ControllerToClientOut): void {
    this.clientOut.send([route, ...encodeControllerToClient(message)]);
  }

  /**
   * A beat, on the engine port (`e:` keys: an engine's main socket or its heart) or the heartbeat port
   * (`h:` keys). Answered on the socket it came by; a beat from an engine not registered gets 'unknown'.
   */
  private onBeat(route: Buffer, key: string, uuid: string | undefined, rec: EngineRec | undefined, out: Outbox): void {
    const beating = rec ?? this.byHeart.get(key) ?? (uuid === undefined ? undefined : this.byUuid.get(uuid));
    if (beating) {
      beating.seen = true;
      if (!rec && beating.heart?.key !== key) {
        if (beating.heart) this.byHeart.delete(beating.heart.key);
        beating.heart = { route, out, key };
        this.byHeart.set(key, beating);
      }
      out.send([route, ...encodeControllerToEngine({ kind: 'beat' })]);
    } else {
      out.send([route, ...encodeControllerToEngine({ kind: 'unknown' })]);
    }
  }

  private onRegister(route: Buffer, reg: Registration): void {
    let rec = this.byUuid.get(reg.uuid);
    if (rec) {
      // the same engine again (it reconnected): keep its id and its tasks
      this.byRoute.delete(rec.route.toString('latin1'));
      rec.route = route;
      this.byRoute.set(route.toString('latin1'), rec);
    } else {
      // An engine back after a controller restart keeps its id if no other engine has it.
      const prior = reg.previousId;
      const id = prior !== undefined && !this.engineRecs.has(prior) ? prior : this.nextEngineId;
      while (this.engineRecs.has(this.nextEngineId) || this.nextEngineId <= id) this.nextEngineId++;
      const info: EngineInfo = { id, uuid: reg.uuid, node: reg.node, pid: reg.pid, registered: Date.now() };
      if (reg.lane) info.lane = reg.lane;
      rec = {
        info,
        route,
        outstanding: new Map(),
        seen: true,
        misses: 0,
        limit: this.scheduler.initialLimit(),
        leases: 0,
        completed: 0,
      };
      this.engineRecs.set(info.id, rec);
      this.byRoute.set(route.toString('latin1'), rec);
      this.byUuid.set(reg.uuid, rec);
      this.scheduler.lru.add(info.id);
    }
    this.toEngine(route, {
      kind: 'welcome',
      welcome: {
        id: rec.info.id,
        heartbeatMs: this.hb,
        lostBeats: this.lostBeats,
        epoch: this.epoch,
        heartbeatEndpoint: this.heartbeatEndpoint,
        ...(rec.info.lane ? { laneClients: this.clientKeys } : {}),
      },
    });
    this.desk.loadModulesOn(rec);
    this.broadcast({ kind: 'engines', up: [rec.info], down: [] });
    for (const w of [...this.waiters]) w();
    this.scheduler.dispatch();
  }

  private removeEngine(rec: EngineRec, why: string): void {
    if (!this.engineRecs.has(rec.info.id)) return;
    this.engineRecs.delete(rec.info.id);
    this.byRoute.delete(rec.route.toString('latin1'));
    this.byUuid.delete(rec.info.uuid);
    if (rec.heart) this.byHeart.delete(rec.heart.key);
    this.scheduler.engineGone(rec, why);
    this.desk.engineGone(rec.info.id);
    this.broadcast({ kind: 'engines', up: [], down: [rec.info.id] });
    this.scheduler.dispatch();
  }

  private beatRound(): void {
    const now = Date.now();
    const late = now - this.lastRound > 2 * this.hb;
    this.lastRound = now;
    for (const rec of [...this.engineRecs.values()]) {
      if (rec.seen) rec.misses = 0;
      // a round that fires late (a blocked event loop) proves nothing about the engines
      else if (!late && ++rec.misses >= this.deadAfter) {
        this.removeEngine(rec, `no heartbeat for ${rec.misses} beats of ${this.hb} ms`);
        continue;
      }
      rec.seen = false;
    }
  }

  /** Asks an engine's heart thread to interrupt whichever of these tasks it is computing (lane: the client's ids). */
  private interruptOn(rec: EngineRec, ids: number[], lane: boolean): void {
    if (rec.heart) {
      rec.heart.out.send([rec.heart.route, ...encodeControllerToEngine({ kind: 'interrupt', taskIds: ids, lane })]);
    }
  }

  private broadcast(message: ControllerToClientOut): void {
    const frames = encodeControllerToClient(message);
    for (const c of this.desk.clients.values()) if (!c.gone) this.clientOut.send([c.route, ...frames]);
  }
}

/** Starts a controller: binds its client and engine ports (CURVE + ZAP) and starts heartbeats. */
export async function startController(options: ControllerOptions): Promise<ControllerHandle> {
  const controller = new Controller(options);
  await controller.start();
  return controller;
}
