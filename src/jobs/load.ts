import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UsageError } from '../errors.js';
import { bundleJob, type JobBundles } from './bundle.js';
import type { JobDefinition } from './define.js';

/** Any job, with its types erased: the runner only moves values between the job's own functions. */
export type AnyJob = JobDefinition<unknown, unknown, unknown, unknown>;

export interface LoadedJob extends JobBundles {
  /** The job's definition as imported on the client (params, tasks, reduce, plot). */
  definition: AnyJob;
  /** Module name engines know the job by: `job-<name>-<hash>`. */
  moduleName: string;
}

/** Checks that a module's default export is a `defineJob({...})` value. */
export function asJobDefinition(file: string, exported: unknown): AnyJob {
  const job = exported as Partial<Record<keyof AnyJob, unknown>> | undefined;
  const missing = (['name', 'params', 'tasks', 'run', 'reduce'] as const).filter((key) =>
    key === 'name' ? typeof job?.name !== 'string' : key === 'params' ? !job?.params : typeof job?.[key] !== 'function',
  );
  if (!job || missing.length) {
    throw new UsageError('NotAJob', `${basename(file)} does not default-export a job (missing ${missing.join(', ')})`, {
      hint: "write `export default defineJob({ name, params, tasks, run, reduce })` (import it from 'starcluster/jobs')",
    });
  }
  if (job.plot !== undefined && typeof job.plot !== 'function') {
    throw new UsageError('NotAJob', `${basename(file)}: the job's plot must be a function returning figures`);
  }
  return job as AnyJob;
}

/**
 * Bundles a job file with esbuild and imports it here, for its params, tasks, reduce and plot.
 * The engine bundle (`engineCode`) is what `runJob` ships to engines, once per engine.
 */
export async function loadJob(file: string): Promise<LoadedJob> {
  const bundles = await bundleJob(file);
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(bundles.clientFile).href)) as { default?: unknown };
  } catch (error) {
    throw new UsageError('JobImportFailed', `importing job ${file} failed: ${(error as Error).message}`, {
      hint: 'the job module throws while loading; fix its top-level code',
      cause: error,
    });
  }
  const definition = asJobDefinition(bundles.file, mod.default);
  const safeName = definition.name.replace(/[^A-Za-z0-9_-]/g, '_');
  return { ...bundles, definition, moduleName: `job-${safeName}-${bundles.hash}` };
}
