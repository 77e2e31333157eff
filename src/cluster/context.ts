import type { Provider, NodeRecord } from '../cloud/provider.js';
import type { ClusterTemplate, StarclusterConfig } from '../config/types.js';
import type { IoHost } from '../io-host.js';

/**
 * What cluster operations (start, resize, terminate...) hand to the layers that act on nodes:
 * node setup over SSH (src/setup) and the engine runtime (src/engines/cluster.ts).
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
