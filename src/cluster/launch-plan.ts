import {
  resolvedImageFor,
  type ImageCheckOptions,
  type ImageResolution,
  type LaunchProblem,
  type NodeRole,
  type Provider,
} from '../cloud/provider.js';
import type { ClusterTemplate } from '../config/types.js';
import { MASTER_ALIAS, aliasNumber } from '../model/aliases.js';

/** One RunInstances call: nodes of the same role, instance type, AMI and market. */
export interface LaunchGroup {
  role: NodeRole;
  instanceType: string;
  /** The id launched (after resolveShapeImages: an AMI id). */
  imageId: string;
  /** The image as written, when it was an alias or resolve:ssm (`debian-12`). */
  requestedImage?: string;
  /** The user to log in as on these nodes (absent: root). */
  loginUser?: string;
  /** USD/hour bid when these are spot instances. */
  spotBid?: number;
  aliases: string[];
}

/** What one alias runs as, from the template (StarCluster's `_get_launch_map`). */
export interface NodeShape {
  alias: string;
  role: NodeRole;
  instanceType: string;
  /** As written (an AMI id, an alias, resolve:ssm:...) until resolveShapeImages; then the AMI id. */
  imageId: string;
  /** The setting the image came from, for messages. */
  imageSetting?: string;
  requestedImage?: string;
  loginUser?: string;
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
  const explicit: { instanceType: string; imageId: string; imageSetting: string }[] = [];
  for (const item of template.nodeInstanceTypes) {
    for (let i = 0; i < item.count; i++)
      explicit.push({
        instanceType: item.instanceType,
        imageId: item.imageId ?? nodeImage,
        imageSetting: item.imageId ? 'NODE_INSTANCE_TYPE' : 'NODE_IMAGE_ID',
      });
  }
  return aliases.map((alias) => {
    if (alias === MASTER_ALIAS) {
      return {
        alias,
        role: 'master',
        instanceType: template.masterInstanceType ?? nodeType,
        imageId: template.masterImageId ?? nodeImage,
        imageSetting: template.masterImageId ? 'MASTER_IMAGE_ID' : 'NODE_IMAGE_ID',
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
      imageSetting: item?.imageSetting ?? 'NODE_IMAGE_ID',
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
        ...(s.requestedImage !== undefined ? { requestedImage: s.requestedImage } : {}),
        ...(s.loginUser !== undefined ? { loginUser: s.loginUser } : {}),
        ...(s.spotBid !== undefined ? { spotBid: s.spotBid } : {}),
        aliases: [],
      };
      groups.set(key, group);
    }
    group.aliases.push(s.alias);
  }
  return [...groups.values()].sort((a, b) => (a.role === b.role ? 0 : a.role === 'master' ? -1 : 1));
}

/**
 * The shapes with their images resolved by the provider (aliases → AMI ids for each instance
 * type's architecture) and each node's login user: LOGIN_USER when set, else the image's own. A
 * provider without images (local) leaves the shapes as they are. Problems are returned, not thrown,
 * so validation can report them with everything else.
 */
export async function resolveShapeImages(
  provider: Provider,
  shapes: readonly NodeShape[],
  loginUser: string | undefined,
  options: ImageCheckOptions = {},
): Promise<{ shapes: NodeShape[]; problems: LaunchProblem[]; resolution?: ImageResolution }> {
  const withUser = (s: NodeShape, user: string | undefined): NodeShape =>
    user !== undefined ? { ...s, loginUser: user } : { ...s };
  if (!provider.resolveImages) return { shapes: shapes.map((s) => withUser(s, loginUser)), problems: [] };
  const requests = shapes
    .filter((s) => s.imageId && s.instanceType)
    .map((s) => ({
      image: s.imageId,
      instanceType: s.instanceType,
      ...(s.imageSetting ? { setting: s.imageSetting } : {}),
    }));
  if (requests.length === 0) return { shapes: shapes.map((s) => withUser(s, loginUser)), problems: [] };
  const resolution = await provider.resolveImages(requests, options);
  const resolved = shapes.map((s) => {
    const r = resolvedImageFor(resolution, s.imageId, s.instanceType);
    if (!r) return withUser(s, loginUser);
    return withUser(
      { ...s, imageId: r.imageId, ...(r.imageId !== s.imageId ? { requestedImage: s.imageId } : {}) },
      loginUser ?? r.loginUser,
    );
  });
  return { shapes: resolved, problems: resolution.problems, resolution };
}
