import type { ProviderKind } from '../config/types.js';
import type { NodeRecord, NodeRole } from '../model/node.js';

export type { NodeRecord, NodeRole, NodeState } from '../model/node.js';
export { TAG_ALIAS, TAG_CLUSTER, TAG_LOGIN_USER, TAG_NAME, TAG_ROLE } from '../model/tags.js';

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
  /** EC2 user data (src/cloud/ec2/user-data.ts assembles it); absent: our #cloud-config alone. */
  userData?: string | Buffer;
  /** Idempotency token: the same token never launches twice. */
  clientToken: string;
  /** Recorded on the nodes (NodeRecord.loginUser) for every later SSH session. */
  loginUser?: string;
  /** PUBLIC_IPS = True in a subnet: give each node a public address even where the subnet maps none. */
  associatePublicIp?: boolean;
  /**
   * A shutdown from inside the node terminates it (EC2's InstanceInitiatedShutdownBehavior =
   * terminate), for MAX_LIFETIME and IDLE_SHUTDOWN: a node that powers itself off stops costing.
   */
  shutdownTerminates?: boolean;
  /** An instance profile (name or ARN) for the nodes (IAM_PROFILE). */
  iamProfile?: string;
  /** Extra tags; the cluster, role, alias and Name tags are always added. */
  tags?: Record<string, string>;
}

/** One image a launch asks for, as the user wrote it, with the instance type it runs on. */
export interface ImageRequest {
  /** An AMI id, an image alias (`debian-12`) or `resolve:ssm:NAME` (src/cloud/images.ts). */
  image: string;
  instanceType: string;
  /** Where it was written, for messages: `NODE_IMAGE_ID`, `MASTER_IMAGE_ID`, `-n`... */
  setting?: string;
}

/** What an ImageRequest launches. */
export interface ResolvedImage {
  request: ImageRequest;
  /** The AMI id RunInstances gets. */
  imageId: string;
  /** The SSM parameter the id was read from, when the request was an alias or resolve:ssm. */
  parameter?: string;
  architecture?: string;
  imageName?: string;
  /** The image's login user, from the alias or the AMI's name; undefined when neither says. */
  loginUser?: string;
}

/** A reason a launch cannot go ahead: `config` when the fix is in the config (exit 3), else `cloud` (exit 4). */
export interface LaunchProblem {
  kind: 'config' | 'cloud';
  code: string;
  message: string;
}

/** Instances one start is about to launch, for the account's quota check. */
export interface LaunchCount {
  instanceType: string;
  count: number;
  spot: boolean;
}

/** What a quota check found: problems stop the launch; notes (what was checked, or why not) go to the debug log. */
export interface QuotaCheck {
  problems: LaunchProblem[];
  notes: string[];
}

/** Where the nodes will run, when the config pins it: the types are checked against the zone. */
export interface ImageCheckOptions {
  zone?: string;
  subnetId?: string;
  signal?: AbortSignal;
}

export interface ImageResolution {
  /** One per distinct request that resolved, in request order. */
  images: ResolvedImage[];
  /** Unknown images and instance types, missing parameters, architecture mismatches: all of them. */
  problems: LaunchProblem[];
}

/** The resolved image of a request, by its image and instance type. */
export function resolvedImageFor(
  resolution: ImageResolution,
  image: string,
  instanceType: string,
): ResolvedImage | undefined {
  return resolution.images.find((i) => i.request.image === image && i.request.instanceType === instanceType);
}

/** An hourly price estimate, or why there is none ("no price for z9.large in the built-in table"). */
export type PriceQuote = { usdPerHour: number } | { usdPerHour?: undefined; noPrice: string };

/**
 * The seam between cluster operations and a place nodes run (EC2, or processes on this machine),
 * in the spirit of Ray's NodeProvider. Contract:
 * - membership is by tags (`starcluster:cluster`, `starcluster:role`, `Name`), never a local registry;
 * - listings are eventually consistent: callers poll, they do not assume read-after-write;
 * - `launch` is idempotent by `clientToken`: the same token never makes nodes twice;
 * - `terminate` of an id that is already gone is not an error.
 */
export interface Provider {
  readonly kind: ProviderKind;
  /**
   * On-demand USD/hour estimate of one instance of a type where this provider launches (EC2: a
   * built-in table, src/cloud/ec2/prices.ts). Providers whose nodes cost nothing leave it out.
   */
  priceQuote?(instanceType: string): PriceQuote;
  /**
   * Checks the account's quotas (EC2: vCPUs of running instances) leave room for these launches,
   * before any is made. A provider that cannot tell says why in a note and finds no problem.
   */
  checkLaunchQuota?(launches: readonly LaunchCount[]): Promise<QuotaCheck>;
  /**
   * Turns image aliases into the ids to launch, for each instance type's architecture, and checks
   * what the cloud would otherwise refuse only at launch: each image and type exist, fit together,
   * and the type is offered where the nodes go. Providers without images leave it out.
   */
  resolveImages?(requests: readonly ImageRequest[], options?: ImageCheckOptions): Promise<ImageResolution>;
  /** Nodes of the cluster that are not terminated. */
  listNodes(cluster: string): Promise<NodeRecord[]>;
  /** Nodes by id, whichever cluster they are in (none for ids that do not exist). */
  describeNodes(ids: string[]): Promise<NodeRecord[]>;
  /** Names of every cluster this provider can see, from tags. */
  listClusters(): Promise<string[]>;
  launch(spec: LaunchSpec, signal?: AbortSignal): Promise<NodeRecord[]>;
  /** Waits until the nodes are running (or fails naming the ones that are not). */
  waitRunning(ids: string[], signal?: AbortSignal): Promise<NodeRecord[]>;
  terminate(ids: string[]): Promise<void>;
  /** What the cloud keeps about the cluster besides its nodes (nothing, for a provider without groups). */
  describeCluster(cluster: string): Promise<ClusterRecord>;
}

/** What the cloud keeps about a cluster besides its nodes: on EC2, its security group and the tags on it. */
export interface ClusterRecord {
  /** The template it was started from (TAG_TEMPLATE). */
  template?: string;
  /** `start -d` (TAG_DESCRIPTION). */
  description?: string;
  /** The group its nodes are in. */
  securityGroup?: { id: string; name: string };
}
