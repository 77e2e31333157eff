import { randomUUID } from 'node:crypto';
import type { LaunchSpec, NodeRecord, Provider } from '../cloud/provider.js';
import type { ClusterTemplate } from '../config/types.js';
import { CloudError, UsageError } from '../errors.js';
import { runSteps, type Step } from '../steps.js';
import { addEngines, readEngineState, stopEngines } from '../deploy/index.js';
import { setupAddedNodes, teardownNodes } from '../setup/index.js';
import { MASTER_ALIAS, aliasNumber, aliasesToRemove, nextAliases } from '../model/aliases.js';
import { launchGroups, resolveShapeImages, type NodeShape } from './launch-plan.js';
import { makeContext, sortNodes } from '../model/context.js';
import { summariseNode, type NodeSummary } from './summary.js';
import { securityGroupName } from '../cloud/security-group.js';
import { launchToken } from '../cloud/provider.js';
import { TAG_RUN } from '../model/tags.js';
import { problemsError } from './validate.js';
import { existingNodes, openCluster, providerForCluster, type ClusterTarget } from '../cloud/open.js';
import { checkQuota, launchCounts } from './quota-check.js';
import { costText, estimateCost, type CostEstimate, type PricedNode } from './cost.js';
import type { LaunchGroup } from './launch-plan.js';

export interface AddNodesOptions extends ClusterTarget {
  /** How many nodes (default 1, or the number of aliases). */
  count?: number;
  /** `-a`: explicit aliases (must be new and not `master`). */
  aliases?: string[];
  /** `-I` / `-i` / `-z` / `-b`: override type, AMI, zone, bid of the new nodes. */
  instanceType?: string;
  imageId?: string;
  zone?: string;
  spotBid?: number;
  /**
   * Show what the new nodes cost and ask before launching (the CLI sets it on a terminal without
   * -y; never under --json or off a terminal). A no launches nothing.
   */
  ask?: boolean;
  skipHooks?: boolean;
}

export interface RemoveNodesOptions extends ClusterTarget {
  count?: number;
  aliases?: string[];
  /** `-k`: run the hooks but keep the instances running (they lose the cluster tags). */
  keepInstances?: boolean;
  /** `-f`: ignore hook failures. */
  force?: boolean;
  confirm?: boolean;
  skipHooks?: boolean;
}

export interface ResizeResult {
  name: string;
  added: NodeSummary[];
  removed: NodeSummary[];
  nodes: NodeSummary[];
  declined?: boolean;
  /** addnode: what the new nodes cost per hour, and the cluster with them (estimates; absent where nodes cost nothing). */
  cost?: CostEstimate & { clusterHourlyCostUsd: number };
}

async function load(opts: AddNodesOptions | RemoveNodesOptions) {
  const cluster = await openCluster(opts.name, {
    io: opts.io,
    ...(opts.config ? { config: opts.config } : {}),
    ...(opts.provider ? { provider: opts.provider } : {}),
    ...(opts.stateDir ? { stateDir: opts.stateDir } : {}),
  });
  existingNodes(cluster, { hint: 'see `starcluster listclusters`; start it with `starcluster start`' });
  return cluster;
}

/**
 * `addnode`: launches nodes with the next free aliases (node004...) in the cluster's zone and
 * security group, waits for them, then the node-setup and engine hooks. A failure rolls back the
 * nodes this run launched.
 */
export async function addNodes(opts: AddNodesOptions): Promise<ResizeResult> {
  const { provider, nodes, template, record, ctx } = await load(opts);
  const aliases = newAliases(
    opts,
    nodes.map((n) => n.alias),
  );
  const { shapes, instanceType, zone, master } = await newNodeShapes(opts, provider, nodes, template, aliases);
  const groups = launchGroups(shapes);
  const cost = await preflightAdd(opts, provider, nodes, groups, zone);
  if (cost === 'declined')
    return {
      name: opts.name,
      added: [],
      removed: [],
      nodes: sortNodes(nodes).map((n) => summariseNode(n)),
      declined: true,
    };
  const runId = randomUUID();
  const sg = record.securityGroup;
  const pgName = securityGroupName(opts.name);
  const network = provider.network;
  const usePg = network?.placementFits([instanceType]) ? await network.findPlacementGroup(pgName) : false;

  const state = { launched: [] as NodeRecord[], all: [] as NodeRecord[] };
  const ctxOf = () => makeContext({ ...ctx, nodes: state.all });
  const steps: Step<typeof state>[] = [
    {
      id: 'launch',
      title: `Launching ${aliases.length} node(s)`,
      run: async (s) => {
        // The same user data as at start (our #cloud-config + the template's USERDATA_SCRIPTS).
        const userData = await provider.userData(template);
        for (const g of groups) {
          const where = {
            ...(master?.keyName ? { keyName: master.keyName } : template.keyname ? { keyName: template.keyname } : {}),
            ...(sg ? { securityGroupIds: [sg.id] } : {}),
            ...(zone ? { zone } : {}),
            ...(usePg ? { placementGroup: pgName } : {}),
          };
          s.launched.push(...(await provider.launch(nodeLaunchSpec(opts.name, runId, template, g, where, userData))));
        }
      },
      // Whatever this run launched, seen or not (by the run tag).
      rollback: (s) =>
        provider.terminateRun(
          opts.name,
          runId,
          s.launched.map((n) => n.id),
        ),
    },
    {
      id: 'wait-running',
      title: 'Waiting for the new nodes to run',
      run: async (s, _r, signal) => {
        const running = await provider.waitRunning(
          s.launched.map((n) => n.id),
          signal,
        );
        s.launched = running;
        s.all = await provider.listNodes(opts.name);
      },
    },
    {
      id: 'setup',
      title: 'Setting up the new nodes',
      skip: () => (!provider.nodesAreMachines ? 'local nodes need no setup' : opts.skipHooks ? 'hooks skipped' : false),
      run: async (s, _r, signal) => setupAddedNodes(ctxOf(), s.launched, signal),
      // Before the launch step terminates them: out of the queue (their jobs requeued), /etc/hosts and shares.
      rollback: async (s) => {
        if (s.launched.length > 0) await teardownNodes(ctxOf(), s.launched, { requeueJobs: true });
      },
    },
    {
      id: 'engines',
      title: 'Starting engines on the new nodes',
      skip: () => (opts.skipHooks ? 'hooks skipped' : false),
      run: async (s, _r, signal) => {
        // A cluster started without engines (start -o, or only the queue) gets none on its new nodes either.
        if (provider.nodesAreMachines && !(await readEngineState(ctxOf().stateDir))) return;
        await addEngines(ctxOf(), s.launched, signal);
      },
    },
  ];
  await runSteps(steps, state, { io: opts.io, ...(opts.signal ? { signal: opts.signal } : {}) });
  return {
    name: opts.name,
    added: sortNodes(state.launched).map((n) => summariseNode(n)),
    removed: [],
    nodes: sortNodes(state.all).map((n) => summariseNode(n)),
    ...(cost ? { cost } : {}),
  };
}

/** The launch of one group of new nodes: the cluster's key, group, zone and placement group (`where`). */
function nodeLaunchSpec(
  cluster: string,
  runId: string,
  template: ClusterTemplate,
  g: LaunchGroup,
  where: Pick<LaunchSpec, 'keyName' | 'securityGroupIds' | 'zone' | 'placementGroup'>,
  userData: Buffer | undefined,
): LaunchSpec {
  return {
    cluster,
    role: 'node',
    aliases: g.aliases,
    instanceType: g.instanceType,
    imageId: g.imageId,
    ...where,
    ...(template.subnetId ? { subnetId: template.subnetId } : {}),
    ...(g.spotBid !== undefined ? { spotBid: g.spotBid } : {}),
    ...(g.loginUser ? { loginUser: g.loginUser } : {}),
    ...(userData ? { userData } : {}),
    ...(template.maxLifetime !== undefined || template.idleShutdown !== undefined ? { shutdownTerminates: true } : {}),
    clientToken: launchToken(cluster, runId, g.aliases.join(',')),
    tags: { [TAG_RUN]: runId },
  };
}

/**
 * Before addnode launches, as before start: the account's vCPU quota (a refusal makes nothing),
 * then what the new nodes cost per hour and the cluster with them; on a terminal, the question.
 */
async function preflightAdd(
  opts: AddNodesOptions,
  provider: Provider,
  nodes: readonly NodeRecord[],
  groups: readonly LaunchGroup[],
  zone: string | undefined,
): Promise<ResizeResult['cost'] | 'declined'> {
  await checkQuota({ opts, provider, launches: launchCounts(groups) }, 'SC_ADDNODE_D0001');
  if (!provider.priceQuote) return undefined;
  const added: PricedNode[] = groups.flatMap((g) =>
    g.aliases.map(() => ({
      instanceType: g.instanceType,
      ...(g.spotBid !== undefined ? { spot: { bid: g.spotBid, ...(zone ? { zone } : {}) } } : {}),
    })),
  );
  const running: PricedNode[] = nodes
    .filter((n) => n.state === 'running' || n.state === 'pending')
    .map((n) => ({
      instanceType: n.instanceType,
      ...(n.spotRequestId ? { spot: n.zone ? { zone: n.zone } : {} } : {}),
    }));
  const more = await estimateCost(provider, added);
  const total = await estimateCost(provider, [...running, ...added]);
  const what = groups
    .map(
      (g) => `${g.aliases.length} × ${g.instanceType}${g.spotBid !== undefined ? ` spot (bid $${g.spotBid}/h)` : ''}`,
    )
    .join(', ');
  opts.io.notify({
    level: 'info',
    code: 'SC_ADDNODE_I0001',
    message:
      `Adding ${what} to cluster ${opts.name}: ${costText(more)} more; ` +
      `the cluster then costs about $${total.hourlyCostUsd.toFixed(4)}/hour`,
  });
  if (opts.ask) {
    const count = added.length;
    const ok = await opts.io.requestConfirm(
      `Launch ${count} instance${count === 1 ? '' : 's'} for cluster ${opts.name} for about $${more.hourlyCostUsd.toFixed(4)}/hour more?`,
      false,
    );
    if (!ok) return 'declined';
  }
  return { ...more, clusterHourlyCostUsd: total.hourlyCostUsd };
}

/**
 * `removenode`: picks the highest-numbered workers (or the named aliases), runs the engine and
 * node teardown hooks, then terminates them (and cancels their spot requests). Never the master.
 */
export async function removeNodes(opts: RemoveNodesOptions): Promise<ResizeResult> {
  const { provider, nodes, ctx } = await load(opts);
  const existing = nodes.map((n) => n.alias);
  let aliases: string[];
  if (opts.aliases?.length) {
    if (opts.aliases.includes(MASTER_ALIAS))
      throw new UsageError('RemoveMaster', 'the master cannot be removed: use `starcluster terminate`');
    const unknown = opts.aliases.filter((a) => !existing.includes(a));
    if (unknown.length)
      throw new UsageError(
        'UnknownNode',
        `cluster ${opts.name} has no node ${unknown.join(', ')} (it has ${existing.join(', ')})`,
      );
    aliases = opts.aliases;
  } else {
    const count = opts.count ?? 1;
    const workers = existing.filter((a) => aliasNumber(a) !== undefined);
    if (!Number.isInteger(count) || count < 1)
      throw new UsageError('NodeCount', `node count ${count} must be at least 1`);
    if (count > workers.length)
      throw new UsageError(
        'NodeCount',
        `cluster ${opts.name} has only ${workers.length} worker node(s), cannot remove ${count}`,
      );
    aliases = aliasesToRemove(existing, count);
  }
  const removed = nodes.filter((n) => aliases.includes(n.alias));
  if (!opts.confirm) {
    const ok = await opts.io.requestConfirm(`Remove ${aliases.join(', ')} from cluster ${opts.name}?`, false);
    if (!ok)
      return { name: opts.name, added: [], removed: [], nodes: nodes.map((n) => summariseNode(n)), declined: true };
  }
  const guard = async (what: string, hook: () => Promise<void>): Promise<void> => {
    try {
      await hook();
    } catch (error) {
      if (!opts.force) throw error;
      opts.io.notify({
        level: 'warn',
        code: 'SC_REMOVENODE_W0001',
        message: `${what} failed (${error instanceof Error ? error.message : String(error)}); removing anyway (-f)`,
      });
    }
  };
  const steps: Step<object>[] = [
    {
      id: 'engines',
      title: 'Stopping engines on the nodes',
      skip: () => (opts.skipHooks ? 'hooks skipped' : false),
      run: () => guard('stopping engines', () => stopEngines(ctx, removed)),
    },
    {
      id: 'teardown',
      title: 'Removing the nodes from the cluster setup',
      skip: () =>
        !provider.nodesAreMachines ? 'local nodes need no teardown' : opts.skipHooks ? 'hooks skipped' : false,
      // Drains first: running jobs finish, or with -f are requeued; none is lost.
      run: (_s, _r, signal) =>
        guard('node teardown', () => teardownNodes(ctx, removed, { requeueJobs: Boolean(opts.force), signal })),
    },
    {
      id: 'terminate',
      title: opts.keepInstances ? 'Untagging the nodes (kept running)' : 'Terminating the nodes',
      run: async () => {
        const ids = removed.map((n) => n.id);
        if (opts.keepInstances) {
          for (const message of await provider.releaseNodes(opts.name, ids))
            opts.io.notify({ level: 'warn', code: 'SC_REMOVENODE_W0002', message });
          return;
        }
        await provider.terminate(ids);
        // Only the removed nodes' own requests: the others still feed the nodes that stay.
        const spot = removed.flatMap((n) => (n.spotRequestId ? [n.spotRequestId] : []));
        if (spot.length) await provider.cancelSpotRequests(spot);
      },
    },
  ];
  await runSteps(steps, {}, { io: opts.io, rollbackOnFailure: false, ...(opts.signal ? { signal: opts.signal } : {}) });
  const left = nodes.filter((n) => !aliases.includes(n.alias));
  return {
    name: opts.name,
    added: [],
    removed: sortNodes(removed).map((n) => summariseNode(n)),
    nodes: left.map((n) => summariseNode(n)),
  };
}

/** `resize NAME SIZE`: adds or removes nodes until the cluster has SIZE nodes (master included). */
export async function resizeCluster(
  opts: Omit<AddNodesOptions, 'count' | 'aliases'> & { size: number; confirm?: boolean; force?: boolean },
): Promise<ResizeResult> {
  if (!Number.isInteger(opts.size) || opts.size < 1)
    throw new UsageError('ClusterSize', `size ${opts.size} must be at least 1 (the master)`);
  const provider = opts.provider ?? (await providerForCluster(opts.name, opts.config));
  const nodes = await provider.listNodes(opts.name);
  if (nodes.length === 0) throw new CloudError('ClusterNotFound', `cluster ${opts.name} has no nodes`);
  const diff = opts.size - nodes.length;
  if (diff > 0) return addNodes({ ...opts, provider, count: diff });
  if (diff < 0)
    return removeNodes({
      name: opts.name,
      io: opts.io,
      provider,
      count: -diff,
      ...(opts.config ? { config: opts.config } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.confirm !== undefined ? { confirm: opts.confirm } : {}),
      ...(opts.force !== undefined ? { force: opts.force } : {}),
      ...(opts.skipHooks !== undefined ? { skipHooks: opts.skipHooks } : {}),
      ...(opts.stateDir ? { stateDir: opts.stateDir } : {}),
    });
  opts.io.notify({
    level: 'info',
    code: 'SC_RESIZE_I0001',
    message: `cluster ${opts.name} already has ${opts.size} node(s)`,
  });
  const sorted = sortNodes(nodes).map((n) => summariseNode(n));
  return { name: opts.name, added: [], removed: [], nodes: sorted };
}

/** The aliases of the nodes `addnode` makes: `-a` as given (new, not the master), else the next free ones. */
function newAliases(opts: AddNodesOptions, existing: readonly string[]): string[] {
  if (opts.aliases?.length) {
    const bad = opts.aliases.filter((a) => a === MASTER_ALIAS || existing.includes(a));
    if (bad.length) throw new UsageError('AliasInUse', `alias ${bad.join(', ')} is already in use or reserved`);
    if (new Set(opts.aliases).size !== opts.aliases.length)
      throw new UsageError('DuplicateAlias', 'aliases must be unique');
    return opts.aliases;
  } else {
    const count = opts.count ?? 1;
    if (!Number.isInteger(count) || count < 1)
      throw new UsageError('NodeCount', `node count ${count} must be at least 1`);
    return nextAliases(existing, count);
  }
}

/**
 * What the new nodes are: the flags' type, image, zone and bid, else the template's, else those of
 * a node the cluster has (its login user too, when its image is the one launched), images resolved.
 */
async function newNodeShapes(
  opts: AddNodesOptions,
  provider: Provider,
  nodes: readonly NodeRecord[],
  template: ClusterTemplate,
  aliases: readonly string[],
): Promise<{ shapes: NodeShape[]; instanceType: string; zone: string | undefined; master: NodeRecord | undefined }> {
  const master = nodes.find((n) => n.role === 'master');
  const reference = nodes.find((n) => n.role === 'node') ?? master;
  const instanceType = opts.instanceType ?? template.nodeInstanceType ?? reference?.instanceType ?? '';
  const imageId = opts.imageId ?? template.nodeImageId ?? reference?.imageId ?? '';
  const imageSetting = opts.imageId ? '-i' : template.nodeImageId ? 'NODE_IMAGE_ID' : undefined;
  const spotBid = opts.spotBid ?? template.spotBid;
  const zone = opts.zone ?? master?.zone ?? template.availabilityZone;
  // The reference node's image brings its login user along when nothing else names one.
  const sameAsReference = !opts.imageId && !template.nodeImageId;
  const loginUser = template.loginUser ?? (sameAsReference ? reference?.loginUser : undefined);
  const images = await resolveShapeImages(
    provider,
    aliases.map((alias) => ({
      alias,
      role: 'node' as const,
      instanceType,
      imageId,
      ...(imageSetting ? { imageSetting } : {}),
      ...(spotBid !== undefined ? { spotBid } : {}),
    })),
    loginUser,
    {
      ...(zone ? { zone } : {}),
      ...(template.subnetId ? { subnetId: template.subnetId } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    },
  );
  if (images.problems.length) throw problemsError(opts.name, images.problems);
  return { shapes: images.shapes, instanceType, zone, master };
}
