import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError } from '../errors.js';
import type { PluginSettings } from '../config/types.js';
import type { PluginDefinition } from './plugins.js';

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

/** StarCluster plugins we do not carry, with what to use instead. */
const NOT_PORTED: Record<string, string> = {
  'starcluster.plugins.sge.SGEPlugin': 'the engine runtime replaces SGE; remove this plugin',
  'starcluster.plugins.ipcluster.IPCluster': 'the engine runtime is built in (starcluster run); remove this plugin',
  'starcluster.plugins.hadoop.Hadoop': 'no Hadoop plugin is bundled; write a .ts plugin',
  'starcluster.plugins.mpich2.MPICH2Setup': 'install MPI with the pkginstaller plugin (packages = mpich)',
  'starcluster.plugins.boto.BotoPlugin': 'not bundled: it copied your AWS keys to the cluster; use an instance profile',
};

export interface LoadedPlugin {
  /** The `[plugin NAME]` section name. */
  name: string;
  definition: PluginDefinition<unknown>;
  settings: unknown;
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
  throw new ConfigError(
    'PluginUnknown',
    `SETUP_CLASS ${setupClass} is not a bundled plugin or a .ts/.js file${advice ? `: ${advice}` : ''}`,
    {
      hint: `bundled: ${[...new Set(Object.values(BUNDLED_PLUGINS))].join(', ')}; or give the path of a .ts file that exports definePlugin(...)`,
    },
  );
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
  const path = resolvePluginPath(section.setupClass, configPath);
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
