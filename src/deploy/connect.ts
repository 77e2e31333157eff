import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClusterContext } from '../model/context.js';
import { Client } from '../engines/client/client.js';
import { KEY_FILES, loadPeerKeys } from '../engines/protocol/keys.js';
import { deadlineIn, systemClock, type Clock } from '../clock.js';
import { JobError, throwIfAborted } from '../errors.js';
import { clusterStateDir, starclusterHome } from '../paths.js';
import { LocalNodeRunner } from './local-runner.js';
import { retryUntil } from './retry.js';
import { connectThroughTunnel } from './ssh-connect.js';
import { CONTROLLER_START_MS, readEngineState, type EngineState } from './state.js';

/** How long a start waits for every engine to register. */
const REGISTER_TIMEOUT_MS = 60_000;

/** One attempt to reach a controller on this machine. */
async function connectDirect(state: EngineState, stateDir: string, timeoutMs: number): Promise<Client> {
  const keys = await loadPeerKeys(join(stateDir, KEY_FILES.client));
  return Client.connect({ endpoint: `tcp://${state.host}:${state.clientPort}`, keys, timeoutMs });
}

/** The controller process takes a moment to bind after its supervisor starts it. */
async function connectDirectPatiently(
  state: EngineState,
  stateDir: string,
  signal: AbortSignal | undefined,
  clock: Clock,
): Promise<Client> {
  return retryUntil(deadlineIn(CONTROLLER_START_MS, clock), () => connectDirect(state, stateDir, 3_000), {
    signal,
    expired: (error) =>
      new JobError('ControllerDidNotStart', `the controller did not answer on ${state.host}:${state.clientPort}`, {
        hint: 'see nodes/master/controller.log under the cluster state dir',
        cause: error,
      }),
  });
}

/**
 * A client of the runtime `state` describes: straight to a controller on this machine, else through
 * an SSH tunnel to the master. `starting`: the controller may still be binding, so keep trying.
 */
export async function connectToRuntime(
  state: EngineState,
  stateDir: string,
  options: { starting?: boolean; signal?: AbortSignal | undefined; clock?: Clock } = {},
): Promise<Client> {
  const clock = options.clock ?? systemClock;
  if (state.provider !== 'local') return connectThroughTunnel(state, stateDir, options.signal, clock);
  if (options.starting) return connectDirectPatiently(state, stateDir, options.signal, clock);
  return connectDirect(state, stateDir, 10_000);
}

/** Waits until every engine `engines` counts is registered; the error names the nodes short of engines. */
export async function waitForAll(client: Client, engines: Record<string, number>, signal?: AbortSignal): Promise<void> {
  const expected = Object.values(engines).reduce((a, b) => a + b, 0);
  const abort = new Promise<never>((_, reject) => {
    signal?.addEventListener('abort', () => reject(new JobError('Interrupted', 'interrupted')), { once: true });
  });
  abort.catch(() => undefined);
  try {
    await Promise.race([client.waitForEngines(expected, REGISTER_TIMEOUT_MS), abort]);
  } catch (error) {
    throwIfAborted(signal);
    const have = new Map<string, number>();
    for (const e of client.engines) have.set(e.node, (have.get(e.node) ?? 0) + 1);
    const short = Object.entries(engines)
      .filter(([alias, n]) => (have.get(alias) ?? 0) < n)
      .map(([alias, n]) => `${alias} (${have.get(alias) ?? 0} of ${n})`);
    throw new JobError('EnginesDidNotStart', `engines did not register on ${short.join(', ') || 'some nodes'}`, {
      hint: 'see the engine-*.log files under the cluster state dir (nodes/ALIAS/)',
      cause: error,
    });
  }
}

/** Clusters with a runtime this machine can reach: local ones whose controller is alive, and ec2 ones. */
export async function listRunningClusters(env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(join(starclusterHome(env), 'clusters'));
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of names.sort()) {
    const dir = clusterStateDir(name, env);
    const state = await readEngineState(dir);
    if (!state) continue;
    if (state.provider === 'local' && !(await new LocalNodeRunner(dir).controllerAlive())) continue;
    out.push(name);
  }
  return out;
}

/** A connected Client for the cluster (local: straight to 127.0.0.1; ec2: through an SSH tunnel). */
export async function connectToCluster(
  cluster: ClusterContext | string,
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<Client> {
  const name = typeof cluster === 'string' ? cluster : cluster.name;
  const stateDir = typeof cluster === 'string' ? clusterStateDir(cluster, options.env) : cluster.stateDir;
  return connectToRuntime(await runningEngineState(name, stateDir), stateDir);
}

/** The cluster's engine state, or an error saying it has no runtime and how to start one. */
export async function runningEngineState(name: string, stateDir: string): Promise<EngineState> {
  const state = await readEngineState(stateDir);
  if (!state) {
    throw new JobError('EnginesNotRunning', `cluster ${name} has no engine runtime running`, {
      hint: `start it: starcluster start ${name}`,
    });
  }
  return state;
}
