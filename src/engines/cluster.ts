import type { NodeRecord } from '../cloud/provider.js';
import type { ClusterContext } from '../cluster/context.js';

/**
 * The engine runtime on a cluster: a controller on the master and ENGINES_PER_NODE engines on
 * every node. For PROVIDER = local they are supervised processes on this machine; for ec2 the
 * bundled runtime is uploaded over SFTP and started under a small supervisor.
 *
 * Contract for src/cluster: idempotent; `startEngines` returns once every engine has registered
 * (or throws a JobError naming the nodes whose engines did not).
 */
export async function startEngines(_ctx: ClusterContext, _signal?: AbortSignal): Promise<void> {
  // Filled in by the engine runtime work (issue 6).
}

/** After nodes were added: start their engines. */
export async function addEngines(_ctx: ClusterContext, _added: NodeRecord[], _signal?: AbortSignal): Promise<void> {
  // Filled in by the engine runtime work (issue 6).
}

/** Before nodes are removed (or, with no list, before terminate/stop): stop their engines. */
export async function stopEngines(_ctx: ClusterContext, _nodes?: NodeRecord[]): Promise<void> {
  // Filled in by the engine runtime work (issue 6).
}
