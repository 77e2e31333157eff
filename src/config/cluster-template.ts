import { dirname } from 'node:path';
import { defaultTemplate } from '../model/template.js';
import { didYouMean, shown, type Diagnostics, type Located } from './diagnostics.js';
import type { RawEntry, RawSection, SectionKind } from './locate.js';
import { resolveConfigRelative } from './paths.js';
import type { ClusterFields } from './schema.js';
import { listOf, type Merged } from './sections.js';
import type { ClusterTemplate, KeySettings, PermissionSettings, PluginSettings, VolumeSettings } from './types.js';

/** [cluster] sections as templates: the EXTENDS chain, references to other sections, and the checks across them. */

/**
 * The EXTENDS chain of a template, root ancestor first, ending with the template itself.
 * A missing parent or a cycle is reported at the EXTENDS line (a cycle once, at its
 * alphabetically first member) and yields undefined.
 */
export function resolveExtends(
  section: RawSection,
  all: Map<string, RawSection>,
  diagnostics: Diagnostics,
): RawSection[] | undefined {
  const chain: RawSection[] = [section];
  let current = section;
  for (;;) {
    const entry = current.entries.get('extends');
    const parentName = entry?.value.trim();
    if (!entry || !parentName) return chain.reverse();
    const parent = all.get(parentName);
    if (!parent) {
      diagnostics.add(
        entry,
        `[cluster ${current.name}] EXTENDS: there is no [cluster ${parentName}] section${didYouMean(parentName, all.keys())}${listOf('cluster templates', all.keys())}`,
      );
      return undefined;
    }
    const seenAt = chain.indexOf(parent);
    if (seenAt >= 0) {
      const loop = chain.slice(seenAt).map((s) => s.name);
      const first = [...loop].sort()[0] ?? parent.name;
      const start = loop.indexOf(first);
      const ordered = [...loop.slice(start), ...loop.slice(0, start), first];
      const firstSection = all.get(first) ?? parent;
      diagnostics.add(
        firstSection.entries.get('extends') ?? firstSection,
        `[cluster ${first}] EXTENDS makes a cycle: ${ordered.join(' → ')}; remove one of these EXTENDS`,
      );
      return undefined;
    }
    chain.push(parent);
    current = parent;
  }
}

export interface References {
  keys: Map<string, KeySettings>;
  volumes: Map<string, VolumeSettings>;
  plugins: Map<string, PluginSettings>;
  permissions: Map<string, PermissionSettings>;
  sections: Merged;
}

const EC2_REQUIRED = ['keyname', 'cluster_size', 'node_image_id', 'node_instance_type'] as const;

export function buildTemplate(
  section: RawSection,
  chain: RawSection[],
  own: Map<string, Partial<ClusterFields>>,
  refs: References,
  diagnostics: Diagnostics,
  env: NodeJS.ProcessEnv,
): ClusterTemplate | undefined {
  const { fields, from } = mergeChain(chain, own);
  const check = templateCheck(section, chain, from, diagnostics);
  const before = diagnostics.count;

  const provider = fields.provider ?? 'ec2';
  if (provider === 'ec2') {
    const missing = EC2_REQUIRED.filter((key) => fields[key] === undefined && !chainHasBadValue(chain, key));
    for (const key of missing) {
      diagnostics.add(
        section,
        `${check.label} is missing required setting ${key.toUpperCase()} (needed when PROVIDER = ec2)`,
      );
    }
  }
  const clusterSize = fields.cluster_size ?? (provider === 'local' ? 2 : 1);
  const key = resolveKey(fields, refs, check);
  const { volumes, plugins, permissions } = resolveLists(fields, refs, check);
  checkVolumesApart(volumes, check);
  checkNodeCounts(fields, clusterSize, check);
  if (fields.public_ips === false && fields.subnet_id === undefined) {
    check.problem('public_ips', 'False needs SUBNET_ID (nodes without public addresses must be in a VPC subnet)');
  }
  if (diagnostics.count > before) return undefined;

  const scriptsEntry = from.get('userdata_scripts');
  const userdataScripts = (fields.userdata_scripts ?? []).map((script) =>
    resolveConfigRelative(script, dirname(scriptsEntry?.file ?? section.file), env),
  );
  const defaults = defaultTemplate({ name: section.name, provider, clusterSize });
  const nodeTypes = fields.node_instance_type;
  return {
    name: section.name,
    ...(chain.length > 1 ? { extends: chain[chain.length - 2]?.name } : {}),
    provider,
    ...(fields.keyname !== undefined ? { keyname: fields.keyname } : {}),
    ...(key ? { key } : {}),
    clusterSize,
    clusterUser: fields.cluster_user ?? defaults.clusterUser,
    clusterShell: fields.cluster_shell ?? defaults.clusterShell,
    dnsPrefix: fields.dns_prefix ?? defaults.dnsPrefix,
    ...(fields.master_image_id !== undefined ? { masterImageId: fields.master_image_id } : {}),
    ...(fields.master_instance_type !== undefined ? { masterInstanceType: fields.master_instance_type } : {}),
    ...(fields.node_image_id !== undefined ? { nodeImageId: fields.node_image_id } : {}),
    ...(nodeTypes ? { nodeInstanceType: nodeTypes.defaultType } : {}),
    nodeInstanceTypes: nodeTypes?.items.map((item) => ({ ...item })) ?? [],
    ...(fields.availability_zone !== undefined ? { availabilityZone: fields.availability_zone } : {}),
    volumes,
    plugins,
    permissions,
    ...(fields.spot_bid !== undefined ? { spotBid: fields.spot_bid } : {}),
    forceSpotMaster: fields.force_spot_master ?? defaults.forceSpotMaster,
    userdataScripts,
    disableQueue: fields.disable_queue ?? defaults.disableQueue,
    ...(fields.master_is_exec_host !== undefined ? { masterIsExecHost: fields.master_is_exec_host } : {}),
    disableCloudinit: fields.disable_cloudinit ?? defaults.disableCloudinit,
    ...(fields.subnet_id !== undefined ? { subnetId: fields.subnet_id } : {}),
    ...(fields.public_ips !== undefined ? { publicIps: fields.public_ips } : {}),
    sharedFs: fields.shared_fs ?? defaults.sharedFs,
    sshCidr: fields.ssh_cidr ?? defaults.sshCidr,
    ...(fields.engines_per_node !== undefined ? { enginesPerNode: fields.engines_per_node } : {}),
    ...(fields.login_user !== undefined ? { loginUser: fields.login_user } : {}),
    ...(fields.tags !== undefined ? { tags: fields.tags } : {}),
    ...(fields.iam_profile !== undefined ? { iamProfile: fields.iam_profile } : {}),
    ...(fields.max_lifetime !== undefined ? { maxLifetime: fields.max_lifetime } : {}),
    ...(fields.idle_shutdown !== undefined ? { idleShutdown: fields.idle_shutdown } : {}),
    location: { file: section.file, line: section.line },
  };
}

/** Child overrides parent, key by key; `from` remembers which line each value came from. */
function mergeChain(
  chain: RawSection[],
  own: Map<string, Partial<ClusterFields>>,
): { fields: Partial<ClusterFields>; from: Map<string, RawEntry> } {
  const fields: Partial<ClusterFields> = {};
  const from = new Map<string, RawEntry>();
  for (const level of chain) {
    for (const [key, value] of Object.entries(own.get(level.name) ?? {})) {
      if (value === undefined || key === 'extends') continue;
      (fields as Record<string, unknown>)[key] = value;
      const entry = level.entries.get(key);
      if (entry) from.set(key, entry);
    }
  }
  return { fields, from };
}

/** How one template's problems are reported: at the line a key was written, naming the section that wrote it. */
interface TemplateCheck {
  label: string;
  /** Where a key was written, and how to name it: in this section, or inherited. */
  at(key: string): { where: Located; prefix: string };
  problem(key: string, message: string): void;
  diagnostics: Diagnostics;
}

function templateCheck(
  section: RawSection,
  chain: RawSection[],
  from: Map<string, RawEntry>,
  diagnostics: Diagnostics,
): TemplateCheck {
  const name = section.name;
  const label = `[cluster ${name}]`;
  const at = (key: string): { where: Located; prefix: string } => {
    const entry = from.get(key);
    if (!entry) return { where: section, prefix: `${label} ${key.toUpperCase()}` };
    const owner = chain.find((s) => s.entries.get(key) === entry);
    const inherited = owner && owner !== section ? ` (inherited by template ${name})` : '';
    return { where: entry, prefix: `[cluster ${owner?.name ?? name}] ${key.toUpperCase()}${inherited}` };
  };
  const problem = (key: string, message: string): void => {
    const { where, prefix } = at(key);
    diagnostics.add(where, `${prefix}: ${message}`);
  };
  return { label, at, problem, diagnostics };
}

function resolveKey(fields: Partial<ClusterFields>, refs: References, check: TemplateCheck): KeySettings | undefined {
  if (fields.keyname === undefined) return undefined;
  const key = refs.keys.get(fields.keyname);
  if (!key && !refs.sections.get('key')?.has(fields.keyname)) {
    check.problem(
      'keyname',
      `there is no [key ${fields.keyname}] section${didYouMean(fields.keyname, refs.sections.get('key')?.keys() ?? [])}${listOf('keys', refs.sections.get('key')?.keys() ?? [])}`,
    );
  }
  return key;
}

/** VOLUMES, PLUGINS and PERMISSIONS resolved to their sections; a name listed twice or defined nowhere is a problem. */
function resolveLists(
  fields: Partial<ClusterFields>,
  refs: References,
  check: TemplateCheck,
): { volumes: VolumeSettings[]; plugins: PluginSettings[]; permissions: PermissionSettings[] } {
  const resolveList = <T>(
    field: 'volumes' | 'plugins' | 'permissions',
    kind: SectionKind,
    map: Map<string, T>,
    builtin?: (name: string) => T | undefined,
  ): T[] => {
    const out: T[] = [];
    const names = fields[field] ?? [];
    const defined = refs.sections.get(kind);
    names.forEach((item, index) => {
      if (names.indexOf(item) !== index) {
        check.problem(field, `${shown(item)} is listed twice`);
        return;
      }
      const found = map.get(item) ?? builtin?.(item);
      if (found) out.push(found);
      else if (!defined?.has(item)) {
        check.problem(
          field,
          `there is no [${kind} ${item}] section${didYouMean(item, defined?.keys() ?? [])}${listOf(`${kind} sections`, defined?.keys() ?? [])}`,
        );
      }
    });
    return out;
  };
  const volumes = resolveList('volumes', 'volume', refs.volumes);
  // StarCluster's `PLUGINS = sge` needs no section: the queue (Slurm now) is built in.
  const plugins = resolveList('plugins', 'plugin', refs.plugins, (item) =>
    item.toLowerCase() === 'sge' ? { name: item, setupClass: 'sge', settings: {} } : undefined,
  );
  const permissions = resolveList('permissions', 'permission', refs.permissions);
  return { volumes, plugins, permissions };
}

/** Two volumes of one template may not share a MOUNT_PATH or a DEVICE. */
function checkVolumesApart(volumes: VolumeSettings[], check: TemplateCheck): void {
  for (const [what, pick] of [
    ['MOUNT_PATH', (v: VolumeSettings) => v.mountPath],
    ['DEVICE', (v: VolumeSettings) => v.device],
  ] as const) {
    const seen = new Map<string, string>();
    for (const volume of volumes) {
      const value = pick(volume);
      if (value === undefined) continue;
      const other = seen.get(value);
      if (other !== undefined)
        check.problem('volumes', `volumes ${other} and ${volume.name} have the same ${what} ${value}`);
      else seen.set(value, volume.name);
    }
  }
}

function checkNodeCounts(fields: Partial<ClusterFields>, clusterSize: number, check: TemplateCheck): void {
  const nodeTypes = fields.node_instance_type;
  if (!nodeTypes || fields.cluster_size === undefined) return;
  const counted = nodeTypes.items.reduce((sum, item) => sum + item.count, 0);
  if (counted > clusterSize - 1) {
    // StarCluster checks this at `start`, against the size it starts with (`start -s` may raise it).
    const { where, prefix } = check.at('node_instance_type');
    check.diagnostics.warn(
      where,
      `${prefix}: the counts add up to ${counted} workers, but CLUSTER_SIZE ${clusterSize} leaves ${clusterSize - 1} (the master is one of the ${clusterSize}): \`start\` refuses this template unless started with \`-s ${counted + 1}\` or more`,
    );
  }
}

/** A key written with a bad value is already reported; do not also call it missing. */
function chainHasBadValue(chain: RawSection[], key: string): boolean {
  return chain.some((s) => s.entries.get(key)?.value);
}
