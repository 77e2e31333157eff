import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Message, type Plugin } from 'esbuild';
import { UsageError } from '../errors.js';

/**
 * Bundling a job file and everything it imports into one ES module with esbuild, twice:
 *
 * - the **engine bundle** is self-contained (only node builtins stay external) because engines on
 *   other machines have no node_modules; packages that only make sense on the client (figure
 *   renderers with native addons, cloud SDKs, the CLI) are replaced by stubs that throw if used,
 *   so a job's `plot` may import them while its `run` still ships;
 * - the **client bundle** keeps starcluster's own dependencies external and is written under
 *   starcluster's package folder, so they resolve to the installed copies (native addons included).
 *
 * A job must not import zeromq: engines talk to the controller through the runtime, not the job.
 */

/** starcluster's package root (src/jobs/bundle.ts and dist/jobs/bundle.js are both two levels down). */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** What `import { defineJob } from 'starcluster/jobs'` resolves to (the sources ship in the package). */
export const JOB_API_ENTRY = join(packageRoot, 'src', 'jobs', 'define.ts');

/** Packages replaced by throwing stubs in the engine bundle. */
export const CLIENT_ONLY_PACKAGES = [
  '@resvg/resvg-js',
  'vega',
  'vega-lite',
  '@aws-sdk/*',
  '@smithy/*',
  'ssh2',
  '@oclif/core',
  'listr2',
  'esbuild',
  'tsx',
];
const FORBIDDEN = /^zeromq(\/|$)/;

export interface JobBundles {
  /** Absolute path of the job file. */
  file: string;
  /** The engine module's source (ESM): default export the job, `runTask` the task entry. */
  engineCode: string;
  /** Where the client module was written; import it with `import(pathToFileURL(...))`. */
  clientFile: string;
  /** Short content hash of the engine code: names the module on engines. */
  hash: string;
}

function matches(spec: string, pattern: string): boolean {
  if (pattern.endsWith('/*')) return spec.startsWith(pattern.slice(0, -1));
  return spec === pattern || spec.startsWith(`${pattern}/`);
}

function isBare(spec: string): boolean {
  return !spec.startsWith('.') && !spec.startsWith('/') && !/^[a-z]+:/i.test(spec);
}

const forbidZeromq = (file: string): Plugin => ({
  name: 'starcluster-forbid-zeromq',
  setup(b) {
    b.onResolve({ filter: FORBIDDEN }, (args) => ({
      errors: [
        {
          text: `job ${file} imports zeromq (from ${args.importer}): jobs must not import zeromq, engines reach the controller through the runtime; remove the import`,
        },
      ],
    }));
  },
});

const stubClientOnly: Plugin = {
  name: 'starcluster-engine-stubs',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (!isBare(args.path)) return undefined;
      if (CLIENT_ONLY_PACKAGES.some((p) => matches(args.path, p)))
        return { path: args.path, namespace: 'starcluster-stub' };
      return undefined;
    });
    b.onResolve({ filter: /\.node$/ }, (args) => ({ path: args.path, namespace: 'starcluster-stub' }));
    b.onLoad({ filter: /.*/, namespace: 'starcluster-stub' }, async (args) => ({
      loader: 'js',
      contents: await stubModule(args.path),
    }));
  },
};

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/**
 * An ES module standing in for `spec` on engines: every export the real package has (learnt by
 * importing it here, on the client, where it is installed) is a function that throws a clear
 * error when called or constructed. Unknown packages get a CommonJS proxy instead.
 */
async function stubModule(spec: string): Promise<string> {
  const fail = `const fail = function () { throw new Error(${JSON.stringify(
    `${spec} is not available on engines: use it only in a job's plot or reduce, which run on the client`,
  )}); };`;
  let names: string[] | undefined;
  try {
    const ns = (await import(spec)) as Record<string, unknown>;
    names = Object.keys(ns).filter((n) => n !== 'default' && IDENTIFIER.test(n));
  } catch {
    names = undefined;
  }
  if (!names) {
    return `${fail}\nmodule.exports = new Proxy(fail, { get: (_t, key) => (key === '__esModule' || key === 'then' || typeof key === 'symbol' ? undefined : fail) });`;
  }
  return [fail, 'export default fail;', ...names.map((n) => `export const ${n} = fail;`)].join('\n');
}

/** Keeps packages starcluster itself has installed external (they resolve from packageRoot). */
const externalOwnPackages: Plugin = {
  name: 'starcluster-client-externals',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (!isBare(args.path) || args.path.startsWith('node:')) return undefined;
      try {
        import.meta.resolve(args.path);
        return { path: args.path, external: true };
      } catch {
        return undefined; // not one of ours: bundle it from wherever the job found it
      }
    });
  },
};

// CommonJS packages bundled into an ES module call require() for builtins; give them one.
const BANNER = [
  "import { createRequire as __starclusterCreateRequire } from 'node:module';",
  "const require = __starclusterCreateRequire(import.meta.url.startsWith('file:') ? import.meta.url : 'file://' + process.cwd() + '/');",
].join('\n');

function formatMessages(messages: Message[]): string[] {
  return messages.map((m) => {
    const where = m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ` : '';
    return `${where}${m.text}`;
  });
}

/** The name of the engine module's task entry (see engineEntry). */
export const ENGINE_RUN_EXPORT = 'runTask';
/** Same, returning `{ v: value, e: engine, s: started, c: completed }` (for runners without task metadata). */
export const ENGINE_RUN_TAGGED_EXPORT = 'runTaskTagged';

/**
 * The engine module's entry: the job as default export, plus `runTask([index, task], ctx)` that
 * the engine runtime calls by reference (module, export) with its TaskContext appended.
 */
function engineEntry(file: string): string {
  return `import job from ${JSON.stringify(file)};
export default job;
export async function ${ENGINE_RUN_EXPORT}(item, ctx) {
  const [index, task] = item;
  return job.run(task, { engine: ctx && typeof ctx.engine === 'number' ? ctx.engine : -1, index, signal: ctx ? ctx.signal : undefined });
}
export async function ${ENGINE_RUN_TAGGED_EXPORT}(item, ctx) {
  const s = Date.now();
  const v = await ${ENGINE_RUN_EXPORT}(item, ctx);
  return { v, e: ctx && typeof ctx.engine === 'number' ? ctx.engine : -1, s, c: Date.now() };
}
`;
}

async function esbuildOne(
  file: string,
  plugins: Plugin[],
  extra: { sourcemap: boolean; wrap?: boolean },
): Promise<string> {
  try {
    const result = await build({
      ...(extra.wrap
        ? {
            stdin: {
              contents: engineEntry(file),
              resolveDir: dirname(file),
              sourcefile: 'engine-entry.js',
              loader: 'js',
            },
          }
        : { entryPoints: [file] }),
      bundle: true,
      write: false,
      // A job written anywhere may import the job API as `starcluster/jobs`, and packages starcluster
      // has (zod...) without installing them next to the job.
      alias: { 'starcluster/jobs': JOB_API_ENTRY },
      nodePaths: [join(packageRoot, 'node_modules')],
      platform: 'node',
      target: 'node20',
      format: 'esm',
      logLevel: 'silent',
      sourcemap: extra.sourcemap ? 'inline' : false,
      sourcesContent: false,
      banner: { js: BANNER },
      plugins,
    });
    const out = result.outputFiles[0];
    if (!out) throw new Error('esbuild produced no output');
    return out.text;
  } catch (error) {
    const errors = (error as { errors?: Message[] }).errors;
    if (errors?.length) {
      const lines = formatMessages(errors);
      throw new UsageError('JobBundleFailed', `cannot bundle job ${file}: ${lines[0]}`, {
        details: lines.slice(1),
        hint: 'fix the job file (or its imports) and run again',
        cause: error,
      });
    }
    throw error;
  }
}

/** Where client bundles go: under starcluster's own node_modules, so its packages resolve. */
function clientCacheDir(): string {
  const own = join(packageRoot, 'node_modules', '.cache', 'starcluster', 'jobs');
  if (existsSync(join(packageRoot, 'node_modules'))) return own;
  return join(tmpdir(), 'starcluster-jobs');
}

/** Bundles `file` for engines and for the client. Throws UsageError for a missing or broken job. */
export async function bundleJob(file: string): Promise<JobBundles> {
  const abs = resolve(file);
  if (!existsSync(abs)) {
    throw new UsageError('JobNotFound', `job file ${file} does not exist: give the path of a .ts or .js job file`);
  }
  const [engineCode, clientCode] = await Promise.all([
    esbuildOne(abs, [forbidZeromq(abs), stubClientOnly], { sourcemap: false, wrap: true }),
    esbuildOne(abs, [forbidZeromq(abs), externalOwnPackages], { sourcemap: false }),
  ]);
  const hash = createHash('sha256').update(engineCode).digest('hex').slice(0, 16);
  const clientHash = createHash('sha256').update(abs).update(clientCode).digest('hex').slice(0, 16);
  const dir = clientCacheDir();
  await mkdir(dir, { recursive: true });
  const clientFile = join(dir, `${clientHash}.mjs`);
  if (!existsSync(clientFile)) {
    const tmp = `${clientFile}.${process.pid}.tmp`;
    await writeFile(tmp, clientCode);
    await rename(tmp, clientFile);
  }
  return { file: abs, engineCode, clientFile, hash };
}
