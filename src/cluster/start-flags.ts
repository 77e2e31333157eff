import type { ClusterTemplate, StarclusterConfig } from '../config/types.js';

/** Flags of `start` that override the template (StarCluster's -s -m -n -I -i -a -b -N -k -K -u -S). */
export interface StartFlags {
  size?: number;
  masterImageId?: string;
  nodeImageId?: string;
  masterInstanceType?: string;
  nodeInstanceType?: string;
  availabilityZone?: string;
  spotBid?: number;
  forceSpotMaster?: boolean;
  subnetId?: string;
  keyname?: string;
  keyLocation?: string;
  clusterUser?: string;
  clusterShell?: ClusterTemplate['clusterShell'];
  /** `-q` (true) / `-Q` (false). */
  disableQueue?: boolean;
  /** `-P` (true) / `-p` (false). */
  dnsPrefix?: boolean;
  /** `--public-ips` / `--no-public-ips`. */
  publicIps?: boolean;
  /** `-U FILE` (repeatable): added after the template's USERDATA_SCRIPTS. */
  userdataScripts?: string[];
}

export function applyStartFlags(
  template: ClusterTemplate,
  flags: StartFlags,
  config?: StarclusterConfig,
): ClusterTemplate {
  const t: ClusterTemplate = { ...template };
  if (flags.size !== undefined) t.clusterSize = flags.size;
  if (flags.masterImageId) t.masterImageId = flags.masterImageId;
  if (flags.nodeImageId) t.nodeImageId = flags.nodeImageId;
  if (flags.masterInstanceType) t.masterInstanceType = flags.masterInstanceType;
  if (flags.nodeInstanceType) {
    // StarCluster's -i takes a single type: it replaces the multi-type list.
    t.nodeInstanceType = flags.nodeInstanceType;
    t.nodeInstanceTypes = [];
  }
  if (flags.availabilityZone) t.availabilityZone = flags.availabilityZone;
  if (flags.spotBid !== undefined) t.spotBid = flags.spotBid;
  if (flags.forceSpotMaster !== undefined) t.forceSpotMaster = flags.forceSpotMaster;
  if (flags.subnetId) t.subnetId = flags.subnetId;
  if (flags.keyname) {
    t.keyname = flags.keyname;
    const key = config?.keys.get(flags.keyname);
    if (key) t.key = key;
  }
  if (flags.keyLocation) t.key = { name: t.keyname ?? '', location: flags.keyLocation };
  if (flags.clusterUser) t.clusterUser = flags.clusterUser;
  if (flags.clusterShell) t.clusterShell = flags.clusterShell;
  if (flags.disableQueue !== undefined) t.disableQueue = flags.disableQueue;
  if (flags.dnsPrefix !== undefined) t.dnsPrefix = flags.dnsPrefix;
  if (flags.publicIps !== undefined) t.publicIps = flags.publicIps;
  if (flags.userdataScripts?.length) t.userdataScripts = [...t.userdataScripts, ...flags.userdataScripts];
  return t;
}
