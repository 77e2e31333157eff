import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AbortError, JobError, StarclusterError, throwIfAborted, UsageError } from '../errors.js';
import type { IoHost } from '../io-host.js';
import type { TaskBackend } from './backend.js';
import type { Figure, JobContext, TaskOutcome } from './define.js';
import { type LoadedJob, loadJob } from './load.js';
import { resolveParams } from './params.js';

/**
 * `starcluster run`: bundle a job, ship it once to every engine, stream its tasks through a
 * load-balanced view with progress (done/total, rate, ETA), reduce on the client and write the
 * figures. Where tasks run is a `TaskBackend` the caller opens (a running cluster, a throwaway
 * local one) and closes.
 */
export interface RunJobOptions {
  file: string;
  /** `--param key=value` strings, coerced and validated by the job's schema. */
  params?: Record<string, string>;
  /** Scheduler scheme for the LoadBalancedView. */
  scheme?: string;
  /** Per-task time limit on the engines (ms): a task running longer fails the run (TaskTimeLimit). */
  timeLimitMs?: number;
  /** Where figures go; default `./starcluster-out/<job>/`. */
  outDir?: string;
  io: IoHost;
  signal?: AbortSignal;
}

export interface RunJobResult {
  job: string;
  cluster: string;
  engines: number;
  tasks: number;
  /** Wall time of the map (shipping the module included), seconds. */
  seconds: number;
  result: unknown;
  /** Files written: `name.svg` and `name.png` per figure. */
  figures: string[];
  params: Record<string, unknown>;
  /** Engines that were there when the tasks started and had gone (died, or their node was lost) by the end. */
  enginesLost: number[];
  /** What tasks printed on their engines (only the tasks that printed), in task order. */
  printed: { task: number; engine: number; stdout?: string; stderr?: string }[];
}

export const SCHEMES = ['lru', 'plainrandom', 'twobin', 'leastload', 'weighted'] as const;

/** Checks the run's own options (scheme, time limit), so a typo costs no cluster either. */
export function checkRunOptions(options: Pick<RunJobOptions, 'scheme' | 'timeLimitMs'>): void {
  if (options.scheme && !(SCHEMES as readonly string[]).includes(options.scheme)) {
    throw new JobError(
      'BadScheme',
      `unknown scheme ${JSON.stringify(options.scheme)}: use one of ${SCHEMES.join(', ')}`,
    );
  }
  const limit = options.timeLimitMs;
  if (limit !== undefined && !(Number.isFinite(limit) && limit > 0)) {
    throw new UsageError(
      'BadTimeLimit',
      `time limit ${String(limit / 1000)} s is not a positive number of seconds: give the seconds one task may run, e.g. --time-limit 60`,
    );
  }
}

/** Loads the job and checks its params before anything starts (so a typo costs no cluster). */
export async function prepareJob(
  file: string,
  rawParams: Record<string, string> = {},
): Promise<{ job: LoadedJob; params: unknown }> {
  const job = await loadJob(file);
  const params = resolveParams(job.definition.name, job.definition.params, rawParams);
  return { job, params };
}

/** Runs a prepared job on an open backend. */
export async function runPreparedJob(
  prepared: { job: LoadedJob; params: unknown },
  backend: TaskBackend,
  options: Omit<RunJobOptions, 'file' | 'params'>,
): Promise<RunJobResult> {
  const { job, params } = prepared;
  const { io, signal } = options;
  const def = job.definition;
  const name = def.name;
  checkRunOptions(options);
  const engines = backend.engineCount();
  if (engines < 1) {
    throw new JobError('NoEngines', `cluster ${backend.cluster} has no engines registered: restart its engines`, {
      hint: `starcluster terminate ${backend.cluster} && starcluster start ${backend.cluster}`,
    });
  }
  const jobCtx: JobContext = { engines };
  const started = performance.now();
  await shipJob(job, backend, engines, io);
  throwIfAborted(signal);

  const tasks = await def.tasks(params, jobCtx);
  if (!Array.isArray(tasks)) throw new JobError('BadTasks', `job ${name}: tasks() must return an array of task inputs`);
  const { outcomes, enginesLost } = await mapTasks(job, tasks, backend, engines, options);

  const reduceId = `job:${name}:reduce`;
  io.progress({ id: reduceId, state: 'start', title: `reduce ${name}` });
  let result: unknown;
  try {
    result = await def.reduce(outcomes, params, jobCtx);
  } catch (error) {
    io.progress({ id: reduceId, state: 'fail', title: `reduce ${name}`, detail: messageOf(error) });
    throw new JobError('ReduceFailed', `job ${name}: reduce failed: ${messageOf(error)}`, { cause: error });
  }
  io.progress({ id: reduceId, state: 'done', title: `reduce ${name}` });
  const seconds = (performance.now() - started) / 1000;
  const figures = await plotJob(job, result, params, options);
  return {
    job: name,
    cluster: backend.cluster,
    engines,
    tasks: tasks.length,
    seconds,
    result,
    figures,
    params: params as Record<string, unknown>,
    enginesLost,
    printed: outcomes
      .filter((o) => o.stdout || o.stderr)
      .map((o) => ({
        task: o.index,
        engine: o.engine,
        ...(o.stdout ? { stdout: o.stdout } : {}),
        ...(o.stderr ? { stderr: o.stderr } : {}),
      })),
  };
}

/** Ships the job's engine module to every engine, once. */
async function shipJob(job: LoadedJob, backend: TaskBackend, engines: number, io: IoHost): Promise<void> {
  const name = job.definition.name;
  const shipId = `job:${name}:ship`;
  io.progress({ id: shipId, state: 'start', title: `ship ${name} to ${engines} engine${engines === 1 ? '' : 's'}` });
  try {
    await backend.loadModule(job.moduleName, job.engineCode);
  } catch (error) {
    io.progress({ id: shipId, state: 'fail', title: `ship ${name}`, detail: messageOf(error) });
    throw error;
  }
  io.progress({
    id: shipId,
    state: 'done',
    title: `ship ${name} to ${engines} engine${engines === 1 ? '' : 's'}`,
    detail: `${Math.round(job.engineCode.length / 1024)} KiB`,
  });
}

/**
 * Streams the tasks through the backend with progress (done/total, rate, ETA); every result must arrive, in
 * task order. Warns when engines left or the controller restarted meanwhile.
 */
async function mapTasks(
  job: LoadedJob,
  tasks: unknown[],
  backend: TaskBackend,
  engines: number,
  options: Omit<RunJobOptions, 'file' | 'params'>,
): Promise<{ outcomes: TaskOutcome<unknown>[]; enginesLost: number[] }> {
  const { io, signal } = options;
  const name = job.definition.name;
  const limit = options.timeLimitMs;
  const total = tasks.length;
  const runId = `job:${name}:tasks`;
  const title = `run ${name}: ${total} task${total === 1 ? '' : 's'} on ${engines} engine${engines === 1 ? '' : 's'}`;
  io.progress({ id: runId, state: 'start', title, current: 0, total });
  const mapStart = performance.now();
  let done = 0;
  let lastReport = 0;
  const report = (state: 'update' | 'done'): void => {
    const elapsed = (performance.now() - mapStart) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const eta = rate > 0 ? (total - done) / rate : undefined;
    const detail =
      state === 'done'
        ? `${formatRate(rate)} tasks/s, ${elapsed.toFixed(1)} s`
        : `${formatRate(rate)} tasks/s${eta !== undefined ? `, ETA ${formatSeconds(eta)}` : ''}`;
    io.progress({ id: runId, state, title, current: done, total, detail });
  };
  const enginesAtStart = backend.engineIds?.() ?? [];
  const restartsAtStart = backend.controllerRestarts?.() ?? 0;
  let outcomes: TaskOutcome<unknown>[];
  try {
    outcomes = await backend.map({
      module: job.moduleName,
      tasks: tasks.map((task, index) => [index, task]),
      scheme: options.scheme,
      ...(limit ? { timeLimitMs: limit } : {}),
      signal,
      onProgress: (n) => {
        done = n;
        const now = performance.now();
        if (now - lastReport > 100 || done === total) {
          lastReport = now;
          report('update');
        }
      },
    });
  } catch (error) {
    io.progress({ id: runId, state: 'fail', title, current: done, total, detail: messageOf(error) });
    if (signal?.aborted && !StarclusterError.is(error)) throw new AbortError(undefined, { cause: error });
    throw error;
  }
  done = outcomes.length;
  if (outcomes.length !== total || outcomes.some((o, i) => o?.index !== i)) {
    throw new JobError('MissingResults', `job ${name}: ${outcomes.length} results for ${total} tasks`);
  }
  report('done');
  const enginesNow = new Set(backend.engineIds?.() ?? enginesAtStart);
  const enginesLost = enginesAtStart.filter((id) => !enginesNow.has(id));
  warnAboutChurn(io, enginesLost, (backend.controllerRestarts?.() ?? 0) - restartsAtStart);
  return { outcomes, enginesLost };
}

function warnAboutChurn(io: IoHost, enginesLost: number[], restarts: number): void {
  if (restarts > 0) {
    io.notify({
      level: 'warn',
      code: 'SC_RUN_W0002',
      message: `the controller restarted ${restarts === 1 ? 'once' : `${restarts} times`} during the run; the tasks it had not answered were sent again and every result arrived once`,
      data: { controllerRestarts: restarts },
    });
  }
  if (enginesLost.length) {
    io.notify({
      level: 'warn',
      code: 'SC_RUN_W0001',
      message: `engine${enginesLost.length === 1 ? '' : 's'} ${enginesLost.join(', ')} left during the run (died, or the node was lost); their tasks were resubmitted and every result arrived once`,
      data: { enginesLost },
    });
  }
}

/** The job's figures (if it has `plot`), written to the output folder; their paths. */
async function plotJob(
  job: LoadedJob,
  result: unknown,
  params: unknown,
  options: Pick<RunJobOptions, 'outDir' | 'io'>,
): Promise<string[]> {
  const { io } = options;
  const def = job.definition;
  const name = def.name;
  if (!def.plot) return [];
  const outDir = resolve(options.outDir ?? join('starcluster-out', name));
  const plotId = `job:${name}:plot`;
  io.progress({ id: plotId, state: 'start', title: `figures → ${outDir}` });
  let figures: string[];
  try {
    figures = await writeFigures(await def.plot(result, params), outDir);
  } catch (error) {
    io.progress({ id: plotId, state: 'fail', title: `figures → ${outDir}`, detail: messageOf(error) });
    throw StarclusterError.is(error)
      ? error
      : new JobError('PlotFailed', `job ${name}: plot failed: ${messageOf(error)}`, { cause: error });
  }
  io.progress({ id: plotId, state: 'done', title: `figures → ${outDir}`, detail: `${figures.length} files` });
  return figures;
}

/** Writes `name.svg` and `name.png` per figure; returns the paths. */
export async function writeFigures(figures: readonly Figure[], outDir: string): Promise<string[]> {
  if (!Array.isArray(figures)) throw new JobError('BadFigures', 'plot() must return an array of figures');
  await mkdir(outDir, { recursive: true });
  const paths: string[] = [];
  const seen = new Set<string>();
  for (const figure of figures) {
    if (!figure || typeof figure.name !== 'string' || !/^[\w.-]+$/.test(figure.name) || figure.name.startsWith('.')) {
      throw new JobError('BadFigures', `figure name ${JSON.stringify(figure?.name)} is not a plain file stem`);
    }
    if (seen.has(figure.name)) throw new JobError('BadFigures', `two figures are named ${figure.name}`);
    seen.add(figure.name);
    const svg = join(outDir, `${figure.name}.svg`);
    const png = join(outDir, `${figure.name}.png`);
    await writeFile(svg, figure.svg);
    await writeFile(png, figure.png);
    paths.push(svg, png);
  }
  return paths;
}

function formatRate(rate: number): string {
  return rate >= 100 ? Math.round(rate).toLocaleString('en-US') : rate.toFixed(1);
}

function formatSeconds(s: number): string {
  if (s < 60) return `${Math.ceil(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
