import type { Provider } from '../cloud/provider.js';
import type { ClusterTemplate, StarclusterConfig } from '../config/types.js';
import type { IoHost } from '../io-host.js';
import { clusterStateDir } from '../paths.js';
import { compareAliases } from './aliases.js';
import type { NodeRecord } from './node.js';

/**
 * What cluster operations (start, resize, terminate...) hand to the layers that act on nodes:
 * node setup over SSH (src/setup) and the deployment of the engine runtime (src/deploy).
 */
export interface ClusterContext {
  /** Cluster tag, e.g. `mycluster`. */
  name: string;
  template: ClusterTemplate;
  config: StarclusterConfig;
  provider: Provider;
  io: IoHost;
  /** `~/.starcluster/clusters/NAME`: SSH key, known_hosts, CURVE keys, local pids. */
  stateDir: string;
  /** Running nodes, master first, then node001, node002... */
  nodes: NodeRecord[];
}

/** Master first, then node001, node002... */
export function sortNodes(nodes: readonly NodeRecord[]): NodeRecord[] {
  return [...nodes].sort((a, b) => compareAliases(a.alias, b.alias));
}

/** A ClusterContext of the running nodes among `nodes`. */
export function makeContext(input: {
  name: string;
  template: ClusterTemplate;
  config: StarclusterConfig;
  provider: Provider;
  io: IoHost;
  nodes: readonly NodeRecord[];
  stateDir?: string;
}): ClusterContext {
  return {
    name: input.name,
    template: input.template,
    config: input.config,
    provider: input.provider,
    io: input.io,
    stateDir: input.stateDir ?? clusterStateDir(input.name),
    nodes: sortNodes(input.nodes.filter((n) => n.state === 'running')),
  };
}
