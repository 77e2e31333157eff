import type { NodeRecord } from '../cloud/provider.js';
import type { ClusterContext } from '../cluster/context.js';

/**
 * Node setup over SSH (hostnames, /etc/hosts, cluster user, passwordless SSH, shared filesystem,
 * volumes, scratch, plugins). Called by cluster operations for clusters whose nodes are machines
 * (PROVIDER = ec2); a local cluster has nothing to set up.
 *
 * Contract for src/cluster: each function is idempotent, runs on all nodes in parallel, reports
 * progress through ctx.io, and throws a RemoteError naming the node on failure.
 */

/** After `start` has running instances: wait for SSH (pinning host keys), then set every node up. */
export async function setupCluster(_ctx: ClusterContext, _signal?: AbortSignal): Promise<void> {
  // Filled in by the node-setup work (issue 5).
}

/** After `addnode`/`resize` up: set the new nodes up and update every node's hosts and shares. */
export async function setupAddedNodes(
  _ctx: ClusterContext,
  _added: NodeRecord[],
  _signal?: AbortSignal,
): Promise<void> {
  // Filled in by the node-setup work (issue 5).
}

/** Before `removenode`/`resize` down terminates nodes: plugin hooks, hosts and shares updated. */
export async function teardownNodes(_ctx: ClusterContext, _removed: NodeRecord[]): Promise<void> {
  // Filled in by the node-setup work (issue 5).
}

/** Before `stop`/`terminate`: plugins' onShutdown hooks. Must not throw for unreachable nodes. */
export async function shutdownCluster(_ctx: ClusterContext): Promise<void> {
  // Filled in by the node-setup work (issue 5).
}
