import { cpus } from 'node:os';
import { availableParallelism } from 'node:os';
import { JobError, UsageError } from '../errors.js';
import type { IoHost } from '../io-host.js';
import {
  connectToCluster,
  listRunningClusters,
  openRemotePipeline,
  runningEngineState,
  startThrowawayCluster,
  type RemotePipelineWorkers,
} from '../deploy/index.js';
import { runPipeline, type Client, type Scheme } from '../engines/index.js';
import type { ClusterKeys } from '../engines/protocol/keys.js';
import { loadClusterKeys } from '../engines/protocol/keys.js';
import { clusterStateDir } from '../paths.js';
import type { TaskBackend } from './backend.js';
import { ENGINE_RUN_EXPORT, ENGINE_RUN_TAGGED_EXPORT } from './bundle.js';
import type { TaskOutcome } from './define.js';

/**
 * Where `starcluster run` runs: a running cluster (the only one when unnamed) or a throwaway local
 * one; with `pipeline`, through a PUSH/PULL pipeline of workers instead of the controller.
 */
export type RunTarget =
  { cluster?: string | undefined; pipeline?: boolean } | { local: number | 'auto'; pipeline?: boolean };

export interface OpenRunTarget {
  backend: TaskBackend;
  /** Disconnects; for a throwaway cluster also stops its controller and engines. */
  close(): Promise<void>;
}

interface TaskErrorLike {
  code?: string;
  engine?: number;
  taskId?: number;
  remoteName?: string;
  remoteMessage?: string;
  remoteStack?: string;
  reason?: string;
  errors?: TaskErrorLike[];
  message?: string;
}

/** The job runner's view of the engine runtime's client. */
export function clientBackend(client: Client, cluster: string): TaskBackend {
  return {
    cluster,
    engineCount: () => client.ids.length,
    engineIds: () => client.ids,
    controllerRestarts: () => client.controllerRestarts,
    loadModule: (name, code) => client.loadModule(name, code),
    map: async (request) => {
      const view = client.loadBalancedView({
        ...(request.scheme ? { scheme: request.scheme as Scheme } : {}),
        ...(request.timeLimitMs ? { timeLimitMs: request.timeLimitMs } : {}),
      });
      const ar = view.map(
        { module: request.module, export: ENGINE_RUN_EXPORT, context: true },
        request.tasks as unknown[],
        { chunksize: 1 },
      );
      ar.onProgress((done, total) => request.onProgress(done, total));
      let values: unknown[];
      try {
        // interrupted: queued tasks are aborted and running ones interrupted, so the cluster is free at once
        values = await (request.signal
          ? raceAbort(ar.get(), request.signal, () => ar.abort({ running: true }))
          : ar.get());
      } catch (error) {
        throw taskFailure(error, ar.taskIds);
      }
      return values.map((value, index): TaskOutcome<unknown> => {
        const m = ar.metadata[index];
        return {
          index,
          value,
          engine: m?.engine ?? -1,
          started: m?.started ?? 0,
          completed: m?.completed ?? 0,
          ...(m?.stdout ? { stdout: m.stdout } : {}),
          ...(m?.stderr ? { stderr: m.stderr } : {}),
        };
      });
    },
  };
}

/**
 * `run --pipeline`: the classic PUSH/PULL pipeline (a distributor, workers, a collector, a PUB to
 * stop them) instead of the controller; the job module is handed to every worker. The distributor
 * and collector are always on this machine's 127.0.0.1. Workers are `workers` local processes, or
 * with `remote` one per engine slot on every node of a remote cluster (reached through SSH reverse
 * tunnels, stopped at the end of the run whatever happens).
 */
export function pipelineBackend(
  workers: number,
  options: { cluster?: string; keys?: ClusterKeys; remote?: RemotePipelineWorkers } = {},
): TaskBackend {
  const { remote } = options;
  const modules: Record<string, string> = {};
  const count = remote ? remote.workers : workers;
  return {
    cluster: `${options.cluster ?? 'local'} (pipeline)`,
    engineCount: () => count,
    engineIds: () => Array.from({ length: count }, (_, i) => i),
    loadModule: async (name, code) => {
      modules[name] = code;
      if (remote) await remote.ship(modules);
    },
    map: async (request) => {
      type Tagged = { v: unknown; e: number; s: number; c: number };
      let results: Tagged[];
      try {
        const keys = remote?.keys ?? options.keys;
        results = (
          await runPipeline<unknown, Tagged>({
            tasks: request.tasks,
            worker: { module: request.module, export: ENGINE_RUN_TAGGED_EXPORT, context: true },
            modules,
            workers: remote ? 0 : workers,
            externalWorkers: remote ? remote.workers : 0,
            ...(keys ? { keys } : {}),
            ...(request.signal ? { signal: request.signal } : {}),
            ...(request.timeLimitMs ? { timeLimitMs: request.timeLimitMs } : {}),
            ...(remote ? { onListening: (endpoints) => remote.start(endpoints) } : {}),
            onProgress: (done, total) => request.onProgress(done, total),
          })
        ).results;
      } catch (error) {
        throw await pipelineFailure(error, request.tasks.length, remote);
      } finally {
        await remote?.stop();
      }
      return results.map((r, index) => ({ index, value: r.v, engine: r.e, started: r.s, completed: r.c }));
    },
  };
}

async function pipelineFailure(error: unknown, tasks: number, remote?: RemotePipelineWorkers): Promise<unknown> {
  if (remote && (error as { code?: string }).code === 'PipelineStartTimeout') {
    const logs = await remote.logs().catch(() => []);
    return new JobError('PipelineStartTimeout', (error as Error).message, {
      details: logs.length
        ? ['last lines of the workers’ logs:', ...logs]
        : ['the workers wrote nothing to their logs'],
      hint: 'each node needs Node.js 20+ and the cluster’s engine key (restart the cluster’s engines)',
      cause: error,
    });
  }
  return taskFailure(
    error,
    Array.from({ length: tasks }, (_, i) => i),
  );
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal, onAborted: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      onAborted();
      reject(new JobError('Interrupted', 'interrupted while tasks were running'));
    };
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** A remote failure as a JobError naming the task's index in the job, its engine and the remote message. */
export function taskFailure(error: unknown, taskIds: readonly number[]): unknown {
  const e = error as TaskErrorLike;
  const all = e.code === 'CompositeTaskError' && e.errors?.length ? e.errors : [e];
  const first = all[0]!;
  if (first.taskId === undefined) return error;
  const index = taskIds.indexOf(first.taskId);
  const where = first.engine !== undefined && first.engine >= 0 ? ` on engine ${first.engine}` : '';
  const what =
    first.remoteMessage !== undefined
      ? `${first.remoteName ?? 'Error'}: ${first.remoteMessage}`
      : (first.reason ?? first.message ?? '');
  const stack = (first.remoteStack ?? '').split('\n').filter(Boolean).slice(0, 20);
  const others = all.length > 1 ? [`(${all.length - 1} more task${all.length === 2 ? '' : 's'} failed)`] : [];
  return new JobError('TaskFailed', `task ${index >= 0 ? index : `#${first.taskId}`} failed${where}: ${what}`, {
    details: [...stack, ...others],
    hint:
      first.code === 'EngineDied'
        ? 'the engine died; its tasks were resubmitted as often as the controller allows'
        : first.code === 'TaskTimeLimit'
          ? 'raise --time-limit, or split the work into smaller tasks'
          : undefined,
    cause: error,
  });
}

/** `--local` without -n: one engine per core this machine gives us. */
export function defaultLocalEngines(): number {
  return Math.max(1, typeof availableParallelism === 'function' ? availableParallelism() : cpus().length);
}

export async function openRunTarget(
  target: RunTarget,
  options: { io: IoHost; signal?: AbortSignal; env?: NodeJS.ProcessEnv },
): Promise<OpenRunTarget> {
  if (!('local' in target) && target.pipeline) {
    const name = target.cluster ?? (await onlyRunningCluster(options.env));
    return openClusterPipeline(name, options.env);
  }
  if ('local' in target && target.pipeline) {
    const workers = target.local === 'auto' ? defaultLocalEngines() : target.local;
    return { backend: pipelineBackend(workers), close: () => Promise.resolve() };
  }
  if ('local' in target) {
    const engines = target.local === 'auto' ? defaultLocalEngines() : target.local;
    const cluster = await startThrowawayCluster({ engines, io: options.io, signal: options.signal });
    return {
      backend: clientBackend(cluster.client, 'local'),
      close: () => cluster.close(),
    };
  }
  const name = target.cluster ?? (await onlyRunningCluster(options.env));
  const client = await connectToCluster(name, { env: options.env });
  return {
    backend: clientBackend(client, name),
    close: () => client.close(),
  };
}

/**
 * `run --pipeline -c NAME`: pipeline workers on the cluster's engine slots, with the cluster's own
 * CURVE keys. A local cluster's workers are processes on this machine; a remote cluster's run on
 * its nodes (src/deploy/pipeline-workers.ts).
 */
async function openClusterPipeline(name: string, env?: NodeJS.ProcessEnv): Promise<OpenRunTarget> {
  const stateDir = clusterStateDir(name, env);
  const state = await runningEngineState(name, stateDir);
  const slots = Object.values(state.engines).reduce((a, b) => a + b, 0);
  if (state.provider === 'local') {
    const keys = await loadClusterKeys(stateDir);
    return { backend: pipelineBackend(slots, { cluster: name, keys }), close: () => Promise.resolve() };
  }
  const remote = await openRemotePipeline({ cluster: name, stateDir, state, ...(env ? { env } : {}) });
  return { backend: pipelineBackend(slots, { cluster: name, remote }), close: () => remote.close() };
}

/** The one running cluster, or a UsageError listing them (or saying how to start one). */
export async function onlyRunningCluster(env?: NodeJS.ProcessEnv): Promise<string> {
  const running = await listRunningClusters(env);
  if (running.length === 1) return running[0]!;
  if (running.length === 0) {
    throw new UsageError('NoRunningCluster', 'no running cluster to run on: start one, or run on a throwaway one', {
      hint: 'starcluster start mycluster   or   starcluster run JOB.ts --local -n 2',
    });
  }
  throw new UsageError(
    'WhichCluster',
    `${running.length} clusters are running (${running.join(', ')}): choose one with -c NAME`,
    { details: running.map((n) => `starcluster run ... -c ${n}`) },
  );
}
