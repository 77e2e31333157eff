import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JobError } from '../../errors.js';
import type { TaskFunction } from '../client/framing.js';
import { taskFrames } from '../client/framing.js';
import { CompositeTaskError, RemoteTaskError } from '../client/errors.js';
import { decodeValue } from '../protocol/codec.js';
import type { ClusterKeys } from '../protocol/keys.js';
import { controllerKeysOf, newClusterKeys, writeClusterKeys } from '../protocol/keys.js';
import { TaskKind } from '../protocol/messages.js';
import { readMessages } from '../protocol/read-loop.js';
import { curveServer, tcpEndpoint, ZapHandler, zmq } from '../protocol/sockets.js';
import type { PipelineReply } from '../protocol/wire-pipeline.js';
import { decodePipelineReply, encodePipelineTask, PIPELINE_BEAT, PIPELINE_STOP } from '../protocol/wire-pipeline.js';
import type { PipelineEndpoints, PipelineWorkerHandle } from './worker.js';
import { startPipelineWorker } from './worker.js';

/**
 * Pipeline mode, the ZeroMQ Guide's "divide and conquer": a distributor PUSHes tasks (bind), workers
 * PULL them, PUSH results to a collector (PULL, bind), and a control PUB tells workers to stop — every
 * socket CURVE-encrypted, with a ZAP handler admitting only the cluster's engine key.
 *
 * The Guide's two failure modes are handled: the *slow joiner* (the first worker to connect would grab
 * everything) by a start barrier — each worker reports READY once its PULL handshake is done, and
 * nothing is sent before all expected workers are ready; and *worker death* (tasks queued to a dead
 * worker are silently lost) by task ids — the collector knows which ids are missing and, once results
 * stop arriving for `resendAfterMs`, the distributor re-sends exactly those; duplicates are dropped.
 */
export type { PipelineEndpoints, PipelineWorkerHandle, PipelineWorkerOptions } from './worker.js';
export { startPipelineWorker } from './worker.js';

/** How often the distributor's control socket says it is still there. */
const BEAT_MS = 1000;

export interface PipelineOptions<T, R> {
  tasks: readonly T[];
  /** `fn(task)` on a worker: a self-contained function, or `{ module, export }` of one of `modules`. */
  worker: TaskFunction<[T], R>;
  modules?: Record<string, string | Uint8Array>;
  /** Worker processes to start on this machine (default 2), or `inline` ones in this process (tests). */
  workers?: number;
  inline?: boolean;
  /** Extra workers started elsewhere that will connect (counted in the start barrier). */
  externalWorkers?: number;
  keys?: ClusterKeys;
  host?: string;
  /** Per-task time limit on the workers (ms): a task running longer fails with TaskTimeLimit. */
  timeLimitMs?: number;
  /** Re-send missing tasks after this long without a new result (default 2000 ms). */
  resendAfterMs?: number;
  /** How long to wait for every worker's READY (default 30 s). */
  startTimeoutMs?: number;
  /**
   * Called once with the endpoints after binding (to start external workers); awaited before the
   * start barrier's clock starts, so slow starts (SSH, uploads) do not count against it.
   */
  onListening?: (endpoints: PipelineEndpoints, keys: ClusterKeys) => void | Promise<void>;
  /** Aborting stops the run: it rejects with JobError `Interrupted` after stopping its workers. */
  signal?: AbortSignal;
  /** Called after each new result. */
  onProgress?: (done: number, total: number) => void;
}

export interface PipelineResult<R> {
  results: R[];
  /** Tasks sent again because their result went missing. */
  resent: number;
  /** Results dropped as duplicates. */
  duplicates: number;
  seconds: number;
  workers: number;
}

/** The distributor, collector and control sockets of one run, with the ZAP handler that guards them. */
class PipelineSockets {
  private readonly context = new zmq.Context();
  private readonly zap: ZapHandler;
  readonly distributor: zmq.Push;
  readonly collector: zmq.Pull;
  private readonly control: zmq.Publisher;
  /** One send at a time on the control socket (beats and STOP share it). */
  private controlChain: Promise<unknown> = Promise.resolve();
  private beats: NodeJS.Timeout | undefined;

  constructor(keys: ClusterKeys) {
    const ckeys = controllerKeysOf(keys);
    this.zap = new ZapHandler(this.context, { pipeline: ckeys.enginePublicKeys });
    const server = { context: this.context, linger: 0, ...curveServer(ckeys.server.secretKey, 'pipeline') };
    this.distributor = new zmq.Push({ ...server, sendHighWaterMark: 1000 });
    this.collector = new zmq.Pull({ ...server, receiveHighWaterMark: 0 });
    this.control = new zmq.Publisher(server);
  }

  /** Binds all three on `host` and starts beating on the control socket. */
  async bind(host: string): Promise<PipelineEndpoints> {
    await this.distributor.bind(tcpEndpoint(host));
    await this.collector.bind(tcpEndpoint(host));
    await this.control.bind(tcpEndpoint(host));
    this.beats = setInterval(() => void this.publish(PIPELINE_BEAT), BEAT_MS);
    return {
      distributor: this.distributor.lastEndpoint!,
      collector: this.collector.lastEndpoint!,
      control: this.control.lastEndpoint!,
    };
  }

  publish(topic: string): Promise<unknown> {
    return (this.controlChain = this.controlChain.then(() => this.control.send(topic)).catch(() => undefined));
  }

  /** Says STOP (fire-and-forget: a worker that missed it is stopped by its owner) and closes. */
  async close(): Promise<void> {
    if (this.beats) clearInterval(this.beats);
    await this.publish(PIPELINE_STOP);
    await new Promise((r) => setTimeout(r, 20));
    this.distributor.close();
    this.collector.close();
    this.control.close();
    await this.zap.close();
  }
}

/** The workers a run starts on this machine: processes, or inline ones (tests). */
class LocalWorkers {
  private readonly children: ChildProcess[] = [];
  readonly inline: PipelineWorkerHandle[] = [];
  private tempDir: string | undefined;

  async start(
    count: number,
    inline: boolean,
    endpoints: PipelineEndpoints,
    keys: ClusterKeys,
    modules: Record<string, string | Uint8Array>,
  ): Promise<void> {
    if (inline) {
      for (let i = 0; i < count; i++) this.inline.push(await startPipelineWorker({ endpoints, keys, id: i, modules }));
      return;
    }
    if (count === 0) return;
    const tempDir = (this.tempDir = await mkdtemp(join(tmpdir(), 'starcluster-pipeline-')));
    await writeClusterKeys(join(tempDir, 'keys'), keys);
    const moduleArgs: string[] = [];
    for (const [name, code] of Object.entries(modules)) {
      const file = join(tempDir, `${name}.mjs`);
      await writeFile(file, code, { mode: 0o600 });
      moduleArgs.push('--module', `${name}=${file}`);
    }
    const entry = fileURLToPath(new URL('./worker-main.js', import.meta.url)).replace(/\.js$/, '');
    const fromSource = import.meta.url.endsWith('.ts');
    const script = fromSource ? `${entry}.ts` : `${entry}.js`;
    const execArgv = fromSource ? ['--import', 'tsx'] : [];
    const { distributor, collector, control } = endpoints;
    for (let i = 0; i < count; i++) {
      const args = [script, '--distributor', distributor, '--collector', collector, '--control', control];
      args.push('--keys', join(tempDir, 'keys'), '--id', String(i), ...moduleArgs);
      this.children.push(spawn(process.execPath, [...execArgv, ...args], { stdio: ['ignore', 'ignore', 'inherit'] }));
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.inline.map((w) => w.close()));
    for (const c of this.children) if (c.exitCode === null) c.kill('SIGTERM');
    if (this.tempDir) await rm(this.tempDir, { recursive: true, force: true });
  }
}

/** The collector's side: which workers are ready, which results are in (each once), the errors. */
class Collector<R> {
  readonly ready = new Set<number>();
  readonly results: R[];
  readonly have: Uint8Array;
  readonly errors: JobError[] = [];
  done = 0;
  duplicates = 0;
  lastResultAt = Date.now();
  private wake: (() => void) | undefined;

  constructor(
    socket: zmq.Pull,
    private readonly total: number,
    private readonly onProgress?: (done: number, total: number) => void,
  ) {
    this.results = new Array<R>(total);
    this.have = new Uint8Array(total);
    void readMessages(socket, decodePipelineReply, (reply) => this.onReply(reply));
  }

  private onReply(reply: PipelineReply): void {
    if (reply.kind === 'ready') {
      this.ready.add(reply.worker);
      this.wake?.();
      return;
    }
    const i = reply.index;
    if (i < 0 || i >= this.total) return;
    if (this.have[i]) {
      this.duplicates++;
      return;
    }
    this.have[i] = 1;
    this.done++;
    this.lastResultAt = Date.now();
    try {
      const value = decodeValue(reply.body, reply.frames);
      if (reply.ok) this.results[i] = value as R;
      else {
        const e = (value ?? {}) as { name?: string; message?: string; stack?: string };
        this.errors.push(new RemoteTaskError(reply.worker, i, e.name ?? 'Error', e.message ?? String(value), e.stack));
      }
    } catch (error) {
      this.errors.push(new JobError('BadResult', `task ${i}: undecodable result: ${(error as Error).message}`));
    }
    this.onProgress?.(this.done, this.total);
    this.wake?.();
  }

  /** Resolves at the next reply, or after `ms`. */
  nap(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wake = resolve;
      setTimeout(resolve, ms);
    });
  }
}

/** Runs `tasks` through a PUSH/PULL pipeline of workers; resolves with the results in task order. */
export async function runPipeline<T, R>(options: PipelineOptions<T, R>): Promise<PipelineResult<R>> {
  const t0 = performance.now();
  const keys = options.keys ?? newClusterKeys();
  const sockets = new PipelineSockets(keys);
  const workers = new LocalWorkers();
  const interrupted = (): void => {
    if (options.signal?.aborted) throw new JobError('Interrupted', 'interrupted while tasks were running');
  };
  try {
    const endpoints = await sockets.bind(options.host ?? '127.0.0.1');
    await options.onListening?.(endpoints, keys);
    interrupted();
    const local = options.workers ?? 2;
    const expected = local + (options.externalWorkers ?? 0);
    if (expected < 1) throw new JobError('NoWorkers', 'a pipeline needs at least one worker');
    await workers.start(local, options.inline === true, endpoints, keys, options.modules ?? {});
    const collector = new Collector<R>(sockets.collector, options.tasks.length, options.onProgress);
    await startBarrier(collector, expected, options.startTimeoutMs ?? 30_000, interrupted);
    const resent = await distribute(options, sockets.distributor, collector, interrupted);
    await sockets.publish(PIPELINE_STOP);
    await Promise.all(workers.inline.map((w) => w.done));
    if (collector.errors.length === 1) throw collector.errors[0]!;
    if (collector.errors.length > 1) throw new CompositeTaskError(collector.errors);
    const seconds = (performance.now() - t0) / 1000;
    return { results: collector.results, resent, duplicates: collector.duplicates, seconds, workers: expected };
  } finally {
    await sockets.close();
    await workers.stop();
  }
}

/** The start barrier: every worker's PULL is connected before the first task goes out. */
async function startBarrier(
  collector: Collector<unknown>,
  expected: number,
  timeoutMs: number,
  interrupted: () => void,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (collector.ready.size < expected) {
    interrupted();
    if (Date.now() > until) {
      throw new JobError(
        'PipelineStartTimeout',
        `only ${collector.ready.size} of ${expected} pipeline workers connected within ${timeoutMs} ms`,
      );
    }
    await collector.nap(50);
  }
}

/** Sends every task, then again those whose results stop arriving; resolves when all are in, with the resent count. */
async function distribute<T, R>(
  options: PipelineOptions<T, R>,
  distributor: zmq.Push,
  collector: Collector<R>,
  interrupted: () => void,
): Promise<number> {
  const total = options.tasks.length;
  const send = async (i: number): Promise<void> => {
    const frames = taskFrames(TaskKind.apply, options.worker as TaskFunction<never[], unknown>, [options.tasks[i]]);
    await distributor.send(encodePipelineTask({ index: i, timeLimitMs: options.timeLimitMs, frames }));
  };
  for (let i = 0; i < total; i++) {
    if (i % 64 === 0) interrupted();
    await send(i);
  }
  let resent = 0;
  const resendAfter = options.resendAfterMs ?? 2000;
  while (collector.done < total) {
    interrupted();
    await collector.nap(Math.min(200, resendAfter));
    if (collector.done < total && Date.now() - collector.lastResultAt >= resendAfter) {
      // the Guide's remedy for worker death: the sink knows which ids are missing; send those again
      collector.lastResultAt = Date.now();
      for (let i = 0; i < total; i++) {
        if (!collector.have[i]) {
          resent++;
          await send(i);
        }
      }
    }
  }
  return resent;
}
