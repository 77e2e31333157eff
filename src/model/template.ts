import type { ClusterTemplate, ProviderKind, StarclusterConfig } from '../config/types.js';
import type { NodeRecord } from './node.js';

/**
 * A template with StarCluster's defaults for everything not given: what the config loader fills
 * in for keys a `[cluster]` section leaves out, and what commands working from tags alone (and
 * tests) start from.
 */
export function defaultTemplate(
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
    // Local nodes are processes on one machine: they share its filesystem already.
    sharedFs: fields.provider === 'local' ? 'none' : 'nfs',
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

/**
 * The template a cluster was started from when only its tags are known (terminate, list from
 * another machine): the config's template of that name when there is one, else the defaults.
 */
export function templateFor(
  config: StarclusterConfig | undefined,
  templateName: string | undefined,
  provider: ProviderKind,
  nodes: readonly NodeRecord[],
): ClusterTemplate {
  const known = templateName ? config?.clusters.get(templateName) : undefined;
  if (known) return known;
  const master = nodes.find((n) => n.role === 'master');
  return defaultTemplate({
    name: templateName ?? '(from tags)',
    provider,
    ...(master?.keyName ? { keyname: master.keyName } : {}),
    clusterSize: Math.max(1, nodes.length),
  });
}
