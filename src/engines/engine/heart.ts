import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { PeerKeys } from '../protocol/keys.js';

/**
 * The engine's heart: a worker thread with its own CURVE DEALER that beats to the controller every
 * period and listens for the controller's replies, independent of the engine's main thread. A task
 * that computes for minutes without yielding therefore never looks like a dead engine (ipyparallel's
 * heart is a separate thread for the same reason), while a dead process stops beating at once.
 *
 * The worker is plain CommonJS given as source (`eval: true`) so it runs the same under tsx, from
 * dist/ and from an esbuild bundle; it loads zeromq from the path the main thread resolved.
 */
const HEART_SOURCE = `
const { parentPort, workerData: w } = require('node:worker_threads');
const zmq = require(w.zmqPath);
const curve = {
  curveServerKey: w.keys.serverPublicKey, curvePublicKey: w.keys.publicKey, curveSecretKey: w.keys.secretKey,
  linger: 0, sendTimeout: 0,
};
const sock = new zmq.Dealer(curve);
sock.connect(w.endpoint);
// The controller's heartbeat port (its own socket and I/O thread there): beats go to both, so they
// reach the controller even while the engine port carries a big transfer; the engine port still
// tells a heart whose controller restarted that it is unknown.
let hbSock;
let hbEndpoint;
const setHb = (endpoint) => {
  if (!endpoint || endpoint === hbEndpoint) return;
  if (hbSock) hbSock.close();
  hbEndpoint = endpoint;
  hbSock = new zmq.Dealer(curve);
  hbSock.connect(endpoint);
  listen(hbSock);
};
let lastHeard = Date.now();
let lostSent = false;
let alive = false;
const beat = JSON.stringify({ t: 'hb', uuid: w.uuid });
// Interrupts (see INTERRUPT_SLOTS): the main thread publishes the task it is computing; a matching
// request makes this thread SIGINT the process, which stops that task (vm breakOnSigint). A request
// for a task not started yet is kept a while and checked every few ms, so one that starts late is
// still stopped.
const state = w.interrupts ? new BigInt64Array(w.interrupts) : undefined;
let wanted = [];
let watch;
const check = () => {
  const now = Date.now();
  const flags = Atomics.load(state, 1);
  const id = Atomics.load(state, 0);
  const lane = (flags & 2n) !== 0n;
  const running = (x) => (flags & 1n) !== 0n && x.id === id && x.lane === lane;
  // a request ends when it expires, or once its task, signalled, is no longer the one computing
  wanted = wanted.filter((x) => x.until > now && !(x.sent > 0 && !running(x)));
  const hit = wanted.find(running);
  // signalled again if still computing 50 ms later (another watchdog may have taken the signal)
  if (hit && now - hit.sent > 50) {
    hit.sent = now;
    Atomics.store(state, 2, id);
    process.kill(process.pid, 'SIGINT');
  }
  if (wanted.length === 0 && watch) { clearInterval(watch); watch = undefined; }
};
const interrupt = (msg) => {
  if (!state || !Array.isArray(msg.i)) return;
  const until = Date.now() + 10000;
  for (const i of msg.i.slice(0, 4096)) wanted.push({ id: BigInt(i), lane: msg.l === 1, until, sent: 0 });
  check();
  if (wanted.length > 0 && !watch) watch = setInterval(check, 5);
};
const timer = setInterval(() => {
  sock.send(beat).catch(() => {});
  if (hbSock) hbSock.send(beat).catch(() => {});
  if (!lostSent && Date.now() - lastHeard > w.lostBeats * w.hb) {
    lostSent = true;
    parentPort.postMessage('lost');
    if (w.killOnLost) process.kill(process.pid, 'SIGTERM');
  }
}, w.hb);
sock.send(beat).catch(() => {});
const listen = (s) => (async () => {
  try {
    for await (const [m] of s) {
      lastHeard = Date.now();
      lostSent = false;
      const s = m ? m.toString() : '';
      if (s.startsWith('{"t":"int"')) { try { interrupt(JSON.parse(s)); } catch {} continue; }
      if (s.includes('"unknown"')) parentPort.postMessage('unknown');
      else if (!alive) { alive = true; parentPort.postMessage('alive'); }
    }
  } catch {}
})();
listen(sock);
setHb(w.hbEndpoint);
parentPort.on('message', (m) => {
  if (m === 'stop') {
    clearInterval(timer); if (watch) clearInterval(watch); sock.close(); if (hbSock) hbSock.close(); parentPort.close();
  } else if (m && typeof m.hbe === 'string') setHb(m.hbe);
});
`;

export interface HeartOptions {
  endpoint: string;
  keys: PeerKeys;
  uuid: string;
  hb: number;
  lostBeats: number;
  /** Kill this process when the controller is lost (process entry points), even mid-task. */
  killOnLost: boolean;
  onLost: () => void;
  onUnknown: () => void;
  /** The controller answered the heart's first beat. */
  onAlive: () => void;
  /** The engine's interrupt slots (INTERRUPT_SLOTS), if its tasks can be interrupted. */
  interrupts?: SharedArrayBuffer;
  /** The controller's heartbeat endpoint (WelcomeEngineMsg.hbe), beaten as well as `endpoint`. */
  hbEndpoint?: string;
}

/**
 * What the main thread and the heart share to interrupt a computing task, as a BigInt64Array:
 * [0] the task running now, [1] flags (1: computing, 2: a lane task), [2] the task the heart
 * interrupted (-1: none).
 */
export const INTERRUPT_SLOTS = 3;

export class Heart {
  private readonly worker: Worker;

  constructor(options: HeartOptions) {
    const zmqPath = createRequire(import.meta.url).resolve('zeromq');
    this.worker = new Worker(HEART_SOURCE, {
      eval: true,
      workerData: {
        zmqPath,
        endpoint: options.endpoint,
        keys: options.keys,
        uuid: options.uuid,
        hb: options.hb,
        lostBeats: options.lostBeats,
        killOnLost: options.killOnLost,
        interrupts: options.interrupts,
        hbEndpoint: options.hbEndpoint,
      },
    });
    this.worker.unref();
    this.worker.on('message', (m) => {
      if (m === 'alive') options.onAlive();
      else if (m === 'lost') options.onLost();
      else if (m === 'unknown') options.onUnknown();
    });
    this.worker.on('error', () => {});
  }

  /** The controller (restarted) gave a new heartbeat endpoint. */
  heartbeatEndpoint(endpoint: string): void {
    this.worker.postMessage({ hbe: endpoint });
  }

  async stop(): Promise<void> {
    this.worker.postMessage('stop');
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, 500).unref());
    await Promise.race([exited, timeout]);
    await this.worker.terminate();
  }
}

/**
 * Keeps one `vm` SIGINT watchdog registered for the life of the engine, in a thread of its own that
 * only waits. Node starts its SIGINT watchdog machinery with the first registration and stops it with
 * the last; with this one always there, a task run with `breakOnSigint` costs about a microsecond
 * instead of tens, and a SIGINT that finds no task computing is swallowed here instead of ending the
 * process.
 */
const KEEPER_SOURCE = `
const vm = require('node:vm');
const { workerData } = require('node:worker_threads');
globalThis.__cell = new Int32Array(workerData);
for (;;) {
  try { vm.runInThisContext('Atomics.wait(__cell, 0, 0)', { breakOnSigint: true }); } catch {}
  if (Atomics.load(globalThis.__cell, 0) !== 0) break;
}
`;

export class SigintKeeper {
  private readonly cell = new Int32Array(new SharedArrayBuffer(4));
  private worker?: Worker;
  private stopped = false;

  constructor() {
    this.spawn();
  }

  private spawn(): void {
    if (this.stopped) return;
    const worker = new Worker(KEEPER_SOURCE, { eval: true, workerData: this.cell.buffer });
    worker.unref();
    worker.on('error', () => {});
    worker.once('exit', () => this.spawn());
    this.worker = worker;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    Atomics.store(this.cell, 0, 1);
    Atomics.notify(this.cell, 0);
    await this.worker?.terminate();
  }
}
