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

/** Atomics.waitAsync (Node 16+; TypeScript lists it from lib es2024 on). */
interface AtomicsWaitAsync {
  waitAsync(cell: Int32Array, index: number, value: number, timeoutMs: number): { async: boolean; value: unknown };
}

/**
 * Keeps one `vm` SIGINT watchdog registered for the life of the engine, in a thread of its own that
 * only waits (engine/sigint-keeper.ts says why, and why its registration must be older than a task's).
 * `cell`: [0] set to stop the thread, [1] 1 while its watchdog is registered.
 */
export class SigintKeeper {
  private readonly cell = new Int32Array(new SharedArrayBuffer(8));
  private worker?: Worker;
  private stopped = false;

  /** `interrupts`: the engine's interrupt slots (INTERRUPT_SLOTS), so the keeper sees when a task computes. */
  constructor(private readonly interrupts?: SharedArrayBuffer) {
    this.spawn();
  }

  private spawn(): void {
    if (this.stopped) return;
    const workerData = { cell: this.cell.buffer, interrupts: this.interrupts };
    const worker = startEngineWorker('sigint-keeper', { workerData });
    let ran = false;
    worker.unref();
    worker.on('error', () => {});
    worker.once('online', () => (ran = true));
    // started again if it ever ends; not if it could not start at all (that would only loop)
    worker.once('exit', () => ran && this.spawn());
    this.worker = worker;
  }

  get registered(): boolean {
    return Atomics.load(this.cell, 1) === 1;
  }

  /** Resolves true once the keeper's watchdog is registered (false if not within `timeoutMs`). */
  async ready(timeoutMs: number): Promise<boolean> {
    if (this.registered) return true;
    const { async, value } = (Atomics as unknown as AtomicsWaitAsync).waitAsync(this.cell, 1, 0, timeoutMs);
    if (async) await value;
    return this.registered;
  }

  /**
   * Before an interruptible run: if the keeper is between two registrations (it just swallowed a
   * SIGINT, or its thread is starting again), waits up to `timeoutMs` for it to register first.
   */
  settle(timeoutMs = 100): void {
    if (!this.registered && !this.stopped) Atomics.wait(this.cell, 1, 0, timeoutMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    Atomics.store(this.cell, 0, 1);
    Atomics.notify(this.cell, 0);
    await this.worker?.terminate();
  }
}
