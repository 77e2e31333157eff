import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError } from '../errors.js';
import type { PluginSettings } from '../config/types.js';
import type { PluginDefinition } from './plugins.js';
import { sgeNotice } from './slurm.js';

/** The top-level plugins/ folder (the same from src/setup and from dist/setup). */
export const BUNDLED_PLUGIN_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'plugins');

/**
 * SETUP_CLASS values that name a bundled plugin: our short names and StarCluster's class paths,
 * so a StarCluster config keeps working.
 */
export const BUNDLED_PLUGINS: Record<string, string> = {
  pkginstaller: 'pkginstaller',
  'starcluster.plugins.pkginstaller.PackageInstaller': 'pkginstaller',
  users: 'users',
  'starcluster.plugins.users.CreateUsers': 'users',
  pypkginstaller: 'pypkginstaller',
  'starcluster.plugins.pypkginstaller.PyPkgInstaller': 'pypkginstaller',
  tmux: 'tmux',
  'starcluster.plugins.tmux.TmuxControlCenter': 'tmux',
  xvfb: 'xvfb',
  'starcluster.plugins.xvfb.XvfbSetup': 'xvfb',
};

/**
 * StarCluster plugins whose work is built in here: they load as plugins that do nothing, with a
 * warning at validation, so a StarCluster config that lists them keeps working.
 */
const BUILT_IN: Record<string, string> = {
  'starcluster.plugins.ipcluster.IPCluster':
    'the engine runtime is built in (`starcluster run`, the engines `Client`), as the IPython cluster was',
  'starcluster.plugins.ipcluster.IPClusterStop': 'the engine runtime is built in and stops with the cluster',
  'starcluster.plugins.ipcluster.IPClusterRestartEngines':
    'the engine runtime is built in; `starcluster restart` restarts the engines',
};

/** StarCluster plugins we do not carry, with what to use instead. */
const NOT_PORTED: Record<string, string> = {
  'starcluster.plugins.hadoop.Hadoop': 'no Hadoop plugin is bundled; write a .ts plugin',
  'starcluster.plugins.mpich2.MPICH2Setup': 'install MPI with the pkginstaller plugin (packages = mpich)',
  'starcluster.plugins.condor.CondorPlugin': 'no HTCondor plugin is bundled; the queue is Slurm, or write a .ts plugin',
  'starcluster.plugins.mysql.MysqlCluster': 'no MySQL Cluster plugin is bundled; write a .ts plugin',
  'starcluster.plugins.boto.BotoPlugin': 'not bundled: it copied your AWS keys to the cluster; use an instance profile',
};

/** The porting guide: a StarCluster (Python) plugin and the same plugin in TypeScript, side by side. */
export const PORTING_GUIDE = resolve(BUNDLED_PLUGIN_DIR, '..', 'docs', 'porting-plugins.md');

/** A dotted Python class path (`mypackage.MyPlugin`, `starcluster.plugins.x.Y`). */
const PYTHON_CLASS_PATH = /^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$/;

/**
 * SETUP_CLASS values of StarCluster's SGE plugin (and `PLUGINS = sge` without a section): the
 * built-in queue stands for it (Slurm now; src/setup/queue.ts), even with DISABLE_QUEUE = True as
 * StarCluster's docs configured it. Nothing is loaded; validation says what changed, once.
 */
export const QUEUE_PLUGIN_CLASSES = new Set(['sge', 'starcluster.plugins.sge.SGEPlugin']);

export function isQueuePlugin(section: Pick<PluginSettings, 'setupClass'>): boolean {
  return QUEUE_PLUGIN_CLASSES.has(section.setupClass);
}

export interface LoadedPlugin {
  /** The `[plugin NAME]` section name. */
  name: string;
  definition: PluginDefinition<unknown>;
  settings: unknown;
  /** Set for a StarCluster plugin whose work is built in here (it does nothing): why. */
  builtIn?: string;
}

/** Where SETUP_CLASS points: a bundled plugin file, or a .ts/.js file (relative to the config file). */
export function resolvePluginPath(setupClass: string, configPath?: string): string {
  const bundled = BUNDLED_PLUGINS[setupClass];
  if (bundled) return resolve(BUNDLED_PLUGIN_DIR, `${bundled}.ts`);
  if (/\.(m?[jt]s)$/.test(setupClass)) {
    const expanded = setupClass.startsWith('~/') ? resolve(process.env.HOME ?? '/', setupClass.slice(2)) : setupClass;
    return isAbsolute(expanded) ? expanded : resolve(configPath ? dirname(configPath) : process.cwd(), expanded);
  }
  const advice = NOT_PORTED[setupClass];
  if (advice) {
    throw new ConfigError(
      'PluginNotPorted',
      `SETUP_CLASS ${setupClass} is a StarCluster plugin we do not carry: ${advice}`,
      {
        hint: `bundled: ${[...new Set(Object.values(BUNDLED_PLUGINS))].join(', ')}; porting a plugin: ${PORTING_GUIDE}`,
      },
    );
  }
  if (PYTHON_CLASS_PATH.test(setupClass)) {
    const module = pythonModuleOf(setupClass, configPath);
    throw new ConfigError(
      'PluginIsPython',
      `SETUP_CLASS ${setupClass} is a StarCluster (Python) plugin class${module ? ` (${module})` : ''}: Python plugins cannot run here; port it to a TypeScript plugin and set SETUP_CLASS to its .ts file (docs/porting-plugins.md shows one side by side)`,
      { hint: `porting guide: ${PORTING_GUIDE}` },
    );
  }
  throw new ConfigError('PluginUnknown', `SETUP_CLASS ${setupClass} is not a bundled plugin or a .ts/.js file`, {
    hint: `bundled: ${[...new Set(Object.values(BUNDLED_PLUGINS))].join(', ')}; or give the path of a .ts file that exports definePlugin(...)`,
  });
}

/** Where StarCluster would have imported a plugin class from: ~/.starcluster/plugins, or beside the config. */
function pythonModuleOf(setupClass: string, configPath?: string): string | undefined {
  const parts = setupClass.split('.').slice(0, -1);
  const home = process.env.HOME ?? '/';
  const roots = [resolve(home, '.starcluster', 'plugins'), ...(configPath ? [dirname(configPath)] : [])];
  for (const root of roots) {
    for (const candidate of [`${parts.join('/')}.py`, `${parts.join('/')}/__init__.py`]) {
      const path = resolve(root, candidate);
      if (existsSync(path)) return `found ${path}`;
    }
  }
  return undefined;
}

async function importModule(path: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(path).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    // Plain Node cannot import TypeScript: load it through tsx (esbuild).
    if ((error as NodeJS.ErrnoException).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw error;
    const { tsImport } = await import('tsx/esm/api');
    return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
  }
}

function isPlugin(value: unknown): value is PluginDefinition<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { run?: unknown }).run === 'function';
}

/** Imports a plugin and validates its settings; every problem is a ConfigError naming the section. */
export async function loadPlugin(section: PluginSettings, configPath?: string): Promise<LoadedPlugin> {
  const where = section.location ? `${section.location.file}:${section.location.line}: ` : '';
  const builtIn = isQueuePlugin(section)
    ? 'the queue is built in (Slurm, as StarCluster ran SGE)'
    : BUILT_IN[section.setupClass];
  if (builtIn) {
    const definition: PluginDefinition<unknown> = { name: section.name, run: () => Promise.resolve() };
    return { name: section.name, definition, settings: section.settings, builtIn };
  }
  let path: string;
  try {
    // Relative to the file that wrote the section (an INCLUDEd file may live elsewhere).
    path = resolvePluginPath(section.setupClass, section.location?.file ?? configPath);
  } catch (error) {
    if (error instanceof ConfigError)
      throw new ConfigError(error.code, `${where}[plugin ${section.name}] ${error.message}`, {
        ...(error.hint ? { hint: error.hint } : {}),
        cause: error,
      });
    throw error;
  }
  if (!existsSync(path)) {
    throw new ConfigError('PluginMissing', `${where}[plugin ${section.name}] SETUP_CLASS file ${path} does not exist`);
  }
  let mod: Record<string, unknown>;
  try {
    mod = await importModule(path);
  } catch (error) {
    throw new ConfigError(
      'PluginLoadFailed',
      `${where}[plugin ${section.name}] cannot load ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const definition = [mod.default, mod.plugin].find(isPlugin);
  if (!definition) {
    throw new ConfigError(
      'PluginInvalid',
      `${where}[plugin ${section.name}] ${path} has no default export made with definePlugin({ run, ... })`,
    );
  }
  let settings: unknown = section.settings;
  if (definition.settings) {
    const parsed = definition.settings.safeParse(section.settings);
    if (!parsed.success) {
      throw new ConfigError('PluginSettingsInvalid', `${where}[plugin ${section.name}] has invalid settings`, {
        details: parsed.error.issues.map((i) => `${i.path.join('.') || '(section)'}: ${i.message}`),
      });
    }
    settings = parsed.data;
  }
  return { name: section.name, definition, settings };
}

export interface PluginCheck {
  /** `FILE:LINE: [plugin NAME] ...` for each plugin that cannot be loaded. */
  problems: string[];
  /** For each StarCluster plugin whose work is built in here (it will do nothing). */
  warnings: string[];
}

/**
 * Loads every plugin as `start` would (import, definePlugin, settings) without running anything,
 * so a SETUP_CLASS that cannot be loaded fails validation before anything is created.
 */
export async function checkPlugins(sections: readonly PluginSettings[], configPath?: string): Promise<PluginCheck> {
  const problems: string[] = [];
  const warnings: string[] = [];
  for (const section of sections) {
    const where = section.location ? `${section.location.file}:${section.location.line}: ` : '';
    if (isQueuePlugin(section)) {
      warnings.push(`${where}[plugin ${section.name}] StarCluster's SGE plugin: ${sgeNotice()}`);
      continue;
    }
    try {
      const loaded = await loadPlugin(section, configPath);
      if (loaded.builtIn)
        warnings.push(
          `${where}[plugin ${section.name}] SETUP_CLASS ${section.setupClass} does nothing here: ${loaded.builtIn}; remove it from PLUGINS`,
        );
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      const details = error.details.length ? ` (${error.details.join('; ')})` : '';
      problems.push(`${error.message}${details}${error.hint ? `; ${error.hint}` : ''}`);
    }
  }
  return { problems, warnings };
}
