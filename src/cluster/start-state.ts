import type { ClusterGroup, LaunchSpec, Provider } from '../cloud/provider.js';
import { launchToken } from '../cloud/provider.js';
import { securityGroupName, type IngressRule } from '../cloud/security-group.js';
import type { ClusterTemplate, ProviderKind, StarclusterConfig } from '../config/types.js';
import type { IoHost } from '../io-host.js';
import { makeContext, type ClusterContext } from '../model/context.js';
import type { NodeRecord } from '../model/node.js';
import { TAG_RUN } from '../model/tags.js';
import type { LaunchGroup, NodeShape } from './launch-plan.js';

/** What one `start` is asked, and what its steps share. */

export type StartMode = 'create' | 'validate-only' | 'dry-run' | 'plan';

export interface StartOptions {
  /** The cluster tag, e.g. `mycluster`. */
  name: string;
  /** The template, with the command's flags (-s, -i, -m, ...) already applied (see applyStartFlags). */
  template: ClusterTemplate;
  config: StarclusterConfig;
  io: IoHost;
  signal?: AbortSignal;
  /** Default: createProvider(template, config). */
  provider?: Provider;
  mode?: StartMode;
  /**
   * Show the plan with its hourly cost and ask before launching (the CLI sets it on a TTY without
   * -y/--yes; never under --json or off a TTY). A no creates nothing.
   */
  confirm?: boolean;
  /** `-o/--create-only`: create the nodes, skip node setup and engines. */
  createOnly?: boolean;
  /** Skip node setup / engines (tests that are only about the cloud side). */
  skipSetup?: boolean;
  skipEngines?: boolean;
  /** `-V`: skip validation (not recommended). */
  skipValidation?: boolean;
  /** `-x/--no-create`: the cluster must exist; start its stopped nodes and set it up, launch nothing. */
  noCreate?: boolean;
  /** `-d/--description`: kept in the security group's tags (TAG_DESCRIPTION), shown by listclusters. */
  description?: string;
  /** Default `~/.starcluster/clusters/NAME`. */
  stateDir?: string;
}

export interface PlanAction {
  verb: 'create' | 'reuse' | 'start';
  resource: 'security-group' | 'placement-group' | 'instances';
  name: string;
  detail: string;
  /** Instances: the image launched, and the alias (or resolve:ssm:) it was resolved from. */
  imageId?: string;
  requestedImage?: string;
}

export interface StartPlan {
  cluster: string;
  provider: ProviderKind;
  region?: string;
  /** How the region was chosen: `--region`, `[aws info] AWS_REGION_NAME`, `$AWS_REGION`, `profile NAME in FILE`, `default`. */
  regionSource?: string;
  actions: PlanAction[];
  /** Estimated USD/hour for the whole cluster: on-demand nodes from a built-in table, spot nodes at the spot price. */
  hourlyCostUsd: number;
  costIsEstimate: true;
  /** Types missing from the price table (not counted). */
  unpricedTypes: string[];
  /** Why they have no price ("no price for z9.large in the built-in table", "no price for region …"). */
  noPrice: string[];
  /** How spot nodes were priced (spot price history, or the bid as an upper bound); absent without spot nodes. */
  spotBasis?: string[];
  /** Whether the nodes have a price at all (processes on this machine cost nothing). */
  priced: boolean;
  /** What a careful operator would want to know before saying yes (e.g. SSH open to the world). */
  warnings: string[];
}

export interface StartState {
  opts: StartOptions;
  provider: Provider;
  runId: string;
  shapes: NodeShape[];
  existing: NodeRecord[];
  existingSg?: ClusterGroup;
  existingPg: boolean;
  rules: IngressRule[];
  usePlacementGroup: boolean;
  missing: LaunchGroup[];
  sgId?: string;
  sgCreated: boolean;
  pgCreated: boolean;
  launched: NodeRecord[];
  nodes: NodeRecord[];
  plan?: StartPlan;
  dryRun: string[];
  /** The nodes' user data (our #cloud-config + USERDATA_SCRIPTS), built and size-checked at validation. */
  userData?: Buffer;
}

/** The context setup and the engines act on: the nodes running now. */
export function contextOf(s: StartState): ClusterContext {
  return makeContext({
    name: s.opts.name,
    template: s.opts.template,
    config: s.opts.config,
    provider: s.provider,
    io: s.opts.io,
    nodes: s.nodes,
    ...(s.opts.stateDir ? { stateDir: s.opts.stateDir } : {}),
  });
}

/** The launch of one group of nodes: everything a node needs, a token per run and group (and zone). */
export function launchSpecOf(
  s: StartState,
  g: LaunchGroup,
  sgId: string | undefined,
  zone: string | undefined,
  /** A retry in another zone: a token of its own (the first token's failed launch must not be replayed). */
  retryZone?: string,
): LaunchSpec {
  const t = s.opts.template;
  return {
    cluster: s.opts.name,
    role: g.role,
    aliases: g.aliases,
    instanceType: g.instanceType,
    imageId: g.imageId,
    ...(t.keyname ? { keyName: t.keyname } : {}),
    ...(sgId ? { securityGroupIds: [sgId] } : {}),
    ...(t.subnetId ? { subnetId: t.subnetId } : {}),
    ...(zone ? { zone } : {}),
    ...(s.usePlacementGroup && sgId ? { placementGroup: securityGroupName(s.opts.name) } : {}),
    ...(g.spotBid !== undefined ? { spotBid: g.spotBid } : {}),
    ...(g.loginUser ? { loginUser: g.loginUser } : {}),
    ...(s.userData ? { userData: s.userData } : {}),
    clientToken: launchToken(
      s.opts.name,
      s.runId,
      [g.role, g.instanceType, g.imageId, g.aliases.join(','), ...(retryZone ? [retryZone] : [])].join('|'),
    ),
    ...(t.iamProfile ? { iamProfile: t.iamProfile } : {}),
    ...(t.maxLifetime !== undefined || t.idleShutdown !== undefined ? { shutdownTerminates: true } : {}),
    ...(t.publicIps === true && t.subnetId ? { associatePublicIp: true } : {}),
    // The user's TAGS first: ours (cluster, role, run) always win.
    tags: { ...t.tags, [TAG_RUN]: s.runId },
  };
}
