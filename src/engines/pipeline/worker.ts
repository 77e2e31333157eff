import { JobError } from '../../errors.js';
import { encodeValue } from '../protocol/codec.js';
import type { ClusterKeys, PeerKeys } from '../protocol/keys.js';
import { engineKeysOf } from '../protocol/keys.js';
import { nowMs } from '../protocol/messages.js';
import { readMessages } from '../protocol/read-loop.js';
import { curveClient, zmq } from '../protocol/sockets.js';
import type { PipelineReply, PipelineTask } from '../protocol/wire-pipeline.js';
import {
  decodePipelineControl,
  decodePipelineTask,
  encodePipelineReply,
  PIPELINE_BEAT,
  PIPELINE_STOP,
} from '../protocol/wire-pipeline.js';
import { isThenable, TaskExecutor } from '../engine/executor.js';

/**
 * A pipeline worker (see pipeline.ts): PULLs tasks from the distributor, PUSHes results to the
 * collector, and stops on the control socket's STOP.
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
  sub.subscribe(PIPELINE_STOP);
  sub.subscribe(PIPELINE_BEAT);
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
  void readMessages(sub, decodePipelineControl, (control) => {
    if (control === 'stop')
      stop(); // closes the socket, which ends this loop
    else lastActivity = Date.now();
  }).then(stop);
  void readMessages(pull, decodePipelineTask, async (task) => {
    lastActivity = Date.now();
    const reply = await runTask(executor, task, id);
    lastActivity = Date.now();
    await push.send(encodePipelineReply(reply));
  }).then(stop);
  return {
    id,
    done,
    close: async () => {
      stop();
      await done;
    },
  };
}

/** Runs one task on a worker's executor: its outcome, encoded, as the reply to the collector. */
async function runTask(
  executor: TaskExecutor,
  task: PipelineTask,
  worker: number,
): Promise<PipelineReply<Uint8Array | string>> {
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
  let encoded;
  try {
    encoded = encodeValue(value);
  } catch (error) {
    ok = false;
    encoded = encodeValue(error);
  }
  return {
    kind: 'result',
    index: task.index,
    ok,
    started,
    completed,
    worker,
    body: encoded.body,
    frames: encoded.buffers,
  };
}
