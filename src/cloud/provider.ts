import type { ProviderKind } from '../config/types.js';

/**
 * The seam between cluster operations and a place nodes run (EC2, or processes on this machine),
 * in the spirit of Ray's NodeProvider. Contract:
 * - membership is by tags (`starcluster:cluster`, `starcluster:role`, `Name`), never a local registry;
 * - listings are eventually consistent: callers poll, they do not assume read-after-write;
 * - `launch` is idempotent by `clientToken`: the same token never makes nodes twice;
 * - `terminate` of an id that is already gone is not an error.
 */
export type NodeRole = 'master' | 'node';
export type NodeState = 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated';

export const TAG_CLUSTER = 'starcluster:cluster';
export const TAG_ROLE = 'starcluster:role';
export const TAG_ALIAS = 'starcluster:alias';
export const TAG_NAME = 'Name';

export interface NodeRecord {
  /** Instance id (EC2) or a local id. */
  id: string;
  cluster: string;
  /** `master`, `node001`, ... (without DNS prefix). */
  alias: string;
  role: NodeRole;
  state: NodeState;
  instanceType: string;
  imageId?: string;
  zone?: string;
  privateIp?: string;
  /** Recorded, never connected to by tests: LocalStack invents these. */
  publicIp?: string;
  keyName?: string;
  launchTime?: Date;
  spotRequestId?: string;
  tags: Record<string, string>;
}

export interface LaunchSpec {
  cluster: string;
  role: NodeRole;
  aliases: string[];
  instanceType: string;
  imageId: string;
  keyName?: string;
  securityGroupIds?: string[];
  subnetId?: string;
  zone?: string;
  placementGroup?: string;
  /** A spot request per node at this bid (USD/hour). */
  spotBid?: number;
  userData?: string;
  /** Idempotency token: the same token never launches twice. */
  clientToken: string;
  /** Extra tags; the cluster, role, alias and Name tags are always added. */
  tags?: Record<string, string>;
}

export interface Provider {
  readonly kind: ProviderKind;
  /** Nodes of the cluster that are not terminated. */
  listNodes(cluster: string): Promise<NodeRecord[]>;
  /** Names of every cluster this provider can see, from tags. */
  listClusters(): Promise<string[]>;
  launch(spec: LaunchSpec, signal?: AbortSignal): Promise<NodeRecord[]>;
  /** Waits until the nodes are running (or fails naming the ones that are not). */
  waitRunning(ids: string[], signal?: AbortSignal): Promise<NodeRecord[]>;
  terminate(ids: string[]): Promise<void>;
}
