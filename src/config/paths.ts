import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { starclusterHome } from '../paths.js';

export type ConfigPathSource = 'flag' | 'env' | 'default';

/** `~` and `~/x` become the home folder (`$HOME` first, so tests can move it). */
export function expandHome(path: string, env: NodeJS.ProcessEnv = process.env): string {
  if (path === '~') return env.HOME || homedir();
  if (path.startsWith('~/')) return join(env.HOME || homedir(), path.slice(2));
  return path;
}

/** A path written in a config file: `~` expanded, relative ones taken from that file's folder. */
export function resolveConfigRelative(path: string, baseDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const expanded = expandHome(path, env);
  return isAbsolute(expanded) ? expanded : resolve(baseDir, expanded);
}

/** Which config file is used, and why: `--config`, then `$STARCLUSTER_CONFIG`, then `~/.starcluster/config`. */
export function locateConfigPath(
  flag?: string,
  env: NodeJS.ProcessEnv = process.env,
): { path: string; source: ConfigPathSource } {
  if (flag) return { path: resolve(expandHome(flag, env)), source: 'flag' };
  if (env.STARCLUSTER_CONFIG) return { path: resolve(expandHome(env.STARCLUSTER_CONFIG, env)), source: 'env' };
  return { path: join(starclusterHome(env), 'config'), source: 'default' };
}

/** The config file path: `--config`, then `$STARCLUSTER_CONFIG`, then `~/.starcluster/config` (absolute). */
export function resolveConfigPath(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  return locateConfigPath(flag, env).path;
}
