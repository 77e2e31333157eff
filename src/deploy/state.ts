import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { readJson, writeJsonAtomic } from '../cloud/local/node/files.js';

/**
 * What a running engine runtime looks like, recorded in `STATE_DIR/engines.json` with the CURVE
 * keys next to it (curve-*.json, 0600): that is all a client needs to connect.
 */
export const ENGINE_STATE_FILE = 'engines.json';

export interface EngineState {
  provider: 'local' | 'ec2';
  /** Where the controller runs: the master's private IP (127.0.0.1 for local). */
  host: string;
  clientPort: number;
  enginePort: number;
  /** Engines per node alias. */
  engines: Record<string, number>;
  startedAt: string;
  /** ec2: how the client reaches the master to tunnel to the controller. */
  ssh?: { address: string; user: string; keyPath: string; knownHosts: string };
  /** ec2: the address the client SSHes to, per node alias (pipeline mode starts workers there). */
  addresses?: Record<string, string>;
  /** ec2: the Node each node runs the runtime with, per alias: `node` (the image's) or our copy's path. */
  node?: Record<string, string>;
  /** ec2: the user engines, the controller and pipeline workers run as (CLUSTER_USER); root only sets up. */
  runAs?: string;
}

export async function readEngineState(stateDir: string): Promise<EngineState | undefined> {
  return readJson<EngineState>(join(stateDir, ENGINE_STATE_FILE));
}

export async function writeEngineState(stateDir: string, state: EngineState): Promise<void> {
  await writeJsonAtomic(join(stateDir, ENGINE_STATE_FILE), state);
}

export async function removeEngineState(stateDir: string): Promise<void> {
  await rm(join(stateDir, ENGINE_STATE_FILE), { force: true });
}

/**
 * Where the runtime and the cluster's runtime state live on a remote node (we log in as root).
 * $STARCLUSTER_REMOTE_ROOT overrides it (tests whose "nodes" share this machine's disk).
 */
export const remoteRoot = (env: NodeJS.ProcessEnv = process.env): string =>
  env.STARCLUSTER_REMOTE_ROOT ?? '/opt/starcluster';
/** How long a client keeps trying to reach a controller that its supervisor just started. */
export const CONTROLLER_START_MS = 30_000;
/** The controller's ports on the master's private IP; open only inside the cluster's security group. */
export const REMOTE_CLIENT_PORT = 41000;
export const REMOTE_ENGINE_PORT = 41001;
