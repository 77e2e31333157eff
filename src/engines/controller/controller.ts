import { randomBytes, randomInt } from 'node:crypto';
import { JobError } from '../../errors.js';
import { encodeValue } from '../protocol/codec.js';
import { controllerKeysOf } from '../protocol/keys.js';
import type { EngineInfo, QueueStatus } from '../protocol/messages.js';
import { nowMs, TaskKind } from '../protocol/messages.js';
import type { Frames } from '../protocol/sockets.js';
import { curveServer, Outbox, tcpEndpoint, ZapHandler, zmq } from '../protocol/sockets.js';
import type {
  ClientToController,
  ControllerToClientOut,
  ModuleError,
  ResultItem,
  SubmitItem,
} from '../protocol/wire.js';
import { readRoutedMessages } from '../protocol/read-loop.js';
import { decodeClientToController, encodeControllerToClient, unreachable } from '../protocol/wire.js';
import type { ControllerToEngineOut, EngineToController, Registration } from '../protocol/wire-engine.js';
import { decodeEngineToController, encodeControllerToEngine } from '../protocol/wire-engine.js';
import type { Random, Scheme } from './schedulers.js';
import type { ControllerHandle, ControllerOptions, ControllerStats, HighWaterMark } from './options.js';
import { AUTO_MAX, AUTO_WINDOW_MS } from './options.js';
import type { ClientRec, EngineRec, TaskRec } from './records.js';
import { errorBody, messageOf, Queue } from './records.js';
import { DEFAULT_SCHEME, isScheme, LruLoads, SCHEME_FUNCTIONS } from './schedulers.js';

export type { ControllerHandle, ControllerOptions, ControllerStats, HighWaterMark } from './options.js';
export { AUTO_MAX, AUTO_WINDOW_MS } from './options.js';

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
  private readonly deathRetries: number;
  private readonly hwm: HighWaterMark;
  private readonly random: Random | undefined;
  private readonly schemeFn;
  private readonly clientKeys: string[];

  private readonly engineRecs = new Map<number, EngineRec>();
  private readonly byRoute = new Map<string, EngineRec>();
  private readonly byUuid = new Map<string, EngineRec>();
  private readonly byHeart = new Map<string, EngineRec>();
  private readonly clients = new Map<string, ClientRec>();
  private readonly lru = new LruLoads();
  private readonly tasks = new Map<number, TaskRec>();
  private readonly queue = new Queue<TaskRec>();
  private urgent: TaskRec[] = [];
  private restricted: TaskRec[] = [];
  private readonly modules = new Map<string, Buffer>();
  /**
   * This controller's epoch, sent in welcomes and pongs: a client or engine that sees it change knows
   * the controller restarted and forgot its tasks. Task ids start at a random point so that a result
   * an engine computed for the previous controller cannot pass for one of this controller's tasks.
   */
  readonly epoch = randomBytes(6).toString('hex');
  private nextTaskId = randomInt(1, 2 ** 47);
  private readonly pong: Frames;
  private nextEngineId = 0;
  private flushScheduled = false;
  private closed = false;
  private beatTimer?: NodeJS.Timeout;
  private lastRound = Date.now();
  private readonly loops: Promise<void>[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly counters = { submitted: 0, completed: 0, resubmitted: 0, droppedResults: 0, rejectedMessages: 0 };

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
    this.schemeFn = SCHEME_FUNCTIONS[scheme];
    this.hb = options.heartbeatMs ?? 500;
    this.deadAfter = options.deadAfterBeats ?? 3;
    this.lostBeats = options.engineLostBeats ?? 10;
    this.deathRetries = options.deathRetries ?? 3;
    this.hwm = options.hwm ?? 'auto';
    if (this.hwm !== 'auto' && !(Number.isInteger(this.hwm) && this.hwm >= 0)) {
      throw new JobError('InvalidHwm', `hwm must be 'auto' or an integer ≥ 0, got ${String(this.hwm)}`);
    }
    this.random = options.random;
    const keys = controllerKeysOf(options.keys);
    this.clientKeys = keys.clientPublicKeys;
    this.pong = encodeControllerToClient({ kind: 'pong', epoch: this.epoch });
    this.zap = new ZapHandler(this.context, { client: keys.clientPublicKeys, engine: keys.enginePublicKeys });
    const common = { context: this.context, linger: 0, sendHighWaterMark: 0, receiveHighWaterMark: 0 };
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
    const rejected = (): void => void this.counters.rejectedMessages++;
    this.loops.push(
      readRoutedMessages(
        this.engineSock,
        decodeEngineToController,
        (m, route) => {
          this.onEngineMessage(m, route);
          this.flush();
        },
        rejected,
      ),
      readRoutedMessages(
        this.clientSock,
        decodeClientToController,
        (m, route) => {
          this.onClientMessage(m, route);
          this.flush();
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
      unassigned: this.queue.length + this.urgent.length + this.restricted.length,
    };
  }

  stats(): ControllerStats {
    let running = 0;
    for (const e of this.engineRecs.values()) running += e.outstanding.size;
    return {
      engines: this.engineRecs.size,
      queued: this.queue.length + this.urgent.length + this.restricted.length,
      running,
      ...this.counters,
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
      for (const e of this.engineRecs.values()) this.toEngine(e.route, { kind: 'stop' });
      await this.engineOut.drain(500);
      // give the I/O thread a moment to put the stop messages on the wire
      await new Promise((r) => setTimeout(r, 20));
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
        this.onResults(rec, message.results);
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
        limit: this.initialLimit(),
        leases: 0,
        completed: 0,
      };
      this.engineRecs.set(info.id, rec);
      this.byRoute.set(route.toString('latin1'), rec);
      this.byUuid.set(reg.uuid, rec);
      this.lru.add(info.id);
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
    for (const [name, code] of this.modules) this.loadOn(rec, name, code, () => {});
    this.broadcast({ kind: 'engines', up: [rec.info], down: [] });
    for (const w of [...this.waiters]) w();
    this.dispatch();
  }

  private initialLimit(): number {
    if (this.hwm === 'auto') return 1;
    return this.hwm === 0 ? Number.POSITIVE_INFINITY : this.hwm;
  }

  private removeEngine(rec: EngineRec, why: string): void {
    if (!this.engineRecs.has(rec.info.id)) return;
    this.engineRecs.delete(rec.info.id);
    this.byRoute.delete(rec.route.toString('latin1'));
    this.byUuid.delete(rec.info.uuid);
    if (rec.heart) this.byHeart.delete(rec.heart.key);
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
    for (const c of this.clients.values()) if (c.lease === rec.info.id) c.lease = undefined;
    this.broadcast({ kind: 'engines', up: [], down: [rec.info.id] });
    this.dispatch();
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

  private onResults(rec: EngineRec | undefined, results: ResultItem[]): void {
    for (const r of results) {
      if (rec) {
        const lb = rec.outstanding.get(r.id);
        if (lb !== undefined) {
          rec.outstanding.delete(r.id);
          rec.completed++;
          if (lb) this.lru.finish(rec.info.id);
          if (this.hwm === 'auto') this.tune(rec, r.completed - r.started);
        }
      }
      const t = this.tasks.get(r.id);
      if (!t) {
        this.counters.droppedResults++;
        continue;
      }
      const engineId = rec?.info.id ?? -1;
      if (!r.ok && !t.direct && t.retriesLeft > 0 && !t.aborted) {
        t.retriesLeft--;
        (t.blacklist ??= new Set()).add(engineId);
        r.engine = engineId;
        t.lastError = r;
        t.engine = undefined;
        this.counters.resubmitted++;
        this.restricted.push(t);
        continue;
      }
      this.tasks.delete(r.id);
      r.engine = engineId;
      this.deliver(t, r);
    }
    this.dispatch();
  }

  private tune(rec: EngineRec, ms: number): void {
    const d = Math.max(0.001, Number.isFinite(ms) ? ms : 0);
    rec.ewmaMs = rec.ewmaMs === undefined ? d : 0.8 * rec.ewmaMs + 0.2 * d;
    rec.limit = Math.max(1, Math.min(AUTO_MAX, Math.ceil(AUTO_WINDOW_MS / rec.ewmaMs)));
  }

  // ---------------------------------------------------------------- clients

  private onClientMessage(message: ClientToController, route: Buffer): void {
    if (message.kind === 'ping') {
      // also a client's ping socket, which is no client of its own (see Client)
      this.clientOut.send([route, ...this.pong]);
      return;
    }
    const key = route.toString('latin1');
    let client = this.clients.get(key);
    if (!client) {
      client = { key, route, gone: false, tasks: new Map() };
      this.clients.set(key, client);
    }
    client.gone = false;
    this.onClientRequest(client, message);
  }

  private onClientRequest(client: ClientRec, message: Exclude<ClientToController, { kind: 'ping' }>): void {
    switch (message.kind) {
      case 'hello':
        this.toClient(client.route, {
          kind: 'welcome',
          engines: this.engines(),
          scheme: this.scheme,
          heartbeatMs: this.hb,
          epoch: this.epoch,
        });
        break;
      case 'submit':
        this.onSubmit(client, message.tasks);
        break;
      case 'loadModule':
        this.onModule(client, message.requestId, message.name, message.code);
        break;
      case 'abort':
        this.onAbort(client, message.taskIds, message.running);
        break;
      case 'interrupt': {
        // a lane task the client wants interrupted: only the engine's heart can reach a busy engine
        const rec = this.engineRecs.get(message.engine);
        if (rec) this.interruptOn(rec, message.taskIds, true);
        break;
      }
      case 'lease':
        this.toClient(client.route, { kind: 'lease', engine: this.grantLease(client) });
        break;
      case 'queueStatus':
        this.toClient(client.route, { kind: 'queueStatus', requestId: message.requestId, status: this.queueStatus() });
        break;
      case 'bye':
        client.gone = true;
        this.releaseLease(client);
        this.clients.delete(client.key);
        break;
      default:
        unreachable(message);
    }
  }

  /** The laned engine with the fewest leases (ties: the least loaded in LRU order), or -1. */
  private grantLease(client: ClientRec): number {
    this.releaseLease(client);
    let best: EngineRec | undefined;
    let bestKey = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.lru.targets.length; i++) {
      const rec = this.engineRecs.get(this.lru.targets[i]!);
      if (!rec?.info.lane) continue;
      const key = rec.leases * 1e9 + this.lru.loads[i]!;
      if (key < bestKey) {
        bestKey = key;
        best = rec;
      }
    }
    if (!best) return -1;
    best.leases++;
    client.lease = best.info.id;
    return client.lease;
  }

  private releaseLease(client: ClientRec): void {
    if (client.lease === undefined) return;
    const rec = this.engineRecs.get(client.lease);
    if (rec && rec.leases > 0) rec.leases--;
    client.lease = undefined;
  }

  private onSubmit(client: ClientRec, items: SubmitItem[]): void {
    for (const item of items) {
      const t: TaskRec = {
        id: this.nextTaskId++,
        owner: { kind: 'client', client, id: item.id },
        frames: item.frames,
        direct: item.direct,
        retriesLeft: item.retries,
        deathsLeft: this.deathRetries,
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
        const rec = target === undefined ? undefined : this.engineRecs.get(target);
        if (!rec) this.fail(t, 'EngineNotFound', `engine ${String(target)} is not registered`, target ?? -1);
        else this.sendTask(rec, t, false);
      } else if (t.targets) this.restricted.push(t);
      else this.queue.push(t);
    }
    this.dispatch();
  }

  /**
   * Queued tasks fail with TaskAborted now; tasks already sent to an engine are dropped there if not
   * started, and with `running` interrupted if they are (the engine's heart thread stops a computing
   * task with SIGINT; the main thread abandons an asynchronous one).
   */
  private onAbort(client: ClientRec, ids: number[], running: boolean): void {
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
    for (const [engine, list] of onEngines) {
      const rec = this.engineRecs.get(engine);
      if (!rec) continue;
      this.toEngine(rec.route, { kind: 'abort', taskIds: list, running });
      if (running) this.interruptOn(rec, list, false);
    }
  }

  /** Asks an engine's heart thread to interrupt whichever of these tasks it is computing (lane: the client's ids). */
  private interruptOn(rec: EngineRec, ids: number[], lane: boolean): void {
    if (rec.heart) {
      rec.heart.out.send([rec.heart.route, ...encodeControllerToEngine({ kind: 'interrupt', taskIds: ids, lane })]);
    }
  }

  private onModule(client: ClientRec, requestId: number, name: string, code: Buffer): void {
    const reply = (errors: ModuleError[]): void => {
      if (!client.gone) this.toClient(client.route, { kind: 'moduleLoaded', requestId, errors });
    };
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
      reply([{ engine: -1, message: `invalid module name ${JSON.stringify(name)}: use letters, digits, _ . -` }]);
      return;
    }
    this.modules.set(name, code);
    const recs = [...this.engineRecs.values()];
    if (recs.length === 0) return reply([]);
    const errors: ModuleError[] = [];
    let left = recs.length;
    for (const rec of recs) {
      this.loadOn(rec, name, code, (ok, body) => {
        if (!ok) errors.push({ engine: rec.info.id, message: messageOf(body) });
        if (--left === 0) reply(errors);
      });
    }
    this.dispatch();
  }

  private loadOn(rec: EngineRec, name: string, code: Buffer, done: (ok: boolean, body: Buffer) => void): void {
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

  private broadcast(message: ControllerToClientOut): void {
    const frames = encodeControllerToClient(message);
    for (const c of this.clients.values()) if (!c.gone) this.clientOut.send([c.route, ...frames]);
  }

  // ---------------------------------------------------------------- scheduling

  private limitOf(engine: number): number {
    return this.engineRecs.get(engine)?.limit ?? 0;
  }

  private pick(t: TaskRec): number | undefined {
    const to = t.targets;
    const black = t.blacklist;
    return this.lru.pick(
      t.scheme ? SCHEME_FUNCTIONS[t.scheme] : this.schemeFn,
      (engine, load) =>
        load < this.limitOf(engine) && (to === undefined || to.includes(engine)) && !(black?.has(engine) ?? false),
      this.random,
    );
  }

  /** Could this task ever run on a registered engine? */
  private possible(t: TaskRec): boolean {
    for (const id of this.engineRecs.keys()) {
      if ((t.targets === undefined || t.targets.includes(id)) && !(t.blacklist?.has(id) ?? false)) return true;
    }
    return false;
  }

  private dispatch(): void {
    if (this.engineRecs.size === 0) return;
    if (this.urgent.length) {
      const urgent = this.urgent;
      this.urgent = [];
      for (const t of urgent) {
        if (this.cancelled(t)) continue;
        if (t.targets || t.blacklist) this.restricted.push(t);
        else {
          const e = this.pick(t);
          if (e === undefined) this.urgent.push(t);
          else this.sendTask(this.engineRecs.get(e)!, t, true);
        }
      }
    }
    if (this.restricted.length) {
      const rest: TaskRec[] = [];
      for (const t of this.restricted) {
        if (this.cancelled(t)) continue;
        const e = this.pick(t);
        if (e !== undefined) this.sendTask(this.engineRecs.get(e)!, t, true);
        else if (!this.possible(t)) this.failImpossible(t);
        else rest.push(t);
      }
      this.restricted = rest;
    }
    while (this.queue.length > 0 && this.urgent.length === 0) {
      const t = this.queue.peek()!;
      if (this.cancelled(t)) {
        this.queue.shift();
        continue;
      }
      const e = this.pick(t);
      if (e === undefined) break;
      this.queue.shift();
      this.sendTask(this.engineRecs.get(e)!, t, true);
    }
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
    // the record is the TaskItem sent (id, frames, body, timeLimitMs): the client's frames go on untouched
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
    queueMicrotask(this.flush);
  }

  private readonly flush = (): void => {
    if (!this.flushScheduled) return;
    this.flushScheduled = false;
    if (this.closed) return;
    for (const rec of this.engineRecs.values()) {
      const tasks = rec.batch;
      if (!tasks) continue;
      rec.batch = undefined;
      this.toEngine(rec.route, { kind: 'run', tasks });
    }
    for (const c of this.clients.values()) {
      const results = c.batch;
      if (!results) continue;
      c.batch = undefined;
      this.toClient(c.route, { kind: 'results', results });
    }
  };
}

/** Starts a controller: binds its client and engine ports (CURVE + ZAP) and starts heartbeats. */
export async function startController(options: ControllerOptions): Promise<ControllerHandle> {
  const controller = new Controller(options);
  await controller.start();
  return controller;
}
