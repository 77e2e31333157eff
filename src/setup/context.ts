import { createProvider, hasLocalCluster } from '../cloud/index.js';
import type { NodeRecord, Provider } from '../cloud/provider.js';
import type { ClusterContext } from '../cluster/context.js';
import type { ClusterTemplate, StarclusterConfig } from '../config/types.js';
import type { IoHost } from '../io-host.js';
import { clusterStateDir } from '../paths.js';
import { compareAliases } from './aliases.js';

/**
 * A ClusterContext from what the cloud and this machine know: the pieces both the cluster
 * operations (src/cluster, which re-exports them) and node access (./access.ts) build one from.
 * They live here, below src/cluster, so that src/setup needs nothing from above it but the
 * ClusterContext contract itself.
 */

/** Master first, then node001, node002... */
export function sortNodes(nodes: readonly NodeRecord[]): NodeRecord[] {
  return [...nodes].sort((a, b) => compareAliases(a.alias, b.alias));
}

/**
 * The template a cluster was started from when only its tags are known (terminate, list from
 * another machine): the config's template of that name when there is one, else a minimal one.
 */
export function templateFor(
  config: StarclusterConfig | undefined,
  templateName: string | undefined,
  provider: Provider,
  nodes: readonly NodeRecord[],
): ClusterTemplate {
  const known = templateName ? config?.clusters.get(templateName) : undefined;
  if (known) return known;
  const master = nodes.find((n) => n.role === 'master');
  return minimalTemplate({
    name: templateName ?? '(from tags)',
    provider: provider.kind,
    ...(master?.keyName ? { keyname: master.keyName } : {}),
    clusterSize: Math.max(1, nodes.length),
  });
}

/** A template with StarCluster's defaults for everything not given (no config file behind it). */
export function minimalTemplate(
  fields: Pick<ClusterTemplate, 'name' | 'provider' | 'clusterSize'> & Partial<ClusterTemplate>,
): ClusterTemplate {
  return {
    clusterUser: 'sgeadmin',
    clusterShell: 'bash',
    dnsPrefix: false,
    nodeInstanceTypes: [],
    volumes: [],
    plugins: [],
    permissions: [],
    forceSpotMaster: false,
    userdataScripts: [],
    disableQueue: false,
    disableCloudinit: false,
    sharedFs: 'nfs',
    sshCidr: '0.0.0.0/0',
    ...fields,
  };
}

/** An empty config for commands run without one (terminate -f from any machine). */
export function emptyConfig(path = '(none)'): StarclusterConfig {
  return {
    path,
    global: { enableExperimental: false, include: [] },
    aws: { validateCerts: true },
    keys: new Map(),
    clusters: new Map(),
    volumes: new Map(),
    plugins: new Map(),
    permissions: new Map(),
  };
}

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

/** The provider a named cluster lives on, from what this machine and the cloud know. */
export async function providerForCluster(
  name: string,
  config: StarclusterConfig | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Provider> {
  if (await hasLocalCluster(name, env)) return createProvider(undefined, config, { kind: 'local', env });
  return createProvider(undefined, config, { kind: 'ec2', env });
}
