import type { ClusterTemplate, StarclusterConfig } from '../config/types.js';
import { CloudError } from '../errors.js';
import type { IoHost } from '../io-host.js';
import { makeContext, sortNodes, type ClusterContext } from '../model/context.js';
import type { NodeRecord } from '../model/node.js';
import { emptyConfig, templateFor } from '../model/template.js';
import { clusterStateDir } from '../paths.js';
import { createProvider, hasLocalCluster } from './index.js';
import type { ClusterRecord, Provider } from './provider.js';

/** The provider a named cluster lives on: local when this machine has a local cluster of that name, else EC2. */
export async function providerForCluster(
  name: string,
  config: StarclusterConfig | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Provider> {
  if (await hasLocalCluster(name, env)) return createProvider(undefined, config, { kind: 'local', env });
  return createProvider(undefined, config, { kind: 'ec2', env });
}

/** A cluster named on the command line, and what an operation on it is given. */
export interface ClusterTarget {
  name: string;
  config?: StarclusterConfig;
  io: IoHost;
  signal?: AbortSignal;
  /** Default: the local provider when this machine has a local cluster of that name, else EC2. */
  provider?: Provider;
  stateDir?: string;
}

export interface OpenClusterOptions {
  config?: StarclusterConfig;
  io: IoHost;
  /** Default: providerForCluster(name). */
  provider?: Provider;
  /** Default `~/.starcluster/clusters/NAME`. */
  stateDir?: string;
  env?: NodeJS.ProcessEnv;
}

/** A cluster read back from the cloud: what every command that works on an existing cluster starts from. */
export interface OpenedCluster {
  name: string;
  provider: Provider;
  /** Every node that is not terminated, master first. */
  nodes: NodeRecord[];
  record: ClusterRecord;
  /** The config's template the cluster was started from, else the defaults. */
  template: ClusterTemplate;
  config: StarclusterConfig;
  /** The running nodes, for node setup and the engines. */
  ctx: ClusterContext;
}

/**
 * Reads the cluster NAME back from the cloud, as `terminate`, `listclusters` and every command
 * that works on a live cluster do: its nodes from tags, what the cloud keeps beside them, and the
 * template it was started from (by the tag on its group) when the config still has it.
 */
export async function openCluster(name: string, opts: OpenClusterOptions): Promise<OpenedCluster> {
  const env = opts.env ?? process.env;
  const provider = opts.provider ?? (await providerForCluster(name, opts.config, env));
  const { nodes: sorted, record } = await readCluster(provider, name);
  const { template, config, ctx } = clusterContext(name, provider, sorted, { ...opts, templateName: record.template });
  return { name, provider, nodes: sorted, record, template, config, ctx };
}

/**
 * The context node setup and the engines work in, for nodes of the cluster NAME: the config's
 * template `templateName` (the one the cluster was started from) when the config has it, else the
 * defaults for the provider; the cluster's state folder (default `~/.starcluster/clusters/NAME`).
 */
export function clusterContext(
  name: string,
  provider: Provider,
  nodes: NodeRecord[],
  opts: Omit<OpenClusterOptions, 'provider'> & { templateName?: string | undefined },
): { template: ClusterTemplate; config: StarclusterConfig; ctx: ClusterContext } {
  const template = templateFor(opts.config, opts.templateName, provider.kind, nodes);
  const config = opts.config ?? emptyConfig();
  const ctx = makeContext({
    name,
    template,
    config,
    provider,
    io: opts.io,
    nodes,
    stateDir: opts.stateDir ?? clusterStateDir(name, opts.env ?? process.env),
  });
  return { template, config, ctx };
}

/** What the provider knows of the cluster NAME: its nodes that are not terminated (master first) and its record. */
export async function readCluster(
  provider: Provider,
  name: string,
): Promise<{ nodes: NodeRecord[]; record: ClusterRecord }> {
  const [nodes, record] = await Promise.all([provider.listNodes(name), provider.describeCluster(name)]);
  return { nodes: sortNodes(nodes), record };
}

/** The cluster's nodes (only the running ones with `running`), or ClusterNotFound when there are none. */
export function existingNodes(cluster: OpenedCluster, opts: { running?: boolean; hint?: string } = {}): NodeRecord[] {
  const nodes = opts.running ? cluster.nodes.filter((n) => n.state === 'running') : cluster.nodes;
  if (nodes.length === 0)
    throw new CloudError('ClusterNotFound', `cluster ${cluster.name} has no ${opts.running ? 'running ' : ''}nodes`, {
      hint: opts.hint ?? 'see `starcluster listclusters`',
    });
  return nodes;
}
