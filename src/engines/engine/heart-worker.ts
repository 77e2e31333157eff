/**
 * The engine's heart, as a worker thread (see Heart in heart.ts, which starts it): its own CURVE
 * DEALER beats to the controller every period and listens for the controller's replies, whatever
 * the engine's main thread is doing. It tells the main thread 'alive' (the first answer), 'unknown'
 * (the controller restarted: register again) and 'lost' (no word for `lostBeats` periods), and it
 * interrupts the task the main thread computes when the controller asks (SIGINT; vm breakOnSigint).
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as zmq from 'zeromq';
import type { PeerKeys } from '../protocol/keys.js';
import { decodeOrDrop } from '../protocol/read-loop.js';
import { curveClient } from '../protocol/sockets.js';
import { decodeControllerToEngine, encodeEngineToController } from '../protocol/wire-engine.js';

/** What the main thread gives the heart. */
export interface HeartWorkerData {
  endpoint: string;
  keys: PeerKeys;
  uuid: string;
  hb: number;
  lostBeats: number;
  /** Kill this process when the controller is lost (process entry points), even mid-task. */
  killOnLost: boolean;
  /** The engine's interrupt slots (INTERRUPT_SLOTS in heart.ts), if its tasks can be interrupted. */
  interrupts?: SharedArrayBuffer;
  /** The controller's heartbeat endpoint (the welcome's), beaten as well as `endpoint`. */
  hbEndpoint?: string;
}

/** Messages between the main thread and the heart. */
export type HeartEvent = 'alive' | 'lost' | 'unknown';
export type HeartCommand = 'stop' | { hbe: string };

/** How long an interrupt request waits for its task to start computing. */
const INTERRUPT_WAIT_MS = 10_000;
/** A task still computing this long after its SIGINT is signalled again (another watchdog may have taken it). */
const RESIGNAL_MS = 50;

interface Wanted {
  id: bigint;
  lane: boolean;
  until: number;
  sent: number;
}

class HeartThread {
  private readonly curve;
  private readonly sock: zmq.Dealer;
  private hbSock?: zmq.Dealer;
  private hbEndpoint?: string;
  private lastHeard = Date.now();
  private lostSent = false;
  private alive = false;
  private readonly beat: (Uint8Array | string)[];
  private readonly state?: BigInt64Array;
  private wanted: Wanted[] = [];
  private watch?: NodeJS.Timeout;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly w: HeartWorkerData,
    private readonly tell: (event: HeartEvent) => void,
  ) {
    this.curve = { ...curveClient(w.keys), linger: 0, sendTimeout: 0 };
    this.beat = encodeEngineToController({ kind: 'beat', uuid: w.uuid });
    if (w.interrupts) this.state = new BigInt64Array(w.interrupts);
    this.sock = new zmq.Dealer(this.curve);
    this.sock.connect(w.endpoint);
    this.timer = setInterval(() => this.onPeriod(), w.hb);
    this.sock.send(this.beat).catch(() => {});
    void this.listen(this.sock);
    this.setHeartbeatEndpoint(w.hbEndpoint);
  }

  /**
   * The controller's heartbeat port (its own socket and I/O thread there): beats go to both, so they
   * reach the controller even while the engine port carries a big transfer; the engine port still
   * tells a heart whose controller restarted that it is unknown.
   */
  setHeartbeatEndpoint(endpoint: string | undefined): void {
    if (!endpoint || endpoint === this.hbEndpoint) return;
    this.hbSock?.close();
    this.hbEndpoint = endpoint;
    this.hbSock = new zmq.Dealer(this.curve);
    this.hbSock.connect(endpoint);
    void this.listen(this.hbSock);
  }

  stop(): void {
    clearInterval(this.timer);
    if (this.watch) clearInterval(this.watch);
    this.sock.close();
    this.hbSock?.close();
  }

  private onPeriod(): void {
    this.sock.send(this.beat).catch(() => {});
    this.hbSock?.send(this.beat).catch(() => {});
    if (!this.lostSent && Date.now() - this.lastHeard > this.w.lostBeats * this.w.hb) {
      this.lostSent = true;
      this.tell('lost');
      if (this.w.killOnLost) process.kill(process.pid, 'SIGTERM');
    }
  }

  private async listen(sock: zmq.Dealer): Promise<void> {
    try {
      for (;;) {
        const frames = await sock.receive();
        this.lastHeard = Date.now();
        this.lostSent = false;
        const message = decodeOrDrop(decodeControllerToEngine, frames);
        if (message?.kind === 'interrupt') this.interrupt(message.taskIds, message.lane);
        else if (message?.kind === 'unknown') this.tell('unknown');
        else if (!this.alive) {
          this.alive = true;
          this.tell('alive');
        }
      }
    } catch {
      // closed
    }
  }

  /**
   * Interrupts (see INTERRUPT_SLOTS): the main thread publishes the task it is computing; a matching
   * request makes this thread SIGINT the process, which stops that task. A request for a task not
   * started yet is kept a while and checked every few ms, so one that starts late is still stopped.
   */
  private interrupt(ids: number[], lane: boolean): void {
    if (!this.state) return;
    const until = Date.now() + INTERRUPT_WAIT_MS;
    for (const id of ids.slice(0, 4096)) this.wanted.push({ id: BigInt(id), lane, until, sent: 0 });
    this.check();
    if (this.wanted.length > 0 && !this.watch) this.watch = setInterval(() => this.check(), 5);
  }

  private check(): void {
    const state = this.state!;
    const now = Date.now();
    const flags = Atomics.load(state, 1);
    const id = Atomics.load(state, 0);
    const lane = (flags & 2n) !== 0n;
    const running = (x: Wanted): boolean => (flags & 1n) !== 0n && x.id === id && x.lane === lane;
    // a request ends when it expires, or once its task, signalled, is no longer the one computing
    this.wanted = this.wanted.filter((x) => x.until > now && !(x.sent > 0 && !running(x)));
    const hit = this.wanted.find(running);
    if (hit && now - hit.sent > RESIGNAL_MS) {
      hit.sent = now;
      Atomics.store(state, 2, id);
      process.kill(process.pid, 'SIGINT');
    }
    if (this.wanted.length === 0 && this.watch) {
      clearInterval(this.watch);
      this.watch = undefined;
    }
  }
}

const port = parentPort;
if (port) {
  const heart = new HeartThread(workerData as HeartWorkerData, (event) => port.postMessage(event));
  port.on('message', (command: HeartCommand) => {
    if (command === 'stop') {
      heart.stop();
      port.close();
    } else if (typeof command === 'object' && typeof command.hbe === 'string') {
      heart.setHeartbeatEndpoint(command.hbe);
    }
  });
}
