import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { JobError } from '../../errors.js';
import type { HeartCommand, HeartEvent, HeartWorkerData } from './heart-worker.js';

/** The engine's worker threads: modules next to this one (their bundles next to engine.mjs). */
export type EngineWorker = 'heart-worker' | 'sigint-keeper';

/**
 * Starts one of the engine's worker threads from its module, found as a sibling: NAME.js next to this
 * file (dist/), NAME.mjs next to the bundle this code is in (the runtime package: engine.mjs and its
 * workers side by side, src/engines/entries.ts), or NAME.ts from source, loaded through tsx's API
 * (worker threads do not inherit the main thread's --import hooks).
 */
export function startEngineWorker(name: EngineWorker, options: WorkerOptions): Worker {
  for (const ext of ['.js', '.mjs']) {
    const url = new URL(`./${name}${ext}`, import.meta.url);
    if (existsSync(fileURLToPath(url))) return new Worker(url, options);
  }
  const source = new URL(`./${name}.ts`, import.meta.url);
  if (!existsSync(fileURLToPath(source))) {
    throw new JobError('EngineWorkerMissing', `the engine's ${name} module is not next to ${import.meta.url}`);
  }
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api')).href;
  const load =
    `import(${JSON.stringify(tsx)}).then((m) => { (m.register ?? m.default.register)(); ` +
    `return import(${JSON.stringify(source.href)}); })`;
  return new Worker(load, { ...options, eval: true });
}

/** The heart's settings (HeartWorkerData: endpoint, keys, uuid, beats…) and what it tells the engine. */
export interface HeartOptions extends HeartWorkerData {
  onLost: () => void;
  onUnknown: () => void;
  /** The controller answered the heart's first beat. */
  onAlive: () => void;
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
    const { onLost, onUnknown, onAlive, ...data } = options;
    this.worker = startEngineWorker('heart-worker', { workerData: data });
    this.worker.unref();
    this.worker.on('message', (event: HeartEvent) => {
      if (event === 'alive') onAlive();
      else if (event === 'lost') onLost();
      else if (event === 'unknown') onUnknown();
    });
    this.worker.on('error', () => {});
  }

  /** The controller (restarted) gave a new heartbeat endpoint. */
  heartbeatEndpoint(endpoint: string): void {
    this.send({ hbe: endpoint });
  }

  private send(command: HeartCommand): void {
    this.worker.postMessage(command);
  }

  async stop(): Promise<void> {
    this.send('stop');
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, 500).unref());
    await Promise.race([exited, timeout]);
    await this.worker.terminate();
  }
}

/**
 * Keeps one `vm` SIGINT watchdog registered for the life of the engine, in a thread of its own that
 * only waits (engine/sigint-keeper.ts says why).
 */
export class SigintKeeper {
  private readonly cell = new Int32Array(new SharedArrayBuffer(4));
  private worker?: Worker;
  private stopped = false;

  constructor() {
    this.spawn();
  }

  private spawn(): void {
    if (this.stopped) return;
    const worker = startEngineWorker('sigint-keeper', { workerData: this.cell.buffer });
    let ran = false;
    worker.unref();
    worker.on('error', () => {});
    worker.once('online', () => (ran = true));
    // started again if it ever ends; not if it could not start at all (that would only loop)
    worker.once('exit', () => ran && this.spawn());
    this.worker = worker;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    Atomics.store(this.cell, 0, 1);
    Atomics.notify(this.cell, 0);
    await this.worker?.terminate();
  }
}
