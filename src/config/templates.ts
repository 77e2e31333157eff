import { ConfigError } from '../errors.js';
import { didYouMean } from './diagnostics.js';
import { SECRET_SETTING } from './load.js';
import type { ClusterTemplate, StarclusterConfig } from './types.js';

/** A template by name, else `[global] DEFAULT_TEMPLATE`; a ConfigError names the templates there are. */
export function getClusterTemplate(config: StarclusterConfig, name?: string): ClusterTemplate {
  const names = [...config.clusters.keys()];
  const available = names.length
    ? `templates in ${config.path}: ${names.join(', ')}`
    : `${config.path} has no [cluster] sections`;
  const wanted = name ?? config.global.defaultTemplate;
  if (wanted === undefined) {
    throw new ConfigError('NoTemplate', 'no cluster template given and [global] DEFAULT_TEMPLATE is not set', {
      details: [available],
      hint: 'name a template (e.g. `-c smallcluster`) or set DEFAULT_TEMPLATE in [global]',
    });
  }
  const template = config.clusters.get(wanted);
  if (!template) {
    throw new ConfigError('UnknownTemplate', `no cluster template named "${wanted}"${didYouMean(wanted, names)}`, {
      details: [available],
      hint: `add a [cluster ${wanted}] section or use one of the templates above`,
    });
  }
  return template;
}

/** The value shown for a secret setting. */
export const MASKED = '***';

/**
 * A template as `config show` prints it: after EXTENDS, with defaults filled in, keys in
 * StarCluster's lower-case names (`cluster_size`), referenced sections inlined and every secret
 * plugin setting shown as `***`.
 */
export function describeTemplate(template: ClusterTemplate): Record<string, unknown> {
  const nodeTypes = [
    ...template.nodeInstanceTypes.map((t) => [t.instanceType, t.imageId, String(t.count)].filter(Boolean).join(':')),
    ...(template.nodeInstanceType ? [template.nodeInstanceType] : []),
  ];
  const out: Record<string, unknown> = {
    name: template.name,
    extends: template.extends,
    provider: template.provider,
    keyname: template.keyname,
    key_location: template.key?.location,
    cluster_size: template.clusterSize,
    cluster_user: template.clusterUser,
    cluster_shell: template.clusterShell,
    dns_prefix: template.dnsPrefix,
    master_image_id: template.masterImageId,
    master_instance_type: template.masterInstanceType,
    node_image_id: template.nodeImageId,
    node_instance_type: nodeTypes.length ? nodeTypes.join(', ') : undefined,
    availability_zone: template.availabilityZone,
    spot_bid: template.spotBid,
    force_spot_master: template.forceSpotMaster,
    disable_queue: template.disableQueue,
    master_is_exec_host: template.masterIsExecHost,
    disable_cloudinit: template.disableCloudinit,
    subnet_id: template.subnetId,
    public_ips: template.publicIps,
    userdata_scripts: template.userdataScripts,
    shared_fs: template.sharedFs,
    ssh_cidr: template.sshCidr,
    engines_per_node: template.enginesPerNode,
    login_user: template.loginUser,
    max_lifetime: template.maxLifetime,
    idle_shutdown: template.idleShutdown,
    volumes: template.volumes.map((v) => ({
      name: v.name,
      volume_id: v.volumeId,
      mount_path: v.mountPath,
      device: v.device,
      partition: v.partition,
    })),
    permissions: template.permissions.map((p) => ({
      name: p.name,
      ip_protocol: p.protocol,
      from_port: p.fromPort,
      to_port: p.toPort,
      ...(p.sourceGroup !== undefined ? { source_group: p.sourceGroup } : { cidr_ip: p.cidrIp }),
    })),
    plugins: template.plugins.map((p) => ({
      name: p.name,
      setup_class: p.setupClass,
      ...Object.fromEntries(Object.entries(p.settings).map(([k, v]) => [k, SECRET_SETTING.test(k) ? MASKED : v])),
    })),
  };
  return dropUndefined(out);
}

function dropUndefined(value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v)
      ? v.map((item: unknown) =>
          typeof item === 'object' && item !== null ? dropUndefined(item as Record<string, unknown>) : item,
        )
      : v;
  }
  return out;
}

/** The human form of `describeTemplate`: INI-like, one `key = value` per line. */
export function renderTemplate(described: Record<string, unknown>): string {
  const lines: string[] = [];
  const scalar = (v: unknown): string =>
    Array.isArray(v) ? v.join(', ') : typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v);
  const nested: string[] = [];
  lines.push(`[cluster ${String(described.name)}]`);
  for (const [key, value] of Object.entries(described)) {
    if (key === 'name' || (Array.isArray(value) && value.length === 0)) continue;
    if (key === 'volumes' || key === 'permissions' || key === 'plugins') {
      const items = value as Record<string, unknown>[];
      lines.push(`${key} = ${items.map((i) => String(i.name)).join(', ')}`);
      const kind = key.slice(0, -1);
      for (const item of items) {
        nested.push('', `[${kind} ${String(item.name)}]`);
        for (const [k, v] of Object.entries(item)) if (k !== 'name') nested.push(`${k} = ${scalar(v)}`);
      }
      continue;
    }
    lines.push(`${key} = ${scalar(value)}`);
  }
  return [...lines, ...nested].join('\n');
}
