import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Where starcluster keeps its local state: `~/.starcluster`, or `$STARCLUSTER_HOME` (tests point
 * this at a temporary folder). Only caches live here; the cloud is the source of truth.
 */
export function starclusterHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.STARCLUSTER_HOME ?? join(homedir(), '.starcluster');
}

/** `~/.starcluster/clusters/NAME`: per-cluster SSH key, pinned host keys, CURVE keys, local pids. */
export function clusterStateDir(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(starclusterHome(env), 'clusters', name);
}
