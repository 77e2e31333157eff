import { constants } from 'node:fs';
import { access, chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';
import { checkPlugins } from '../setup/plugin-loader.js';
import { loadConfig } from './load.js';
import { locateConfigPath } from './paths.js';
import type { ConfigPathSource } from './paths.js';
import { describeTemplate, getClusterTemplate } from './templates.js';

/** `templates/config.ini` of this package (the same from src/config and dist/config). */
export const CONFIG_TEMPLATE_PATH = fileURLToPath(new URL('../../templates/config.ini', import.meta.url));

export interface ConfigInitResult {
  path: string;
  /** True when --force replaced an existing file. */
  overwritten: boolean;
}

/**
 * Writes the commented template (`templates/config.ini`) to the config path: the folder is
 * created 0700, the file written 0600 (it may come to hold AWS keys). An existing file is kept
 * unless `force`.
 */
export async function initConfig(options: {
  path?: string;
  force?: boolean;
  env?: NodeJS.ProcessEnv;
}): Promise<ConfigInitResult> {
  const { path } = locateConfigPath(options.path, options.env);
  const exists = await fileExists(path);
  if (exists && !options.force) {
    throw new ConfigError('ConfigExists', `a config file already exists at ${path}; it was left unchanged`, {
      hint: 'use `starcluster config init --force` to replace it with the template',
    });
  }
  const template = await readFile(CONFIG_TEMPLATE_PATH, 'utf8');
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, template, { mode: 0o600, flag: options.force ? 'w' : 'wx' });
  await chmod(path, 0o600);
  return { path, overwritten: exists };
}

export interface ConfigValidateResult {
  path: string;
  /** Cluster template names, in file order. */
  templates: string[];
  defaultTemplate?: string;
  valid: true;
  /** `FILE:LINE: message` lines that do not make the config invalid (see StarclusterConfig.warnings). */
  warnings: string[];
}

/**
 * Loads and checks the whole config (and, if named, that TEMPLATE exists), then loads every plugin
 * a template uses, as `start` would; throws a ConfigError listing every problem.
 */
export async function validateConfig(options: {
  path?: string;
  template?: string;
  env?: NodeJS.ProcessEnv;
}): Promise<ConfigValidateResult> {
  const config = await loadConfig({ ...(options.path ? { path: options.path } : {}), env: options.env ?? process.env });
  const templates =
    options.template !== undefined ? [getClusterTemplate(config, options.template)] : [...config.clusters.values()];
  const used = new Map(templates.flatMap((t) => t.plugins).map((p) => [p.name, p]));
  const plugins = await checkPlugins([...used.values()], config.path);
  if (plugins.problems.length > 0) {
    const count = plugins.problems.length;
    throw new ConfigError('InvalidConfig', `${config.path} has ${count} problem${count === 1 ? '' : 's'}`, {
      details: plugins.problems,
      hint: 'fix the lines above, then check again with `starcluster config validate`',
    });
  }
  return {
    path: config.path,
    templates: [...config.clusters.keys()],
    ...(config.global.defaultTemplate !== undefined ? { defaultTemplate: config.global.defaultTemplate } : {}),
    valid: true,
    warnings: [...(config.warnings ?? []), ...plugins.warnings],
  };
}

/** `config show`: one template after EXTENDS, secrets masked. */
export async function showTemplate(options: {
  path?: string;
  template?: string;
  env?: NodeJS.ProcessEnv;
}): Promise<Record<string, unknown>> {
  const config = await loadConfig({ ...(options.path ? { path: options.path } : {}), env: options.env ?? process.env });
  return describeTemplate(getClusterTemplate(config, options.template));
}

export interface ConfigPathInfo {
  path: string;
  source: ConfigPathSource;
  exists: boolean;
}

/** `config path`: which file would be used, why, and whether it is there. */
export async function configPathInfo(options: { path?: string; env?: NodeJS.ProcessEnv }): Promise<ConfigPathInfo> {
  const { path, source } = locateConfigPath(options.path, options.env);
  return { path, source, exists: await fileExists(path) };
}

async function fileExists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}
