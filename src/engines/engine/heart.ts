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
const sock = new zmq.Dealer({
  curveServerKey: w.keys.serverPublicKey, curvePublicKey: w.keys.publicKey, curveSecretKey: w.keys.secretKey,
  linger: 0, sendTimeout: 0,
});
sock.connect(w.endpoint);
let lastHeard = Date.now();
let lostSent = false;
let alive = false;
const beat = JSON.stringify({ t: 'hb', uuid: w.uuid });
const timer = setInterval(() => {
  sock.send(beat).catch(() => {});
  if (!lostSent && Date.now() - lastHeard > w.lostBeats * w.hb) {
    lostSent = true;
    parentPort.postMessage('lost');
    if (w.killOnLost) process.kill(process.pid, 'SIGTERM');
  }
}, w.hb);
sock.send(beat).catch(() => {});
(async () => {
  try {
    for await (const [m] of sock) {
      lastHeard = Date.now();
      lostSent = false;
      if (m && m.toString().includes('"unknown"')) parentPort.postMessage('unknown');
      else if (!alive) { alive = true; parentPort.postMessage('alive'); }
    }
  } catch {}
})();
parentPort.on('message', (m) => {
  if (m === 'stop') { clearInterval(timer); sock.close(); parentPort.close(); }
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
}

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

  async stop(): Promise<void> {
    this.worker.postMessage('stop');
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, 500).unref());
    await Promise.race([exited, timeout]);
    await this.worker.terminate();
  }
}
