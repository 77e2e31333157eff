import { basename, dirname, isAbsolute, relative } from 'node:path';
import { openRunTarget, type RunTarget } from './runtime.js';
import {
  checkRunOptions,
  prepareJob,
  runPreparedJob,
  type RunJobOptions as RunPreparedOptions,
  type RunJobResult,
} from './run.js';

export { defineJob } from './define.js';
export type { Figure, JobContext, JobDefinition, TaskContext, TaskOutcome } from './define.js';
export { loadJob, type LoadedJob } from './load.js';
export { parseParamFlags, resolveParams } from './params.js';
export { prepareJob, runPreparedJob, writeFigures, SCHEMES, type RunJobResult } from './run.js';
export type { RunTarget } from './runtime.js';

export interface RunJobOptions extends RunPreparedOptions {
  /** `{ cluster }` (absent name: the only running cluster) or `{ local: N }` for a throwaway local cluster. */
  target: RunTarget;
  env?: NodeJS.ProcessEnv;
}

/**
 * `starcluster run`: load and check the job (params validated before any cluster is touched),
 * open the target (connect to a running cluster, or start a throwaway local one), run, close.
 */
export async function runJob(options: RunJobOptions): Promise<RunJobResult> {
  const { file, params, target: where, env, ...runOptions } = options;
  checkRunOptions(runOptions);
  const prepared = await prepareJob(file, params);
  const target = await openRunTarget(where, {
    io: options.io,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(env ? { env } : {}),
  });
  try {
    return await runPreparedJob(prepared, target.backend, runOptions);
  } finally {
    await target.close();
  }
}

/** A short human summary: the headline numbers of the result and where the figures are. */
export function renderRunResult(result: RunJobResult, cwd = process.cwd()): string {
  const lines = [
    `${result.job} on ${result.cluster}: ${result.tasks} tasks on ${result.engines} engine${result.engines === 1 ? '' : 's'} in ${result.seconds.toFixed(2)} s`,
  ];
  lines.push(...summarise(result.result).map((l) => `  ${l}`));
  lines.push(...renderPrinted(result.printed));
  if (result.figures.length) {
    const svgs = result.figures.filter((f) => f.endsWith('.svg'));
    const dir = dirname(svgs[0] ?? result.figures[0]!);
    lines.push(`figures (.svg and .png) in ${shortPath(dir, cwd)}/:`);
    for (const f of svgs) lines.push(`  ${basename(f, '.svg')}.svg  ${basename(f, '.svg')}.png`);
  }
  return lines.join('\n');
}

const PRINTED_TASKS = 10;
const PRINTED_LINES = 20;

/** What tasks printed, each line behind its task and engine (the first tasks and lines; --json has all). */
function renderPrinted(printed: RunJobResult['printed'] = []): string[] {
  if (printed.length === 0) return [];
  const lines = [`printed by ${printed.length} task${printed.length === 1 ? '' : 's'}:`];
  for (const p of printed.slice(0, PRINTED_TASKS)) {
    const text = `${p.stdout ?? ''}${p.stderr ?? ''}`.replace(/\n$/, '').split('\n');
    for (const line of text.slice(0, PRINTED_LINES)) lines.push(`  [task ${p.task}, engine ${p.engine}] ${line}`);
    if (text.length > PRINTED_LINES)
      lines.push(`  [task ${p.task}, engine ${p.engine}] … ${text.length - PRINTED_LINES} more lines`);
  }
  if (printed.length > PRINTED_TASKS)
    lines.push(`  … ${printed.length - PRINTED_TASKS} more tasks printed (all of it is in --json)`);
  return lines;
}

/** `cwd`-relative when inside it, absolute otherwise. */
function shortPath(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}

/** Scalars of the result as `key: value`, arrays as counts; at most 12 lines. */
export function summarise(value: unknown): string[] {
  if (value === null || typeof value !== 'object') return [`result: ${formatScalar(value)}`];
  if (Array.isArray(value)) return [`result: ${value.length} items`];
  const lines: string[] = [];
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (lines.length >= 12) break;
    if (Array.isArray(v) || ArrayBuffer.isView(v)) lines.push(`${key}: ${(v as ArrayLike<unknown>).length} items`);
    else if (v !== null && typeof v === 'object') continue;
    else if (v !== undefined) lines.push(`${key}: ${formatScalar(v)}`);
  }
  return lines;
}

function formatScalar(v: unknown): string {
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return Math.abs(v) >= 1e21 ? v.toExponential(6) : v.toLocaleString('en-US');
    return Math.abs(v) >= 1e-3 && Math.abs(v) < 1e6 ? String(Number(v.toPrecision(10))) : v.toExponential(4);
  }
  return String(v);
}
