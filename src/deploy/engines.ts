import type { NodeRecord } from '../model/node.js';
import type { ClusterContext } from '../model/context.js';
import { ensureClusterKeys } from '../engines/protocol/keys.js';
import { JobError, throwIfAborted } from '../errors.js';
import { connectToRuntime, waitForAll } from './connect.js';
import { LocalNodeRunner } from './local-runner.js';
import { nextEngineState, planProcesses } from './plan.js';
import type { NodeRunner } from './runner.js';
import { SshNodeRunner } from './ssh-runner.js';
import { readEngineState, removeEngineState, writeEngineState } from './state.js';

/**
 * The engine runtime on a cluster: a controller on the master and ENGINES_PER_NODE engines on
 * every node (default: 1 per local node, one per core on a remote one), put there by the cluster's
 * NodeRunner. This is what src/cluster calls.
 *
 * Contract: idempotent; `startEngines` and `addEngines` return once every engine has registered
 * (or throw a JobError naming the nodes whose engines did not).
 */

/**
 * How the cluster's nodes are reached: machines over SSH, or processes on this machine. The
 * provider says which its nodes are; its kind is never asked.
 */
export async function openNodeRunner(ctx: ClusterContext): Promise<NodeRunner> {
  return ctx.provider.nodesAreMachines ? SshNodeRunner.open(ctx) : new LocalNodeRunner(ctx.stateDir);
}

export async function startEngines(ctx: ClusterContext, signal?: AbortSignal): Promise<void> {
  return deployEngines(ctx, undefined, signal);
}

/** After nodes were added: start their engines (all of the runtime, if none runs yet). */
export async function addEngines(ctx: ClusterContext, added: NodeRecord[], signal?: AbortSignal): Promise<void> {
  return deployEngines(ctx, added, signal);
}

async function deployEngines(
  ctx: ClusterContext,
  added: NodeRecord[] | undefined,
  signal?: AbortSignal,
): Promise<void> {
  if (!ctx.nodes.some((n) => n.alias === 'master')) {
    throw new JobError('NoMaster', `cluster ${ctx.name} has no running master: the controller runs there`, {
      hint: `starcluster terminate ${ctx.name} && starcluster start ${ctx.name}`,
    });
  }
  const runner = await openNodeRunner(ctx);
  try {
    await ensureClusterKeys(ctx.stateDir);
    const previous = await readEngineState(ctx.stateDir);
    const adding = !!added && !!previous;
    const prepared = await runner.prepare(adding ? added : ctx.nodes, previous, signal);
    const state = nextEngineState(previous, prepared, {
      adding,
      enginesPerNode: ctx.template.enginesPerNode,
      now: new Date(),
    });
    const processes = planProcesses(state, prepared.nodes);
    ctx.io.notify({
      level: 'debug',
      code: 'SC_ENGINES_D0001',
      message: `controller on ${state.host}:${state.clientPort}, engines ${prepared.nodes.map((n) => `${n.alias} ${state.engines[n.alias]}`).join(', ')}`,
    });
    throwIfAborted(signal);
    await runner.run(processes, signal);
    await writeEngineState(ctx.stateDir, state);
    throwIfAborted(signal);
    const client = await connectToRuntime(state, ctx.stateDir, { starting: true, signal });
    try {
      await waitForAll(client, state.engines, signal);
    } finally {
      await client.close();
    }
  } finally {
    runner.close();
  }
}

/** Before nodes are removed (or, with no list, before terminate/stop): stop their engines. */
export async function stopEngines(ctx: ClusterContext, nodes?: NodeRecord[]): Promise<void> {
  let runner: NodeRunner;
  try {
    runner = await openNodeRunner(ctx);
  } catch {
    return; // no key: nothing we can reach; terminate removes the machines anyway
  }
  try {
    await runner.stop(nodes ?? ctx.nodes, !nodes);
  } finally {
    runner.close();
  }
  const state = await readEngineState(ctx.stateDir);
  if (!nodes || !state) return removeEngineState(ctx.stateDir);
  for (const n of nodes) delete state.engines[n.alias];
  await writeEngineState(ctx.stateDir, state);
}
