import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JobError } from '../../errors.js';
import type { TaskFunction } from '../client/client.js';
import { taskFrames } from '../client/client.js';
import { CompositeTaskError, RemoteTaskError } from '../client/errors.js';
import { decodeValue, encodeValue } from '../protocol/codec.js';
import type { ClusterKeys, PeerKeys } from '../protocol/keys.js';
import { controllerKeysOf, engineKeysOf, newClusterKeys, writeClusterKeys } from '../protocol/keys.js';
import { nowMs, TaskKind } from '../protocol/messages.js';
import { curveClient, curveServer, tcpEndpoint, ZapHandler, zmq } from '../protocol/sockets.js';
import { isThenable, TaskExecutor } from '../engine/executor.js';
import type { PipelineTask } from '../protocol/wire-pipeline.js';
import {
  decodePipelineReply,
  decodePipelineTask,
  encodePipelineReply,
  encodePipelineTask,
  PIPELINE_BEAT as BEAT,
  PIPELINE_STOP as STOP,
} from '../protocol/wire-pipeline.js';

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
export interface PipelineEndpoints {
  distributor: string;
  collector: string;
  control: string;
}

export interface PipelineWorkerOptions {
  endpoints: PipelineEndpoints;
  keys: ClusterKeys | PeerKeys;
  id?: number;
  /** Modules the worker function may reference: name → ESM code. */
  modules?: Record<string, string | Uint8Array>;
  /** Give up if the distributor's CURVE handshake has not completed by then (default 30 s). */
  connectTimeoutMs?: number;
  /**
   * Stop when neither a control message (the distributor's BEAT, or STOP) nor a task has been seen
   * for this long (default: never). Workers on remote nodes use it, so a client that vanished
   * without sending STOP (killed, or its SSH connection lost) leaves no worker behind.
   */
  idleExitMs?: number;
}

export interface PipelineWorkerHandle {
  readonly id: number;
  /** Settles when the worker stops (STOP received, or closed). */
  readonly done: Promise<void>;
  close(): Promise<void>;
}

/** How often the distributor's control socket says it is still there. */
const BEAT_MS = 1000;

/** Runs a pipeline worker in this process (the process entry is pipeline/worker-main.ts). */
export async function startPipelineWorker(options: PipelineWorkerOptions): Promise<PipelineWorkerHandle> {
  const keys = engineKeysOf(options.keys);
  const id = options.id ?? Math.floor(Math.random() * 1e9);
  const executor = new TaskExecutor('worker');
  executor.id = id;
  for (const [name, code] of Object.entries(options.modules ?? {})) {
    await executor.loadModule(name, typeof code === 'string' ? Buffer.from(code) : code);
  }
  const common = { ...curveClient(keys), linger: 0 };
  const pull = new zmq.Pull({ ...common, receiveHighWaterMark: 100 });
  const push = new zmq.Push({ ...common, sendHighWaterMark: 0 });
  const sub = new zmq.Subscriber(common);
  sub.subscribe(STOP);
  sub.subscribe(BEAT);
  const pullReady = new Promise<void>((resolve) => pull.events.on('handshake', () => resolve()));
  sub.connect(options.endpoints.control);
  push.connect(options.endpoints.collector);
  pull.connect(options.endpoints.distributor);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), options.connectTimeoutMs ?? 30_000);
  });
  const late = await Promise.race([pullReady.then(() => false), timedOut]);
  clearTimeout(timer);
  if (late) {
    pull.close();
    push.close();
    sub.close();
    await executor.dispose();
    throw new JobError(
      'PipelineConnectTimeout',
      `pipeline worker could not connect to ${options.endpoints.distributor}: is it running, and are these the cluster's keys?`,
    );
  }
  await push.send(encodePipelineReply({ kind: 'ready', worker: id }));

  let stopped = false;
  let closeAll!: () => void;
  const done = new Promise<void>((resolve) => (closeAll = resolve));
  let lastActivity = Date.now();
  const idleExit = options.idleExitMs;
  const idleTimer =
    idleExit === undefined
      ? undefined
      : setInterval(
          () => {
            if (Date.now() - lastActivity > idleExit) stop();
          },
          Math.max(50, Math.min(1000, idleExit / 4)),
        );
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    if (idleTimer) clearInterval(idleTimer);
    pull.close();
    push.close();
    sub.close();
    void executor.dispose().finally(closeAll);
  };
  void (async () => {
    try {
      for await (const [m] of sub) {
        if (m?.toString() === STOP) break;
        lastActivity = Date.now();
      }
    } catch {
      // closed
    }
    stop();
  })();
  void (async () => {
    try {
      for await (const msg of pull) {
        let task: PipelineTask;
        try {
          task = decodePipelineTask(msg);
        } catch {
          continue; // malformed: dropped
        }
        lastActivity = Date.now();
        const started = nowMs();
        let ok = true;
        let value: unknown;
        try {
          value = executor.run(task.index, task.frames, { limitMs: task.timeLimitMs });
          if (isThenable(value)) value = await value;
        } catch (error) {
          ok = false;
          value = error instanceof Error ? error : new Error(String(error));
        }
        const completed = nowMs();
        lastActivity = Date.now();
        let enc;
        try {
          enc = encodeValue(value);
        } catch (error) {
          ok = false;
          enc = encodeValue(error);
        }
        await push.send(
          encodePipelineReply({
            kind: 'result',
            index: task.index,
            ok,
            started,
            completed,
            worker: id,
            body: enc.body,
            frames: enc.buffers,
          }),
        );
      }
    } catch {
      // closed
    }
    stop();
  })();
  return {
    id,
    done,
    close: async () => {
      stop();
      await done;
    },
  };
}

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

/** Runs `tasks` through a PUSH/PULL pipeline of workers; resolves with the results in task order. */
export async function runPipeline<T, R>(options: PipelineOptions<T, R>): Promise<PipelineResult<R>> {
  const t0 = performance.now();
  const keys = options.keys ?? newClusterKeys();
  const host = options.host ?? '127.0.0.1';
  const context = new zmq.Context();
  const ckeys = controllerKeysOf(keys);
  const zap = new ZapHandler(context, { pipeline: ckeys.enginePublicKeys });
  const server = { context, linger: 0, ...curveServer(ckeys.server.secretKey, 'pipeline') };
  const distributor = new zmq.Push({ ...server, sendHighWaterMark: 1000 });
  const collector = new zmq.Pull({ ...server, receiveHighWaterMark: 0 });
  const control = new zmq.Publisher(server);
  // One send at a time on the control socket (beats and STOP share it).
  let controlChain: Promise<unknown> = Promise.resolve();
  const publish = (message: string): Promise<unknown> =>
    (controlChain = controlChain.then(() => control.send(message)).catch(() => undefined));
  let beats: NodeJS.Timeout | undefined;
  const interrupted = (): void => {
    if (options.signal?.aborted) throw new JobError('Interrupted', 'interrupted while tasks were running');
  };
  const children: ChildProcess[] = [];
  const inline: PipelineWorkerHandle[] = [];
  let tempDir: string | undefined;
  try {
    await distributor.bind(tcpEndpoint(host));
    await collector.bind(tcpEndpoint(host));
    await control.bind(tcpEndpoint(host));
    const endpoints: PipelineEndpoints = {
      distributor: distributor.lastEndpoint!,
      collector: collector.lastEndpoint!,
      control: control.lastEndpoint!,
    };
    beats = setInterval(() => void publish(BEAT), BEAT_MS);
    await options.onListening?.(endpoints, keys);
    interrupted();
    const local = options.workers ?? 2;
    const expected = local + (options.externalWorkers ?? 0);
    if (expected < 1) throw new JobError('NoWorkers', 'a pipeline needs at least one worker');

    if (options.inline) {
      for (let i = 0; i < local; i++) {
        inline.push(await startPipelineWorker({ endpoints, keys, id: i, modules: options.modules ?? {} }));
      }
    } else if (local > 0) {
      tempDir = await mkdtemp(join(tmpdir(), 'starcluster-pipeline-'));
      await writeClusterKeys(join(tempDir, 'keys'), keys);
      const moduleArgs: string[] = [];
      for (const [name, code] of Object.entries(options.modules ?? {})) {
        const file = join(tempDir, `${name}.mjs`);
        await writeFile(file, code, { mode: 0o600 });
        moduleArgs.push('--module', `${name}=${file}`);
      }
      const entry = fileURLToPath(new URL('./worker-main.js', import.meta.url)).replace(/\.js$/, '');
      const script = import.meta.url.endsWith('.ts') ? `${entry}.ts` : `${entry}.js`;
      const execArgv = import.meta.url.endsWith('.ts') ? ['--import', 'tsx'] : [];
      for (let i = 0; i < local; i++) {
        children.push(
          spawn(
            process.execPath,
            [
              ...execArgv,
              script,
              '--distributor',
              endpoints.distributor,
              '--collector',
              endpoints.collector,
              '--control',
              endpoints.control,
              '--keys',
              join(tempDir, 'keys'),
              '--id',
              String(i),
              ...moduleArgs,
            ],
            { stdio: ['ignore', 'ignore', 'inherit'] },
          ),
        );
      }
    }

    // start barrier: every worker's PULL is connected before the first task goes out
    const ready = new Set<number>();
    const startTimeout = options.startTimeoutMs ?? 30_000;
    const total = options.tasks.length;
    const results = new Array<R>(total);
    const have = new Uint8Array(total);
    const errors: JobError[] = [];
    let done = 0;
    let duplicates = 0;
    let lastResultAt = Date.now();
    let wake: (() => void) | undefined;
    const collecting = (async () => {
      try {
        for await (const msg of collector) {
          let reply;
          try {
            reply = decodePipelineReply(msg);
          } catch {
            continue; // malformed: dropped
          }
          if (reply.kind === 'ready') {
            ready.add(reply.worker);
            wake?.();
            continue;
          }
          const i = reply.index;
          if (i < 0 || i >= total) continue;
          if (have[i]) {
            duplicates++;
            continue;
          }
          have[i] = 1;
          done++;
          lastResultAt = Date.now();
          const value = decodeValue(reply.body, reply.frames);
          if (reply.ok) results[i] = value as R;
          else {
            const e = (value ?? {}) as { name?: string; message?: string; stack?: string };
            errors.push(new RemoteTaskError(reply.worker, i, e.name ?? 'Error', e.message ?? String(value), e.stack));
          }
          options.onProgress?.(done, total);
          wake?.();
          if (done === total) break;
        }
      } catch {
        // closed
      }
    })();
    const until = Date.now() + startTimeout;
    while (ready.size < expected) {
      interrupted();
      if (Date.now() > until) {
        throw new JobError(
          'PipelineStartTimeout',
          `only ${ready.size} of ${expected} pipeline workers connected within ${startTimeout} ms`,
        );
      }
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 50);
      });
    }

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
    while (done < total) {
      interrupted();
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, Math.min(200, resendAfter));
      });
      if (done < total && Date.now() - lastResultAt >= resendAfter) {
        // the Guide's remedy for worker death: the sink knows which ids are missing; send those again
        lastResultAt = Date.now();
        for (let i = 0; i < total; i++) {
          if (!have[i]) {
            resent++;
            await send(i);
          }
        }
      }
    }
    await collecting;
    await publish(STOP);
    await Promise.all(inline.map((w) => w.done));
    if (errors.length === 1) throw errors[0]!;
    if (errors.length > 1) throw new CompositeTaskError(errors);
    return {
      results,
      resent,
      duplicates,
      seconds: (performance.now() - t0) / 1000,
      workers: expected,
    };
  } finally {
    // STOP is fire-and-forget (a worker that missed it is stopped here)
    if (beats) clearInterval(beats);
    await publish(STOP);
    await new Promise((r) => setTimeout(r, 20));
    await Promise.all(inline.map((w) => w.close()));
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    distributor.close();
    collector.close();
    control.close();
    await zap.close();
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
  }
}
