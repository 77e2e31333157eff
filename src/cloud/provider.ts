import { createHash } from 'node:crypto';
import type { ClusterTemplate, ProviderKind } from '../config/types.js';
import { UsageError } from '../errors.js';
import type { Account } from './account.js';
import type { IngressRule } from './security-group.js';
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

/** A spot price from the time it took effect (until the next point of its zone). */
export interface SpotPricePoint {
  zone: string;
  time: Date;
  usdPerHour: number;
}

/** An hourly price estimate, or why there is none ("no price for z9.large in the built-in table"). */
export type PriceQuote = { usdPerHour: number } | { usdPerHour?: undefined; noPrice: string };

/**
 * The seam between cluster operations and a place nodes run (EC2, or processes on this machine),
 * in the spirit of Ray's NodeProvider, with what Ray's `bootstrap_config` does for a cloud (the
 * template checked against the account, the cluster's network) on the same object, and the
 * account-level resources (keys, volumes, images, zones) behind `account()`. src/cluster uses
 * only this interface: it never imports an implementation and never asks which one it has.
 * Contract:
 * - membership is by tags (`starcluster:cluster`, `starcluster:role`, `Name`), never a local registry;
 * - listings are eventually consistent: callers poll, they do not assume read-after-write;
 * - `launch` is idempotent by `clientToken`: the same token never makes nodes twice;
 * - `terminate` of an id that is already gone is not an error;
 * - what a provider cannot do fails with `notSupported` (a UsageError that says so), never silently.
 */
export interface Provider {
  readonly kind: ProviderKind;
  /** The region nodes go to, and how it was chosen (`--region`, `$AWS_REGION`...); absent without regions. */
  readonly region?: string;
  readonly regionSource?: string;
  /**
   * Nodes are machines that boot an image: node setup over SSH makes them cluster nodes, and the
   * user data they boot with runs USERDATA_SCRIPTS. False for processes on this machine, which
   * need neither.
   */
  readonly nodesAreMachines: boolean;
  /** The cluster's security group and placement group; absent where nodes have no network of their own. */
  readonly network?: ClusterNetwork;
  /** Stop, start and reboot; absent where nodes cannot be powered off and on (processes). */
  readonly power?: NodePower;
  /** The account's volumes attached to the cluster's nodes (VOLUMES); absent where nodes have no disks to attach. */
  readonly volumes?: NodeVolumes;

  // --- templates -------------------------------------------------------------------------------

  /** What this cloud needs of a template, checked without calling it (images and types named, the key file). */
  checkTemplate(template: ClusterTemplate, shapes: readonly LaunchShape[]): Promise<LaunchProblem[]>;
  /** The template against the account (key pair, zone, subnet, volumes): every problem at once. */
  validateTemplate(template: ClusterTemplate, options: TemplateCheckOptions): Promise<LaunchProblem[]>;
  /** What the nodes boot with (our #cloud-config + USERDATA_SCRIPTS); undefined where nothing boots. */
  userData(template: ClusterTemplate): Promise<Buffer | undefined>;
  /** What a careful operator would want to know before saying yes (e.g. SSH open to the world). */
  templateWarnings(template: Pick<ClusterTemplate, 'name' | 'sshCidr'>): string[];
  /**
   * On-demand USD/hour estimate of one instance of a type where this provider launches (EC2: a
   * built-in table, src/cloud/ec2/prices.ts). Providers whose nodes cost nothing leave it out.
   */
  priceQuote?(instanceType: string): PriceQuote;
  /**
   * Spot prices of a type from `since` to now, in one zone or each zone of the region, the price in
   * effect at `since` included (EC2: DescribeSpotPriceHistory, Linux/UNIX). Providers without a
   * spot market leave it out.
   */
  spotPriceHistory?(instanceType: string, options: { since: Date; zone?: string }): Promise<SpotPricePoint[]>;
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

  // --- nodes -----------------------------------------------------------------------------------

  /** Nodes of the cluster that are not terminated. */
  listNodes(cluster: string): Promise<NodeRecord[]>;
  /** Nodes by id, whichever cluster they are in (none for ids that do not exist). */
  describeNodes(ids: string[]): Promise<NodeRecord[]>;
  /** Names of every cluster this provider can see, from tags. */
  listClusters(): Promise<string[]>;
  launch(spec: LaunchSpec, signal?: AbortSignal): Promise<NodeRecord[]>;
  /** Asks the cloud whether this launch would succeed, creating nothing; absent where nothing can be asked. */
  dryRunLaunch?(spec: LaunchSpec): Promise<true>;
  /** Whether a launch failed for its zone's sake (capacity, type not offered): another zone may do. */
  isZoneSpecific(error: unknown): boolean;
  /** The zones a launch may move to when its zone refused it. */
  launchZones(): Promise<string[]>;
  /** Waits until the nodes are running (or fails naming the ones that are not). */
  waitRunning(ids: string[], signal?: AbortSignal): Promise<NodeRecord[]>;
  terminate(ids: string[]): Promise<void>;
  waitTerminated(ids: string[], signal?: AbortSignal): Promise<void>;
  /**
   * Undoes one run's launches: terminates what it launched (`ids`, and whatever carries its run tag,
   * seen or not), cancels their spot requests and, with `wait`, waits until they are gone.
   */
  terminateRun(cluster: string, runId: string, ids: readonly string[], options?: { wait?: boolean }): Promise<void>;
  /** Ids of the cluster's nodes that are shutting down (terminated, not yet gone). */
  shuttingDown(cluster: string): Promise<string[]>;
  /**
   * After `terminate`: terminates whatever of the cluster appeared since (a start racing it) and
   * waits until every node is gone: the ids it terminated itself, and all it waited for.
   */
  finishTerminating(
    cluster: string,
    terminated: readonly string[],
    signal?: AbortSignal,
  ): Promise<{ extra: string[]; waitedFor: string[] }>;
  /** Open or active spot requests of the cluster: tagged with it, or feeding these nodes. */
  spotRequests(cluster: string, instanceIds?: readonly string[]): Promise<string[]>;
  cancelSpotRequests(ids: readonly string[]): Promise<void>;
  /**
   * `removenode -k`: the nodes leave the cluster but keep running: its tag and its network (EC2:
   * out of @sc-NAME, so `terminate` can delete it and they no longer reach the cluster). Returns
   * what the user should know (where each went, what of the cluster it still holds).
   */
  releaseNodes(cluster: string, ids: readonly string[]): Promise<string[]>;

  // --- what else the cloud keeps ---------------------------------------------------------------

  /** What the cloud keeps about the cluster besides its nodes (nothing, for a provider without groups). */
  describeCluster(cluster: string): Promise<ClusterRecord>;
  /** The account-level resources: key pairs, volumes, images, zones, spot prices. */
  account(): Account;
}

/** Nodes that can be stopped (their disks kept), started again, and rebooted. */
export interface NodePower {
  /** Stops the nodes and waits until they are stopped. */
  stop(ids: readonly string[], signal?: AbortSignal): Promise<void>;
  /** Starts stopped nodes (`start` resuming a stopped cluster); `waitRunning` waits for them. */
  start(ids: readonly string[]): Promise<void>;
  /** Reboots the nodes and waits until they run again. */
  reboot(ids: readonly string[], signal?: AbortSignal): Promise<void>;
}

/** Attaching the account's volumes (EBS on EC2) to a node, for node setup to mount (src/setup/volumes.ts). */
export interface NodeVolumes {
  attach(volumeId: string, instanceId: string, device: string, signal?: AbortSignal): Promise<void>;
  /** Resolves once the volume is attached to the node, or fails naming it and its state. */
  waitAttached(volumeId: string, instanceId: string, signal?: AbortSignal): Promise<void>;
  /** The volume's tags: how setup formats a blank one (createvolume's `starcluster:mkfs`) or grows one (`starcluster:resizefs`). */
  tags(volumeId: string): Promise<Record<string, string>>;
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

/** One node of a planned launch, as the template checks see it. */
export interface LaunchShape {
  alias: string;
  instanceType: string;
  imageId: string;
}

export interface TemplateCheckOptions {
  /** The key file passed the checks on this machine (its fingerprint is compared only then). */
  keyFileOk: boolean;
  /** Instances of the cluster being resumed: a volume attached to one of them is in use by it, not taken. */
  ownInstances?: ReadonlySet<string>;
}

/** A cluster's security group (`@sc-NAME`) as the cloud has it. */
export interface ClusterGroup {
  id: string;
  name: string;
  vpcId?: string;
  tags: Record<string, string>;
  rules: IngressRule[];
}

/** A cluster's security group to make: `@sc-NAME`, tagged, in the VPC of the subnet when there is one. */
export interface GroupSpec {
  cluster: string;
  name: string;
  description: string;
  tags: Record<string, string>;
  /** The run making it (a retried call that meets the group its first try made carries on with it). */
  runId: string;
  subnetId?: string;
}

/**
 * The network a cluster owns besides its nodes: a security group `@sc-NAME` (rules planned by
 * src/cloud/security-group.ts) and, for types that can use one, a cluster placement group.
 */
export interface ClusterNetwork {
  /**
   * The cluster's group named NAME, looked up within the cluster's network (EC2: the VPC of
   * `subnetId`, else the default VPC), so a same-named group elsewhere is not taken for it.
   */
  findClusterGroup(name: string, subnetId: string | undefined): Promise<ClusterGroup | undefined>;
  /** Groups tagged with the cluster, or named after it (there is normally one). */
  clusterGroups(cluster: string): Promise<ClusterGroup[]>;
  /**
   * Creates the group (in the VPC of `subnetId`, when given) with the tags. A retried call that
   * meets the group its first try made (tagged with `runId`) carries on with that one.
   */
  createGroup(input: GroupSpec): Promise<ClusterGroup>;
  /** Asks whether the group could be created, creating nothing. */
  dryRunGroup(name: string): Promise<true>;
  /** SOURCE_GROUP names as group ids, looked up in the VPC; an unknown group is an error. */
  resolveRules(rules: readonly IngressRule[], vpcId: string | undefined): Promise<IngressRule[]>;
  authorize(groupId: string, rules: readonly IngressRule[]): Promise<void>;
  /**
   * Deletes a group, waiting while the cloud still sees it in use (nodes shutting down). Nodes an
   * older `removenode -k` left in it move out first (their ids are returned); a group used by
   * anything else fails at once, naming it (SecurityGroupInUse).
   */
  deleteGroup(groupId: string, signal?: AbortSignal): Promise<string[]>;
  /** Whether nodes of all these types can share a cluster placement group. */
  placementFits(instanceTypes: readonly string[]): boolean;
  findPlacementGroup(name: string): Promise<boolean>;
  /** Creates the group; false (nothing made) where the endpoint has no placement groups. */
  createPlacementGroup(name: string, tags: Record<string, string>): Promise<boolean>;
  /**
   * Deletes the placement group, waiting while instances shutting down still hold it. Instances
   * that run in it (not the cluster's: kept by `removenode -k`) keep it: it is left, and their
   * ids returned (empty: deleted, or already gone).
   */
  deletePlacementGroup(name: string, signal?: AbortSignal): Promise<string[]>;
}

/** The error for what a provider cannot do: names the provider, what it lacks and what to do instead. */
export function notSupported(kind: ProviderKind, what: string, hint?: string): UsageError {
  return new UsageError('NotSupportedByProvider', `the ${kind} provider ${what}`, hint ? { hint } : {});
}

/** A launch's idempotency token: stable for one run's group, distinct across runs. */
export function launchToken(cluster: string, runId: string, groupKey: string): string {
  const digest = createHash('sha256').update(`${cluster}\0${runId}\0${groupKey}`).digest('hex').slice(0, 32);
  return `sc-${cluster.slice(0, 24)}-${digest}`;
}
