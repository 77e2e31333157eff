import type { EngineInfo, QueueStatus } from '../protocol/messages.js';
import type { ClientToController, ControllerToClientOut, ModuleError } from '../protocol/wire.js';
import { unreachable } from '../protocol/wire.js';
import type { ClientRec, EngineRec } from './records.js';
import { messageOf } from './records.js';
import type { Scheduler } from './scheduler.js';
import type { Scheme } from './schedulers.js';

/** What the client desk needs of its controller. */
export interface ClientDeskHost {
  readonly engineRecs: ReadonlyMap<number, EngineRec>;
  readonly scheduler: Scheduler;
  readonly welcome: { scheme: Scheme; heartbeatMs: number; epoch: string };
  engines(): EngineInfo[];
  queueStatus(): QueueStatus;
  toClient(route: Buffer, message: ControllerToClientOut): void;
  /** Answers a ping (the pong is encoded once). */
  pong(route: Buffer): void;
  /** Asks an engine's heart to interrupt these tasks (`lane`: a lane client's ids). */
  interruptOn(rec: EngineRec, ids: number[], lane: boolean): void;
  /** Tells an engine to drop (or, `running`, abandon) these of the controller's tasks. */
  abortOn(rec: EngineRec, ids: number[], running: boolean): void;
}

/**
 * The controller's side of its clients: their requests (tasks, aborts, interrupts, leases, queue
 * status, modules), the engines leased to their lanes, and the modules every engine loads, now and
 * when it registers later.
 */
export class ClientDesk {
  readonly clients = new Map<string, ClientRec>();
  private readonly modules = new Map<string, Buffer>();

  constructor(private readonly host: ClientDeskHost) {}

  /** A message on the client port (a client's main socket, or its ping socket). */
  onMessage(message: ClientToController, route: Buffer): void {
    if (message.kind === 'ping') {
      // also a client's ping socket, which is no client of its own (see Client)
      this.host.pong(route);
      return;
    }
    const key = route.toString('latin1');
    let client = this.clients.get(key);
    if (!client) {
      client = { key, route, gone: false, tasks: new Map() };
      this.clients.set(key, client);
    }
    client.gone = false;
    this.onRequest(client, message);
  }

  /** A new engine loads every module loaded so far. */
  loadModulesOn(rec: EngineRec): void {
    for (const [name, code] of this.modules) this.host.scheduler.load(rec, name, code, () => {});
  }

  /** An engine is gone: the clients it was leased to ask again. */
  engineGone(id: number): void {
    for (const c of this.clients.values()) if (c.lease === id) c.lease = undefined;
  }

  private onRequest(client: ClientRec, message: Exclude<ClientToController, { kind: 'ping' }>): void {
    const host = this.host;
    switch (message.kind) {
      case 'hello':
        host.toClient(client.route, { kind: 'welcome', engines: host.engines(), ...host.welcome });
        break;
      case 'submit':
        host.scheduler.submit(client, message.tasks);
        break;
      case 'loadModule':
        this.onModule(client, message.requestId, message.name, message.code);
        break;
      case 'abort':
        this.onAbort(client, message.taskIds, message.running);
        break;
      case 'interrupt': {
        // a lane task the client wants interrupted: only the engine's heart can reach a busy engine
        const rec = host.engineRecs.get(message.engine);
        if (rec) host.interruptOn(rec, message.taskIds, true);
        break;
      }
      case 'lease':
        host.toClient(client.route, { kind: 'lease', engine: this.grantLease(client) });
        break;
      case 'queueStatus':
        host.toClient(client.route, { kind: 'queueStatus', requestId: message.requestId, status: host.queueStatus() });
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

  /**
   * Queued tasks fail with TaskAborted now; tasks already sent to an engine are dropped there if not
   * started, and with `running` interrupted if they are (the engine's heart thread stops a computing
   * task with SIGINT; the main thread abandons an asynchronous one).
   */
  private onAbort(client: ClientRec, ids: number[], running: boolean): void {
    for (const [engine, list] of this.host.scheduler.abort(client, ids, running)) {
      const rec = this.host.engineRecs.get(engine);
      if (!rec) continue;
      this.host.abortOn(rec, list, running);
      if (running) this.host.interruptOn(rec, list, false);
    }
  }

  /** The laned engine with the fewest leases (ties: the least loaded in LRU order), or -1. */
  private grantLease(client: ClientRec): number {
    this.releaseLease(client);
    const lru = this.host.scheduler.lru;
    let best: EngineRec | undefined;
    let bestKey = Number.POSITIVE_INFINITY;
    for (let i = 0; i < lru.targets.length; i++) {
      const rec = this.host.engineRecs.get(lru.targets[i]!);
      if (!rec?.info.lane) continue;
      const key = rec.leases * 1e9 + lru.loads[i]!;
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
    const rec = this.host.engineRecs.get(client.lease);
    if (rec && rec.leases > 0) rec.leases--;
    client.lease = undefined;
  }

  private onModule(client: ClientRec, requestId: number, name: string, code: Buffer): void {
    const reply = (errors: ModuleError[]): void => {
      if (!client.gone) this.host.toClient(client.route, { kind: 'moduleLoaded', requestId, errors });
    };
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
      reply([{ engine: -1, message: `invalid module name ${JSON.stringify(name)}: use letters, digits, _ . -` }]);
      return;
    }
    this.modules.set(name, code);
    const recs = [...this.host.engineRecs.values()];
    if (recs.length === 0) return reply([]);
    const errors: ModuleError[] = [];
    let left = recs.length;
    for (const rec of recs) {
      this.host.scheduler.load(rec, name, code, (ok, body) => {
        if (!ok) errors.push({ engine: rec.info.id, message: messageOf(body) });
        if (--left === 0) reply(errors);
      });
    }
    this.host.scheduler.dispatch();
  }
}
