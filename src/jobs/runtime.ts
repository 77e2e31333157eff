import { cpus } from 'node:os';
import { availableParallelism } from 'node:os';
import { JobError, UsageError } from '../errors.js';
import type { IoHost } from '../io-host.js';
import { type Client, connectToCluster, listRunningClusters, startThrowawayCluster } from '../engines/cluster.js';
import type { Scheme } from '../engines/index.js';
import type { TaskBackend } from './backend.js';
import { ENGINE_RUN_EXPORT, ENGINE_RUN_TAGGED_EXPORT } from './bundle.js';
import type { TaskOutcome } from './define.js';

/** Where `starcluster run` runs: a running cluster (the only one when unnamed) or a throwaway local one. */
export type RunTarget = { cluster?: string | undefined } | { local: number | 'auto'; pipeline?: boolean };

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
  errors?: TaskErrorLike[];
  message?: string;
}

/** The job runner's view of the engine runtime's client. */
export function clientBackend(client: Client, cluster: string): TaskBackend {
  return {
    cluster,
    engineCount: () => client.ids.length,
    engineIds: () => client.ids,
    loadModule: (name, code) => client.loadModule(name, code),
    map: async (request) => {
      const view = client.loadBalancedView(request.scheme ? { scheme: request.scheme as Scheme } : {});
      const ar = view.map(
        { module: request.module, export: ENGINE_RUN_EXPORT, context: true },
        request.tasks as unknown[],
        { chunksize: 1 },
      );
      ar.onProgress((done, total) => request.onProgress(done, total));
      let values: unknown[];
      try {
        values = await (request.signal ? raceAbort(ar.get(), request.signal) : ar.get());
      } catch (error) {
        throw taskFailure(error, ar.taskIds);
      }
      return values.map((value, index): TaskOutcome<unknown> => ({
        index,
        value,
        engine: ar.metadata[index]?.engine ?? -1,
        started: ar.metadata[index]?.started ?? 0,
        completed: ar.metadata[index]?.completed ?? 0,
      }));
    },
  };
}

/**
 * `run --local --pipeline`: the classic PUSH/PULL pipeline (a distributor, N worker processes, a
 * collector, a PUB to stop them) instead of the controller; the job module is handed to every worker.
 */
export function pipelineBackend(workers: number): TaskBackend {
  const modules: Record<string, string> = {};
  return {
    cluster: 'local (pipeline)',
    engineCount: () => workers,
    loadModule: (name, code) => {
      modules[name] = code;
      return Promise.resolve();
    },
    map: async (request) => {
      const { runPipeline } = await import('../engines/index.js');
      type Tagged = { v: unknown; e: number; s: number; c: number };
      let results: Tagged[];
      try {
        const run = runPipeline<unknown, Tagged>({
          tasks: request.tasks,
          worker: { module: request.module, export: ENGINE_RUN_TAGGED_EXPORT, context: true },
          modules,
          workers,
          onProgress: (done, total) => request.onProgress(done, total),
        });
        results = (await (request.signal ? raceAbort(run, request.signal) : run)).results;
      } catch (error) {
        throw taskFailure(
          error,
          request.tasks.map((_, i) => i),
        );
      }
      return results.map((r, index) => ({ index, value: r.v, engine: r.e, started: r.s, completed: r.c }));
    },
  };
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new JobError('Interrupted', 'interrupted while tasks were running'));
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
      : (first.message ?? '');
  const stack = (first.remoteStack ?? '').split('\n').filter(Boolean).slice(0, 20);
  const others = all.length > 1 ? [`(${all.length - 1} more task${all.length === 2 ? '' : 's'} failed)`] : [];
  return new JobError('TaskFailed', `task ${index >= 0 ? index : `#${first.taskId}`} failed${where}: ${what}`, {
    details: [...stack, ...others],
    hint:
      first.code === 'EngineDied'
        ? 'the engine died; its tasks were resubmitted as often as the controller allows'
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
