import type { NodeRole } from '../cloud/provider.js';
import type { ClusterTemplate } from '../config/types.js';
import { MASTER_ALIAS, aliasNumber } from './aliases.js';

/** One RunInstances call: nodes of the same role, instance type, AMI and market. */
export interface LaunchGroup {
  role: NodeRole;
  instanceType: string;
  imageId: string;
  /** USD/hour bid when these are spot instances. */
  spotBid?: number;
  aliases: string[];
}

/** What one alias runs as, from the template (StarCluster's `_get_launch_map`). */
export interface NodeShape {
  alias: string;
  role: NodeRole;
  instanceType: string;
  imageId: string;
  spotBid?: number;
}

/**
 * The shape of every alias of a cluster: the master from MASTER_* (defaulting to the node
 * settings); node001... from the NODE_INSTANCE_TYPE items in order (`type[:ami][:count]`), the
 * rest from the default (last) type. Spot: workers when SPOT_BID is set; the master too only with
 * FORCE_SPOT_MASTER.
 */
export function nodeShapes(template: ClusterTemplate, aliases: readonly string[]): NodeShape[] {
  const nodeImage = template.nodeImageId ?? '';
  const nodeType = template.nodeInstanceType ?? '';
  // Expand the explicit items into a per-number table: node001 is index 0.
  const explicit: { instanceType: string; imageId: string }[] = [];
  for (const item of template.nodeInstanceTypes) {
    for (let i = 0; i < item.count; i++)
      explicit.push({ instanceType: item.instanceType, imageId: item.imageId ?? nodeImage });
  }
  return aliases.map((alias) => {
    if (alias === MASTER_ALIAS) {
      return {
        alias,
        role: 'master',
        instanceType: template.masterInstanceType ?? nodeType,
        imageId: template.masterImageId ?? nodeImage,
        ...(template.spotBid !== undefined && template.forceSpotMaster ? { spotBid: template.spotBid } : {}),
      };
    }
    const n = aliasNumber(alias);
    const item = n !== undefined ? explicit[n - 1] : undefined;
    return {
      alias,
      role: 'node',
      instanceType: item?.instanceType ?? nodeType,
      imageId: item?.imageId ?? nodeImage,
      ...(template.spotBid !== undefined ? { spotBid: template.spotBid } : {}),
    };
  });
}

/** Groups shapes into as few launches as possible: one per (role, type, AMI, bid); master first. */
export function launchGroups(shapes: readonly NodeShape[]): LaunchGroup[] {
  const groups = new Map<string, LaunchGroup>();
  for (const s of shapes) {
    const key = [s.role, s.instanceType, s.imageId, s.spotBid ?? ''].join('|');
    let group = groups.get(key);
    if (!group) {
      group = {
        role: s.role,
        instanceType: s.instanceType,
        imageId: s.imageId,
        ...(s.spotBid !== undefined ? { spotBid: s.spotBid } : {}),
        aliases: [],
      };
      groups.set(key, group);
    }
    group.aliases.push(s.alias);
  }
  return [...groups.values()].sort((a, b) => (a.role === b.role ? 0 : a.role === 'master' ? -1 : 1));
}
