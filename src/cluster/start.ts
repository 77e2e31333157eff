import { randomUUID } from 'node:crypto';
import { createProvider, ec2Of } from '../cloud/index.js';
import type { NodeRecord, Provider } from '../cloud/provider.js';
import {
  STARCLUSTER_VERSION,
  TAG_CLUSTER,
  TAG_DESCRIPTION,
  TAG_RUN,
  TAG_TEMPLATE,
  TAG_VERSION,
} from '../model/tags.js';
import type { ClusterTemplate, ProviderKind, StarclusterConfig } from '../config/types.js';
import type { IoHost } from '../io-host.js';
import { CloudError, ConfigError, StarclusterError } from '../errors.js';
import { runSteps, type Step } from '../steps.js';
import { startEngines } from '../deploy/index.js';
import { setupCluster } from '../setup/index.js';
import { clusterAliases, missingAliases } from '../model/aliases.js';
import { launchGroups, nodeShapes, resolveShapeImages, type LaunchGroup, type NodeShape } from './launch-plan.js';
import { makeContext, sortNodes } from '../model/context.js';
import { summariseNode, type NodeSummary } from './summary.js';
import { describeRule, missingRules, planIngressRules, securityGroupName, type IngressRule } from './security-group.js';
import { nodeUserData } from '../cloud/ec2/user-data.js';
import { problemsError, validateCloud, validateOffline, type Problem } from './validate.js';
import { supportsPlacementGroup } from '../cloud/ec2/prices.js';
import { launchToken, ZONE_SPECIFIC_LAUNCH_CODES, type SecurityGroupInfo } from '../cloud/ec2/provider.js';
import { costText, estimateCost } from './cost.js';
import { checkQuota } from './quota-check.js';

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
  /** Estimated on-demand USD/hour for the whole cluster; an estimate from a built-in table. */
  hourlyCostUsd: number;
  costIsEstimate: true;
  /** Types missing from the price table (not counted). */
  unpricedTypes: string[];
  /** Why they have no price ("no price for z9.large in the built-in table", "no price for region …"). */
  noPrice: string[];
  /** What a careful operator would want to know before saying yes (e.g. SSH open to the world). */
  warnings: string[];
}

export interface StartResult {
  name: string;
  mode: StartMode;
  provider: ProviderKind;
  region?: string;
  plan: StartPlan;
  /** True when the cluster already had nodes or a security group (start resumed it). */
  resumed: boolean;
  created: { securityGroupId?: string; placementGroup?: string; instanceIds: string[] };
  /** DryRun answers (mode dry-run). */
  dryRun?: string[];
  /** The user said no when asked to launch (nothing was created). */
  declined?: true;
  nodes: NodeSummary[];
}

interface StartState {
  opts: StartOptions;
  provider: Provider;
  runId: string;
  shapes: NodeShape[];
  existing: NodeRecord[];
  existingSg?: SecurityGroupInfo;
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
  /** The nodes' EC2 user data (our #cloud-config + USERDATA_SCRIPTS), built and size-checked at validation. */
  userData?: Buffer;
}

const CLUSTER_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/;

/**
 * `starcluster start`: validate everything, plan, then security group → placement group →
 * instances (one launch per type/AMI group, tags at creation) → wait running → node setup →
 * engines. A failure or Ctrl-C rolls back what this run made; on a cluster that already exists
 * (by tags) it resumes: the security group and nodes found are reused, missing nodes added.
 */
export async function startCluster(opts: StartOptions): Promise<StartResult> {
  const mode = opts.mode ?? 'create';
  const provider = opts.provider ?? (await createProvider(opts.template, opts.config));
  const ec2 = ec2Of(provider);
  const template = opts.template;
  const aliases = clusterAliases(template.clusterSize);
  const state: StartState = {
    opts,
    provider,
    runId: randomUUID(),
    shapes: nodeShapes(template, aliases),
    existing: [],
    existingPg: false,
    rules: planIngressRules(template.sshCidr, template.permissions),
    usePlacementGroup: false,
    missing: [],
    sgCreated: false,
    pgCreated: false,
    launched: [],
    nodes: [],
    dryRun: [],
  };
  state.usePlacementGroup =
    Boolean(ec2) && state.shapes.length > 1 && state.shapes.every((s) => supportsPlacementGroup(s.instanceType));

  const steps: Step<StartState>[] = [];
  steps.push({
    id: 'validate',
    title: 'Validating cluster settings',
    run: async (s, report, signal) => {
      for (const warning of opts.config.warnings ?? [])
        opts.io.notify({ level: 'warn', code: 'SC_CONFIG_W0001', message: warning });
      const problems: Problem[] = [];
      if (!opts.skipValidation) {
        if (!CLUSTER_NAME.test(opts.name))
          problems.push({
            kind: 'config',
            code: 'ClusterName',
            message: `cluster name "${opts.name}" must be 1-40 letters, digits, - or _, starting with a letter or digit`,
          });
        problems.push(...(await validateOffline(template, s.shapes)));
      }
      // User data is built even under -V: it is what the nodes boot with (and EC2 refuses > 16 KB).
      if (ec2) {
        try {
          s.userData = (await nodeUserData(template)).userData;
        } catch (error) {
          if (!(error instanceof ConfigError)) throw error;
          for (const message of error.details) problems.push({ kind: 'config', code: error.code, message });
        }
      }
      // Images are resolved even under -V: an alias is not something EC2 can launch.
      const images = await resolveShapeImages(provider, s.shapes, template.loginUser, {
        ...(template.availabilityZone ? { zone: template.availabilityZone } : {}),
        ...(template.subnetId ? { subnetId: template.subnetId } : {}),
        ...(signal ? { signal } : {}),
      });
      s.shapes = images.shapes;
      problems.push(...images.problems);
      // The engine runtime brings Node.js to images without it: make sure it can, before anything is made.
      if (mode === 'create' && !opts.createOnly && !opts.skipEngines && images.resolution) {
        const { nodeBinaryProblems } = await import('../deploy/node-runtime.js');
        const architectures = images.resolution.images.map((i) => i.architecture);
        for (const p of await nodeBinaryProblems(architectures)) problems.push({ kind: 'config', ...p });
      }
      if (ec2 && !opts.skipValidation) {
        report({ detail: `checking AMIs, instance types, key pair, zone in ${ec2.region}` });
        const keyFileOk = !problems.some((p) => p.code.startsWith('KeyFile') || p.code === 'MissingKeyLocation');
        // `start` on a cluster made before (start -o, an interrupted start) resumes it: its volumes are attached to it.
        const own =
          template.volumes.length > 0 ? new Set((await provider.listNodes(opts.name)).map((n) => n.id)) : undefined;
        problems.push(...(await validateCloud(template, ec2, keyFileOk, own)));
      }
      if (problems.length) throw problemsError(opts.name, problems);
      report({ detail: opts.skipValidation ? 'validation skipped (-V); images resolved' : 'all checks passed' });
    },
  });
  if (mode !== 'validate-only') {
    steps.push({
      id: 'inspect',
      title: 'Looking for an existing cluster',
      run: async (s, report) => {
        s.existing = await provider.listNodes(opts.name);
        if (ec2) {
          s.existingSg = await ec2.findSecurityGroup(securityGroupName(opts.name));
          if (s.usePlacementGroup) s.existingPg = await ec2.findPlacementGroup(securityGroupName(opts.name));
        }
        const have = s.existing.map((n) => n.alias);
        if (opts.noCreate && s.existing.length === 0)
          throw new CloudError('ClusterNotFound', `cluster ${opts.name} has no instances to start (-x launches none)`, {
            hint: `leave out -x to create it: starcluster start ${opts.name}`,
          });
        const missing = opts.noCreate ? [] : missingAliases(aliases, have);
        s.missing = launchGroups(s.shapes.filter((sh) => missing.includes(sh.alias)));
        if (mode === 'create' && !opts.skipValidation) await checkQuota(s, report);
        s.plan = planOf(s, ec2?.region, ec2?.regionSource);
        // Once, before anything is made (--plan and --dry-run show them in the plan instead).
        if (mode === 'create')
          for (const message of s.plan.warnings) opts.io.notify({ level: 'warn', code: 'SC_START_W0001', message });
        report({
          detail: s.existing.length
            ? `resuming: ${s.existing.length} node(s) found, ${missing.length} to add`
            : `new cluster: ${missing.length} node(s) to launch`,
        });
      },
    });
  }
  if (mode === 'dry-run' && ec2) {
    steps.push({
      id: 'dry-run',
      title: 'Asking EC2 whether each request would succeed (DryRun)',
      run: async (s) => {
        if (!s.existingSg) {
          await ec2.dryRunSecurityGroup(securityGroupName(opts.name));
          s.dryRun.push(`CreateSecurityGroup ${securityGroupName(opts.name)}: would succeed`);
        }
        for (const g of s.missing) {
          await ec2.dryRunLaunch(launchSpecOf(s, g, undefined, undefined));
          s.dryRun.push(`RunInstances ${g.aliases.length} × ${g.instanceType} ${imageText(g)}: would succeed`);
        }
      },
    });
  }
  const run = { io: opts.io, ...(opts.signal ? { signal: opts.signal } : {}) };
  await runSteps(steps, state, run);

  const plan = state.plan ?? planOf(state, ec2?.region, ec2?.regionSource);
  if (mode === 'create' && opts.confirm && ec2 && state.missing.length > 0) {
    // Ray's `ray up` asks; StarCluster did not, and its users paid for clusters they forgot.
    const count = state.missing.reduce((n, g) => n + g.aliases.length, 0);
    opts.io.notify({ level: 'info', code: 'SC_START_I0001', message: renderPlan(plan) });
    const cost = plan.unpricedTypes.length
      ? ` (${plan.noPrice.join('; ')})`
      : plan.hourlyCostUsd > 0
        ? ` for about $${plan.hourlyCostUsd.toFixed(4)}/hour`
        : '';
    const ok = await opts.io.requestConfirm(
      `Launch ${count} instance${count === 1 ? '' : 's'} for cluster ${opts.name}${cost}?`,
      false,
    );
    if (!ok)
      return {
        name: opts.name,
        mode,
        provider: provider.kind,
        region: ec2.region,
        plan,
        resumed: state.existing.length > 0 || Boolean(state.existingSg),
        created: { instanceIds: [] },
        declined: true,
        nodes: sortNodes(state.existing).map((n) => summariseNode(n)),
      };
  }
  if (mode === 'create') await runSteps(createSteps(ec2 !== undefined), state, run);

  if (mode === 'plan' || mode === 'dry-run' || mode === 'validate-only') {
    return {
      name: opts.name,
      mode,
      provider: provider.kind,
      ...(ec2 ? { region: ec2.region } : {}),
      plan,
      resumed: state.existing.length > 0 || Boolean(state.existingSg),
      created: { instanceIds: [] },
      ...(mode === 'dry-run' ? { dryRun: state.dryRun } : {}),
      nodes: sortNodes(state.existing).map((n) => summariseNode(n)),
    };
  }
  return {
    name: opts.name,
    mode,
    provider: provider.kind,
    ...(ec2 ? { region: ec2.region } : {}),
    plan,
    resumed: state.existing.length > 0 || Boolean(state.existingSg),
    created: {
      ...(state.sgCreated && state.sgId ? { securityGroupId: state.sgId } : {}),
      ...(state.pgCreated ? { placementGroup: securityGroupName(opts.name) } : {}),
      instanceIds: state.launched.map((n) => n.id),
    },
    nodes: sortNodes(state.nodes).map((n) => summariseNode(n)),
  };
}

function createSteps(isEc2: boolean): Step<StartState>[] {
  const steps: Step<StartState>[] = [];
  if (isEc2) {
    steps.push({
      id: 'security-group',
      title: 'Security group',
      run: async (s, report) => {
        const ec2 = ec2Of(s.provider);
        if (!ec2) return;
        const name = securityGroupName(s.opts.name);
        const group = s.existingSg;
        if (!group) {
          const vpcId = s.opts.template.subnetId
            ? (await ec2.api.describeSubnets([s.opts.template.subnetId]))[0]?.VpcId
            : undefined;
          // Mark it as made before the call returns: a half-made group is still ours to undo.
          s.sgCreated = true;
          try {
            s.sgId = await ec2.createSecurityGroup(
              name,
              `StarCluster ${s.opts.name}`,
              {
                ...s.opts.template.tags,
                [TAG_CLUSTER]: s.opts.name,
                [TAG_TEMPLATE]: s.opts.template.name,
                [TAG_VERSION]: STARCLUSTER_VERSION,
                [TAG_RUN]: s.runId,
                ...(s.opts.description ? { [TAG_DESCRIPTION]: s.opts.description.slice(0, 255) } : {}),
              },
              vpcId,
            );
          } catch (error) {
            // A retried call whose first answer was lost meets the group that first call made
            // (InvalidGroup.Duplicate): a group carrying this run's id is ours, so carry on with it.
            const mine = (await ec2.clusterSecurityGroups(s.opts.name)).find((g) => g.tags[TAG_RUN] === s.runId);
            if (!mine) throw error;
            s.sgId = mine.id;
          }
          s.rules = await resolveSourceGroups(ec2, s.rules, vpcId);
          await ec2.authorizeRules(s.sgId, s.rules);
          report({ detail: `${name} (${s.sgId}) created, ${s.rules.length} rules` });
          return;
        }
        s.sgId = group.id;
        s.rules = await resolveSourceGroups(ec2, s.rules, group.vpcId);
        const add = missingRules(s.rules, group.rules as IngressRule[]);
        await ec2.authorizeRules(group.id, add);
        report({ detail: `${name} (${group.id}) reused${add.length ? `, ${add.length} rule(s) added` : ''}` });
      },
      rollback: async (s) => {
        const ec2 = ec2Of(s.provider);
        if (!ec2 || !s.sgCreated) return;
        const id = s.sgId ?? (await ec2.findSecurityGroup(securityGroupName(s.opts.name)))?.id;
        if (id) await ec2.deleteSecurityGroup(id);
      },
    });
    steps.push({
      id: 'placement-group',
      title: 'Placement group',
      skip: (s) =>
        !s.usePlacementGroup
          ? 'the instance types cannot use a cluster placement group'
          : s.existingPg
            ? `${securityGroupName(s.opts.name)} exists`
            : false,
      run: async (s, report) => {
        const ec2 = ec2Of(s.provider);
        if (!ec2) return;
        s.pgCreated = true;
        const made = await ec2.createPlacementGroup(securityGroupName(s.opts.name), {
          ...s.opts.template.tags,
          [TAG_CLUSTER]: s.opts.name,
          [TAG_RUN]: s.runId,
        });
        if (!made) {
          s.pgCreated = false;
          s.usePlacementGroup = false;
          report({ detail: 'this endpoint has no placement groups; launching without one' });
        }
      },
      rollback: async (s) => {
        const ec2 = ec2Of(s.provider);
        if (ec2 && s.pgCreated) await ec2.deletePlacementGroup(securityGroupName(s.opts.name));
      },
    });
  }
  steps.push({
    id: 'start-stopped',
    title: 'Starting stopped nodes',
    skip: (s) => (s.existing.some((n) => n.state === 'stopped') ? false : 'no stopped nodes'),
    run: async (s) => {
      const ec2 = ec2Of(s.provider);
      const stopped = s.existing.filter((n) => n.state === 'stopped').map((n) => n.id);
      if (ec2) await ec2.api.startInstances(stopped);
    },
  });
  steps.push({
    id: 'launch',
    title: 'Launching instances',
    skip: (s) => (s.missing.length === 0 ? 'every node exists' : false),
    run: async (s, report) => {
      const total = s.missing.reduce((n, g) => n + g.aliases.length, 0);
      let zone = s.opts.template.availabilityZone ?? s.existing.find((n) => n.role === 'master')?.zone;
      // Where the template leaves the zone to EC2 (no AVAILABILITY_ZONE, no SUBNET_ID, no master yet),
      // a zone without capacity is not the end: the other zones of the region are tried in turn.
      const zoneIsFree = !s.opts.template.availabilityZone && !s.opts.template.subnetId && zone === undefined;
      for (const group of s.missing) {
        // Not passing the signal: a launch in flight completes, then the rollback removes it.
        const made = await launchAnywhere(s, group, zone, zoneIsFree && s.launched.length === 0, report);
        s.launched.push(...made);
        // Keep every node in the master's zone (placement groups and volumes need one zone).
        zone ??= made.find((n) => n.role === 'master')?.zone;
        report({
          current: s.launched.length,
          total,
          detail: group.instanceType
            ? `${group.aliases.length} × ${group.instanceType}`
            : `${group.aliases.length} node(s)`,
        });
        if (s.opts.signal?.aborted) return;
      }
    },
    rollback: async (s) => {
      // Whatever this run launched, seen or not: by the run tag.
      const ec2 = ec2Of(s.provider);
      const ids = new Set(s.launched.map((n) => n.id));
      if (ec2) {
        const tagged = await ec2.api.describeInstances([
          { Name: `tag:${TAG_RUN}`, Values: [s.runId] },
          { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
        ]);
        for (const i of tagged) if (i.InstanceId) ids.add(i.InstanceId);
      }
      if (ids.size === 0) return;
      await s.provider.terminate([...ids]);
      if (ec2) {
        const spot = await ec2.clusterSpotRequests(s.opts.name, [...ids]);
        await ec2.cancelSpotRequests(spot);
        await ec2.waitTerminated([...ids]);
      }
    },
  });
  steps.push({
    id: 'wait-running',
    title: 'Waiting for nodes to run',
    run: async (s, report, signal) => {
      const ids = [...s.existing.map((n) => n.id), ...s.launched.map((n) => n.id)];
      report({ current: 0, total: ids.length });
      await s.provider.waitRunning(ids, signal);
      s.nodes = await s.provider.listNodes(s.opts.name);
      const running = s.nodes.filter((n) => n.state === 'running').length;
      report({ current: running, total: ids.length });
    },
  });
  steps.push({
    id: 'setup',
    title: 'Setting up nodes',
    skip: (s) =>
      s.provider.kind !== 'ec2'
        ? 'local nodes need no setup'
        : s.opts.createOnly
          ? 'create only (-o)'
          : s.opts.skipSetup
            ? 'setup skipped'
            : false,
    run: async (s, _report, signal) => {
      await setupCluster(contextOf(s), signal);
    },
  });
  steps.push({
    id: 'engines',
    title: 'Starting engines',
    skip: (s) => (s.opts.createOnly ? 'create only (-o)' : s.opts.skipEngines ? 'engines skipped' : false),
    run: async (s, _report, signal) => {
      await startEngines(contextOf(s), signal);
    },
  });
  return steps;
}

/** SOURCE_GROUP names become group ids, looked up within the cluster's VPC; an unknown group is an error. */
async function resolveSourceGroups(
  ec2: NonNullable<ReturnType<typeof ec2Of>>,
  rules: IngressRule[],
  vpcId: string | undefined,
): Promise<IngressRule[]> {
  return Promise.all(
    rules.map(async (r) => {
      if (r.kind !== 'group') return r;
      const id = await ec2.resolveGroupId(r.group, vpcId);
      if (!id)
        throw new CloudError(
          'SourceGroupNotFound',
          `${r.description.replace('starcluster: ', '')}: SOURCE_GROUP ${r.group} is no security group${vpcId ? ` in ${vpcId}` : ''}`,
          { hint: 'write the id (sg-…) or the name of a group in the same VPC as the cluster' },
        );
      return { ...r, group: id };
    }),
  );
}

/**
 * Launches a group; when EC2 has no capacity for it (or does not offer the type) in the zone it
 * chose and the template lets us choose, tries each other zone of the region before giving up.
 * The error of the last try, which says what to do, is what the user sees.
 */
async function launchAnywhere(
  s: StartState,
  group: LaunchGroup,
  zone: string | undefined,
  mayMove: boolean,
  report: (r: { detail: string }) => void,
): Promise<NodeRecord[]> {
  try {
    return await s.provider.launch(launchSpecOf(s, group, s.sgId, zone));
  } catch (error) {
    const ec2 = ec2Of(s.provider);
    if (!mayMove || !ec2 || !(StarclusterError.is(error) && ZONE_SPECIFIC_LAUNCH_CODES.includes(error.code)))
      throw error;
    const zones = (await ec2.api.describeAvailabilityZones())
      .filter((z) => z.State === 'available' && z.ZoneType !== 'local-zone' && z.ZoneName)
      .map((z) => z.ZoneName!);
    let last: unknown = error;
    for (const other of zones) {
      if (s.opts.signal?.aborted) break;
      report({ detail: `${last instanceof Error ? last.message : String(last)}; trying ${other}` });
      try {
        return await s.provider.launch(launchSpecOf(s, { ...group }, s.sgId, other, other));
      } catch (next) {
        if (!(StarclusterError.is(next) && ZONE_SPECIFIC_LAUNCH_CODES.includes(next.code))) throw next;
        last = next;
      }
    }
    throw new CloudError(
      StarclusterError.is(last) ? last.code : 'Ec2InsufficientInstanceCapacity',
      `${StarclusterError.is(last) ? last.message : String(last)} (tried ${zones.length ? `every zone: ${zones.join(', ')}` : 'the zone EC2 chose'})`,
      { cause: last, ...(StarclusterError.is(last) && last.hint ? { hint: last.hint } : {}) },
    );
  }
}

function contextOf(s: StartState) {
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

function launchSpecOf(
  s: StartState,
  g: LaunchGroup,
  sgId: string | undefined,
  zone: string | undefined,
  /** A retry in another zone: a token of its own (the first token's failed launch must not be replayed). */
  retryZone?: string,
) {
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

function planOf(s: StartState, region: string | undefined, regionSource?: string): StartPlan {
  const name = s.opts.name;
  const actions: PlanAction[] = [];
  if (s.provider.kind === 'ec2') {
    const sg = securityGroupName(name);
    actions.push(
      s.existingSg
        ? { verb: 'reuse', resource: 'security-group', name: sg, detail: s.existingSg.id }
        : {
            verb: 'create',
            resource: 'security-group',
            name: sg,
            detail: s.rules.map(describeRule).join('; '),
          },
    );
    if (s.usePlacementGroup)
      actions.push({
        verb: s.existingPg ? 'reuse' : 'create',
        resource: 'placement-group',
        name: sg,
        detail: 'cluster strategy',
      });
  }
  const stopped = s.existing.filter((n) => n.state === 'stopped');
  if (stopped.length)
    actions.push({
      verb: 'start',
      resource: 'instances',
      name: stopped.map((n) => n.alias).join(','),
      detail: `${stopped.length} stopped`,
    });
  const live = s.existing.filter((n) => n.state !== 'stopped');
  if (live.length)
    actions.push({
      verb: 'reuse',
      resource: 'instances',
      name: live.map((n) => n.alias).join(','),
      detail: `${live.length} found`,
    });
  for (const g of s.missing) {
    actions.push({
      verb: 'create',
      resource: 'instances',
      name: g.aliases.length > 3 ? `${g.aliases[0]}..${g.aliases[g.aliases.length - 1]}` : g.aliases.join(','),
      detail: `${g.aliases.length} × ${g.instanceType} ${imageText(g)}${g.spotBid !== undefined ? ` spot (bid $${g.spotBid}/h)` : ' on-demand'}${g.loginUser ? `, login ${g.loginUser}` : ''}`,
      ...(g.imageId ? { imageId: g.imageId } : {}),
      ...(g.requestedImage ? { requestedImage: g.requestedImage } : {}),
    });
  }
  // Cost of the whole cluster once made: existing nodes at their type, new ones at theirs.
  const types = [
    ...s.existing.map((n) => n.instanceType),
    ...s.missing.flatMap((g) => g.aliases.map(() => g.instanceType)),
  ];
  const cost = estimateCost(s.provider, types);
  return {
    cluster: name,
    provider: s.provider.kind,
    ...(region ? { region } : {}),
    ...(region && regionSource ? { regionSource } : {}),
    actions,
    hourlyCostUsd: cost.hourlyCostUsd,
    costIsEstimate: true,
    unpricedTypes: cost.unpricedTypes,
    noPrice: cost.noPrice,
    warnings: s.provider.kind === 'ec2' ? [sshCidrWarning(s.opts.template)].filter((w) => w !== undefined) : [],
  };
}

/** `debian-12 → ami-0abc…` for an alias, else the AMI id. */
function imageText(g: LaunchGroup): string {
  return g.requestedImage ? `${g.requestedImage} → ${g.imageId}` : g.imageId;
}

/**
 * SSH_CIDR left at 0.0.0.0/0 opens port 22 of every node to the internet. Starcluster cannot find
 * the user's address for them (offline, and a lookup service would be a third party to trust), so
 * the warning says how to find it.
 */
export function sshCidrWarning(template: Pick<ClusterTemplate, 'name' | 'sshCidr'>): string | undefined {
  if (template.sshCidr !== '0.0.0.0/0') return undefined;
  return (
    `SSH_CIDR is 0.0.0.0/0: port 22 of every node (root login by key) is open to the whole internet. ` +
    `Write your own address in [cluster ${template.name}], e.g. SSH_CIDR = 203.0.113.7/32: it is the public address ` +
    'your router shows on its status page (WAN/Internet), what `curl https://checkip.amazonaws.com` prints from ' +
    "this machine, or your network administrator's office range; behind a VPN, the VPN's exit address"
  );
}

/** Human form of a plan (for `start --plan`). */
export function renderPlan(plan: StartPlan): string {
  const where = plan.region ? `, ${plan.region}${plan.regionSource ? ` from ${plan.regionSource}` : ''}` : '';
  const lines = [`Plan for cluster ${plan.cluster} (${plan.provider}${where}):`];
  const sign = { create: '+', reuse: '=', start: '>' } as const;
  for (const a of plan.actions) lines.push(`  ${sign[a.verb]} ${a.verb} ${a.resource} ${a.name}: ${a.detail}`);
  for (const w of plan.warnings) lines.push(`warning: ${w}`);
  if (plan.provider === 'ec2') lines.push(`Estimated cost: ${costText(plan)}`);
  return lines.join('\n');
}

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
