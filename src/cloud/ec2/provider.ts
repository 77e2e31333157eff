import { createHash } from 'node:crypto';
import type { Filter, Instance, IpPermission, SecurityGroup } from '@aws-sdk/client-ec2';
import { CloudError, throwIfAborted } from '../../errors.js';
import {
  TAG_ALIAS,
  TAG_CLUSTER,
  TAG_LOGIN_USER,
  TAG_NAME,
  TAG_ROLE,
  type ImageCheckOptions,
  type ImageRequest,
  type ImageResolution,
  type LaunchSpec,
  type NodeRecord,
  type NodeRole,
  type NodeState,
  type ClusterRecord,
  type PriceQuote,
  type LaunchCount,
  type QuotaCheck,
  type Provider,
} from '../provider.js';
import { TAG_DESCRIPTION, TAG_TEMPLATE } from '../../model/tags.js';
import { awsErrorCode, Ec2Api, fromTags, isCode, isNotImplemented, tagSpec } from './api.js';
import { resolveImagesWith, type ImageCatalog } from './images.js';
import { priceQuote } from './prices.js';
import { checkVcpuQuota, ServiceQuotas, type QuotaReader } from './quota.js';
import type { Ec2ClientSettings } from './settings.js';
import { SsmParameters } from './ssm.js';
import { NODE_USER_DATA } from './user-data.js';

/** Our #cloud-config part (assembled with USERDATA_SCRIPTS in user-data.ts). */
export { NODE_USER_DATA };

/** Tag holding the aliases of one launch, in launch-index order (recovers an alias never tagged). */
export const TAG_LAUNCH_ALIASES = 'starcluster:launch-aliases';

/** At most this many aliases per RunInstances, so the alias list fits in one 256-character tag. */
export const MAX_ALIASES_PER_LAUNCH = 25;

const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped'];

/** One ingress rule in the provider's terms (see src/cluster/security-group.ts for the plan). */
export type SgRule =
  | { kind: 'cidr'; protocol: string; fromPort: number; toPort: number; cidr: string; description?: string }
  | { kind: 'group'; protocol: string; fromPort: number; toPort: number; group: string; description?: string }
  | { kind: 'self'; description?: string };

export interface SecurityGroupInfo {
  id: string;
  name: string;
  vpcId?: string;
  tags: Record<string, string>;
  rules: SgRule[];
}

export interface Ec2ProviderOptions {
  /** Longest wait for instances to reach a state, seconds (default 900, StarCluster's 15 min). */
  waitTimeoutSeconds?: number;
  /** Backoff schedule for deleting a security group still in use (ms); default 2 s doubling to 30 s, ~5 min total. */
  sgDeleteDelaysMs?: number[];
  /** Where SSM parameters are read (default: SSM in the provider's region, loaded on first use). */
  parameters?: Pick<SsmParameters, 'get'>;
  /** Where the account's vCPU quotas are read (default: Service Quotas in the provider's region). */
  quotas?: QuotaReader;
  /**
   * Backoff for tagging instances RunInstances just made, while EC2 does not know them yet
   * (InvalidInstanceID.NotFound: its API is eventually consistent); default 0.25 s doubling, ~30 s.
   */
  tagRetryDelaysMs?: number[];
}

/**
 * The EC2 provider: the generic Provider contract (nodes by tags, idempotent launch with tags at
 * creation, waiters, terminate) plus the EC2-only resources a cluster owns (security group,
 * placement group, spot requests), which src/cluster reaches through `ec2Of(provider)`.
 */
export class Ec2Provider implements Provider {
  readonly kind = 'ec2' as const;
  readonly api: Ec2Api;
  readonly waitTimeoutSeconds: number;
  private readonly sgDeleteDelaysMs: number[];
  private readonly parameters: Pick<SsmParameters, 'get'>;
  private readonly quotas: QuotaReader;
  private readonly tagRetryDelaysMs: number[];

  constructor(settingsOrApi: Ec2ClientSettings | Ec2Api, options: Ec2ProviderOptions = {}) {
    this.api = settingsOrApi instanceof Ec2Api ? settingsOrApi : new Ec2Api(settingsOrApi);
    this.parameters = options.parameters ?? new SsmParameters(this.api.settings);
    this.quotas = options.quotas ?? new ServiceQuotas(this.api.settings);
    this.waitTimeoutSeconds = options.waitTimeoutSeconds ?? 900;
    this.sgDeleteDelaysMs = options.sgDeleteDelaysMs ?? [
      2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000, 30000, 30000, 30000, 30000,
    ];
    this.tagRetryDelaysMs = options.tagRetryDelaysMs ?? [250, 500, 1000, 2000, 4000, 8000, 15000];
  }

  get region(): string {
    return this.api.region;
  }

  /** How the region was chosen (`--region`, `$AWS_REGION`, `profile dev in ~/.aws/config`...). */
  get regionSource(): string | undefined {
    return this.api.settings.regionSource;
  }

  /** The built-in table's on-demand estimate in this region (prices.ts: a table, never fetched). */
  priceQuote(instanceType: string): PriceQuote {
    return priceQuote(instanceType, this.region);
  }

  /** The standard-class vCPU quotas (on-demand, spot) against what runs and what is to launch (quota.ts). */
  async checkLaunchQuota(launches: readonly LaunchCount[]): Promise<QuotaCheck> {
    return checkVcpuQuota(this.api, this.quotas, launches);
  }

  // --- images ----------------------------------------------------------------------------------

  /** Aliases and resolve:ssm: through SSM, for each instance type's architecture; then the checks. */
  async resolveImages(requests: readonly ImageRequest[], options: ImageCheckOptions = {}): Promise<ImageResolution> {
    throwIfAborted(options.signal);
    return resolveImagesWith(this.imageCatalog(), requests, {
      ...(options.zone ? { zone: options.zone } : {}),
      ...(options.subnetId ? { subnetId: options.subnetId } : {}),
    });
  }

  /** The lookups image resolution makes, over EC2 and SSM. */
  imageCatalog(): ImageCatalog {
    const api = this.api;
    return {
      region: this.region,
      describeImage: async (id) => {
        try {
          const image = (await api.describeImages({ imageIds: [id] }))[0];
          if (!image) return undefined;
          return {
            ...(image.Name ? { name: image.Name } : {}),
            ...(image.Architecture ? { architecture: image.Architecture } : {}),
            ...(image.State ? { state: image.State } : {}),
            ...(image.VirtualizationType ? { virtualizationType: image.VirtualizationType } : {}),
            ...(image.RootDeviceType ? { rootDeviceType: image.RootDeviceType } : {}),
          };
        } catch (error) {
          if (isCode(error, 'InvalidAMIID.NotFound', 'InvalidAMIID.Malformed', 'InvalidAMIID.Unavailable'))
            return undefined;
          throw error;
        }
      },
      describeInstanceType: async (type) => {
        try {
          const info = (await api.describeInstanceTypes([type])).find((t) => t.InstanceType === type);
          if (!info) return undefined;
          return {
            architectures: [...(info.ProcessorInfo?.SupportedArchitectures ?? [])],
            virtualizationTypes: [...(info.SupportedVirtualizationTypes ?? [])],
            rootDeviceTypes: [...(info.SupportedRootDeviceTypes ?? [])],
          };
        } catch (error) {
          if (isCode(error, 'InvalidInstanceType', 'InvalidParameterValue')) return undefined;
          throw error;
        }
      },
      parameter: (name) => this.parameters.get(name),
      zonesOffering: async (type) => {
        try {
          return await api.instanceTypeZones(type);
        } catch (error) {
          // An endpoint without offerings cannot tell; EC2 itself answers at launch.
          if (isNotImplemented(error)) return undefined;
          throw error;
        }
      },
      availabilityZones: async () => (await api.describeAvailabilityZones()).flatMap((z) => z.ZoneName ?? []),
      subnetZone: async (subnetId) => {
        try {
          return (await api.describeSubnets([subnetId]))[0]?.AvailabilityZone;
        } catch (error) {
          if (isCode(error, 'InvalidSubnetID.NotFound', 'InvalidSubnetID.Malformed')) return undefined;
          throw error;
        }
      },
    };
  }

  // --- Provider --------------------------------------------------------------------------------

  async listNodes(cluster: string): Promise<NodeRecord[]> {
    return (await this.describeClusterInstances(cluster, LIVE_STATES)).map(toNodeRecord);
  }

  async describeNodes(ids: string[]): Promise<NodeRecord[]> {
    if (ids.length === 0) return [];
    try {
      return (await this.api.describeInstances([], ids)).map(toNodeRecord);
    } catch (error) {
      if (isCode(error, 'InvalidInstanceID.NotFound', 'InvalidInstanceID.Malformed')) return [];
      throw error;
    }
  }

  /** Instances of the cluster in the given states (default: every state but terminated). */
  async describeClusterInstances(
    cluster: string,
    states: string[] = [...LIVE_STATES, 'shutting-down'],
  ): Promise<Instance[]> {
    return this.api.describeInstances([
      { Name: `tag:${TAG_CLUSTER}`, Values: [cluster] },
      { Name: 'instance-state-name', Values: states },
    ]);
  }

  async listClusters(): Promise<string[]> {
    const [instances, groups] = await Promise.all([
      this.api.describeInstances([
        { Name: 'tag-key', Values: [TAG_CLUSTER] },
        { Name: 'instance-state-name', Values: LIVE_STATES },
      ]),
      this.api.describeSecurityGroups([{ Name: 'tag-key', Values: [TAG_CLUSTER] }]),
    ]);
    const names = new Set<string>();
    for (const i of instances) {
      const name = fromTags(i.Tags)[TAG_CLUSTER];
      if (name) names.add(name);
    }
    for (const g of groups) {
      const name = fromTags(g.Tags)[TAG_CLUSTER];
      if (name) names.add(name);
    }
    return [...names].sort();
  }

  /**
   * One RunInstances call per MAX_ALIASES_PER_LAUNCH aliases, all tags at creation (cluster, role,
   * the alias list), then the per-instance alias and Name tags. A spot bid makes them one-time
   * spot instances (RunInstances' market options, whose requests carry the same tags).
   */
  async launch(spec: LaunchSpec, signal?: AbortSignal): Promise<NodeRecord[]> {
    const launched: Instance[] = [];
    for (let start = 0; start < spec.aliases.length; start += MAX_ALIASES_PER_LAUNCH) {
      throwIfAborted(signal);
      const aliases = spec.aliases.slice(start, start + MAX_ALIASES_PER_LAUNCH);
      const token = start === 0 ? spec.clientToken : `${spec.clientToken.slice(0, 58)}-${start}`;
      const instances = await this.api
        .runInstances(this.runInput(spec, aliases, token, false), signal)
        .catch((error: unknown) => {
          throw explainLaunchFailure(error, spec, aliases.length);
        });
      // Tag each instance with its own alias; the launch index maps instances to aliases.
      await Promise.all(
        instances.map(async (instance) => {
          const alias = aliases[instance.AmiLaunchIndex ?? 0] ?? aliases[0] ?? 'node';
          await this.tagNew(instance.InstanceId ?? '', {
            [TAG_ALIAS]: alias,
            [TAG_NAME]: `${spec.cluster}-${alias}`,
          });
          instance.Tags = [
            ...(instance.Tags ?? []).filter((t) => t.Key !== TAG_ALIAS && t.Key !== TAG_NAME),
            { Key: TAG_ALIAS, Value: alias },
            { Key: TAG_NAME, Value: `${spec.cluster}-${alias}` },
          ];
        }),
      );
      launched.push(...instances);
    }
    return launched.map(toNodeRecord);
  }

  /**
   * Tags an instance RunInstances has just returned. Everything that matters (cluster, role, run,
   * user TAGS, the alias list) was tagged at creation; this adds the per-instance alias and Name,
   * retrying while EC2 does not yet know the instance (InvalidInstanceID.NotFound).
   */
  private async tagNew(instanceId: string, tags: Record<string, string>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.api.createTags([instanceId], tags);
        return;
      } catch (error) {
        const delay = this.tagRetryDelaysMs[attempt];
        if (!isCode(error, 'InvalidInstanceID.NotFound') || delay === undefined) throw error;
        await sleep(delay);
      }
    }
  }

  /** Asks EC2 whether this launch would succeed, with DryRun=true; creates nothing. */
  async dryRunLaunch(spec: LaunchSpec): Promise<true> {
    return this.api.dryRun('RunInstances', () =>
      this.api.runInstances(this.runInput(spec, spec.aliases.slice(0, MAX_ALIASES_PER_LAUNCH), spec.clientToken, true)),
    );
  }

  private runInput(spec: LaunchSpec, aliases: string[], token: string, dryRun: boolean) {
    const common: Record<string, string> = {
      ...spec.tags,
      [TAG_CLUSTER]: spec.cluster,
      [TAG_ROLE]: spec.role,
      [TAG_LAUNCH_ALIASES]: aliases.join(','),
      ...(spec.loginUser ? { [TAG_LOGIN_USER]: spec.loginUser } : {}),
    };
    // A single-node launch knows its alias and Name up front.
    const instanceTags =
      aliases.length === 1
        ? { ...common, [TAG_ALIAS]: aliases[0] ?? '', [TAG_NAME]: `${spec.cluster}-${aliases[0] ?? ''}` }
        : common;
    const tagSpecs = [
      ...(tagSpec('instance', instanceTags) ?? []),
      ...(tagSpec('volume', { ...spec.tags, [TAG_CLUSTER]: spec.cluster, [TAG_ROLE]: spec.role }) ?? []),
      ...(spec.spotBid !== undefined ? (tagSpec('spot-instances-request', common) ?? []) : []),
    ];
    return {
      ImageId: spec.imageId,
      InstanceType: spec.instanceType as 't3.micro',
      MinCount: aliases.length,
      MaxCount: aliases.length,
      ClientToken: token,
      DryRun: dryRun,
      ...(spec.keyName ? { KeyName: spec.keyName } : {}),
      ...(spec.securityGroupIds && !spec.subnetId ? { SecurityGroupIds: spec.securityGroupIds } : {}),
      // PUBLIC_IPS = True on a subnet that does not map public addresses by itself: ask for one per node
      // (EC2 takes that only on a network interface, which then carries the subnet and groups).
      ...(spec.subnetId && spec.associatePublicIp
        ? {
            NetworkInterfaces: [
              {
                DeviceIndex: 0,
                SubnetId: spec.subnetId,
                AssociatePublicIpAddress: true,
                ...(spec.securityGroupIds ? { Groups: spec.securityGroupIds } : {}),
              },
            ],
          }
        : spec.subnetId
          ? { SubnetId: spec.subnetId, SecurityGroupIds: spec.securityGroupIds }
          : {}),
      ...(spec.zone || spec.placementGroup
        ? {
            Placement: {
              ...(spec.zone ? { AvailabilityZone: spec.zone } : {}),
              ...(spec.placementGroup ? { GroupName: spec.placementGroup } : {}),
            },
          }
        : {}),
      UserData: Buffer.from(spec.userData ?? NODE_USER_DATA).toString('base64'),
      ...(spec.spotBid !== undefined
        ? {
            InstanceMarketOptions: {
              MarketType: 'spot' as const,
              SpotOptions: {
                MaxPrice: String(spec.spotBid),
                SpotInstanceType: 'one-time' as const,
                InstanceInterruptionBehavior: 'terminate' as const,
              },
            },
          }
        : {}),
      TagSpecifications: tagSpecs,
      ...(spec.shutdownTerminates ? { InstanceInitiatedShutdownBehavior: 'terminate' as const } : {}),
      // IAM_PROFILE: nodes get credentials from their role; access keys are never shipped to them.
      ...(spec.iamProfile
        ? {
            IamInstanceProfile: spec.iamProfile.startsWith('arn:')
              ? { Arn: spec.iamProfile }
              : { Name: spec.iamProfile },
          }
        : {}),
    };
  }

  /** Attaches an EBS volume (node setup mounts it on the master). */
  async attachVolume(volumeId: string, instanceId: string, device: string, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    await this.api.attachVolume(volumeId, instanceId, device);
  }

  /** The volume's tags (how setup formats a blank one: `starcluster:mkfs`). */
  async volumeTags(volumeId: string): Promise<Record<string, string>> {
    const [volume] = await this.api.describeVolumes([], [volumeId]);
    return fromTags(volume?.Tags);
  }

  /** Polls until the volume reports `attached` to the instance, within the provider's wait timeout. */
  async waitVolumeAttached(volumeId: string, instanceId: string, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.waitTimeoutSeconds * 1000;
    for (let delay = 500; ; delay = Math.min(delay * 2, 5000)) {
      throwIfAborted(signal);
      const [volume] = await this.api.describeVolumes([], [volumeId]);
      const attachment = volume?.Attachments?.find((a) => a.InstanceId === instanceId);
      if (attachment?.State === 'attached') return;
      if (Date.now() + delay > deadline)
        throw new CloudError(
          'VolumeAttachTimeout',
          `volume ${volumeId} did not attach to ${instanceId} within ${this.waitTimeoutSeconds} s (state: ${attachment?.State ?? volume?.State ?? 'unknown'}); check it with \`starcluster listvolumes -v ${volumeId}\``,
        );
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  async waitRunning(ids: string[], signal?: AbortSignal): Promise<NodeRecord[]> {
    if (ids.length === 0) return [];
    try {
      await this.api.waitInstances('running', ids, this.waitTimeoutSeconds, signal);
    } catch (error) {
      throwIfAborted(signal);
      const records = (await this.api.describeInstances([], ids)).map(toNodeRecord);
      const stuck = records.filter((r) => r.state !== 'running').map((r) => `${r.alias} (${r.id}: ${r.state})`);
      throw new CloudError(
        'InstancesNotRunning',
        `instances did not reach running: ${stuck.join(', ') || ids.join(', ')}`,
        {
          cause: error,
          hint: 'run `starcluster terminate` to remove them, or `starcluster start` again to resume',
        },
      );
    }
    return (await this.api.describeInstances([], ids)).map(toNodeRecord);
  }

  async terminate(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.api.terminateInstances(ids);
  }

  async waitTerminated(ids: string[], signal?: AbortSignal): Promise<void> {
    await this.api.waitInstances('terminated', ids, this.waitTimeoutSeconds, signal);
  }

  async waitStopped(ids: string[], signal?: AbortSignal): Promise<void> {
    await this.api.waitInstances('stopped', ids, this.waitTimeoutSeconds, signal);
  }

  // --- security group --------------------------------------------------------------------------

  async findSecurityGroup(name: string, vpcId?: string): Promise<SecurityGroupInfo | undefined> {
    const filters: Filter[] = [{ Name: 'group-name', Values: [name] }];
    if (vpcId) filters.push({ Name: 'vpc-id', Values: [vpcId] });
    const groups = await this.api.describeSecurityGroups(filters);
    const group = groups[0];
    return group ? toSecurityGroupInfo(group) : undefined;
  }

  /**
   * The id of a SOURCE_GROUP: an `sg-` id as written, else the group of that name within the VPC
   * (or the default VPC when none is given). Undefined when there is no such group.
   */
  async resolveGroupId(idOrName: string, vpcId?: string): Promise<string | undefined> {
    if (/^sg-[0-9a-f]+$/.test(idOrName)) return idOrName;
    return (await this.findSecurityGroup(idOrName, vpcId))?.id;
  }

  /** Security groups tagged with the cluster (there is normally one, `@sc-NAME`). */
  async clusterSecurityGroups(cluster: string): Promise<SecurityGroupInfo[]> {
    const tagged = await this.api.describeSecurityGroups([{ Name: `tag:${TAG_CLUSTER}`, Values: [cluster] }]);
    const byName = await this.api.describeSecurityGroups([{ Name: 'group-name', Values: [`@sc-${cluster}`] }]);
    const seen = new Map<string, SecurityGroupInfo>();
    for (const g of [...tagged, ...byName]) if (g.GroupId) seen.set(g.GroupId, toSecurityGroupInfo(g));
    return [...seen.values()];
  }

  /** The cluster's security group and the settings tagged on it. */
  async describeCluster(cluster: string): Promise<ClusterRecord> {
    const group = (await this.clusterSecurityGroups(cluster))[0];
    if (!group) return {};
    return {
      ...(group.tags[TAG_TEMPLATE] ? { template: group.tags[TAG_TEMPLATE] } : {}),
      ...(group.tags[TAG_DESCRIPTION] ? { description: group.tags[TAG_DESCRIPTION] } : {}),
      securityGroup: { id: group.id, name: group.name },
    };
  }

  async createSecurityGroup(name: string, description: string, tags: Record<string, string>, vpcId?: string) {
    return this.api.createSecurityGroup(name, description, tags, vpcId);
  }

  async dryRunSecurityGroup(name: string, vpcId?: string): Promise<true> {
    return this.api.dryRun('CreateSecurityGroup', () => this.api.createSecurityGroup(name, 'dry run', {}, vpcId, true));
  }

  async authorizeRules(groupId: string, rules: SgRule[]): Promise<void> {
    const permissions: IpPermission[] = rules.map((r) =>
      r.kind === 'self'
        ? {
            IpProtocol: '-1',
            UserIdGroupPairs: [{ GroupId: groupId, ...(r.description ? { Description: r.description } : {}) }],
          }
        : r.kind === 'group'
          ? {
              // SOURCE_GROUP: that group and nothing else (no IpRanges beside it).
              IpProtocol: r.protocol,
              FromPort: r.fromPort,
              ToPort: r.toPort,
              UserIdGroupPairs: [{ GroupId: r.group, ...(r.description ? { Description: r.description } : {}) }],
            }
          : {
              IpProtocol: r.protocol,
              FromPort: r.fromPort,
              ToPort: r.toPort,
              IpRanges: [{ CidrIp: r.cidr, ...(r.description ? { Description: r.description } : {}) }],
            },
    );
    await this.api.authorizeIngress(groupId, permissions);
  }

  /** Deletes a group, retrying while EC2 still sees it in use (instances shutting down). */
  async deleteSecurityGroup(groupId: string, signal?: AbortSignal): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.api.deleteSecurityGroup(groupId);
        return;
      } catch (error) {
        if (isCode(error, 'InvalidGroup.NotFound', 'InvalidGroupId.NotFound')) return;
        const delay = this.sgDeleteDelaysMs[attempt];
        if (!isCode(error, 'DependencyViolation', 'InvalidGroup.InUse') || delay === undefined) throw error;
        await sleep(delay, signal);
      }
    }
  }

  // --- placement group -------------------------------------------------------------------------

  /** False once the endpoint said it has no placement groups (LocalStack's EC2 does not implement them). */
  placementGroupsSupported = true;

  async findPlacementGroup(name: string): Promise<boolean> {
    if (!this.placementGroupsSupported) return false;
    try {
      const groups = await this.api.describePlacementGroups([{ Name: 'group-name', Values: [name] }]);
      return groups.some((g) => g.GroupName === name && g.State !== 'deleted' && g.State !== 'deleting');
    } catch (error) {
      if (isCode(error, 'InvalidPlacementGroup.Unknown')) return false;
      if (isNotImplemented(error)) {
        this.placementGroupsSupported = false;
        return false;
      }
      throw error;
    }
  }

  /** Creates the group; false (nothing made) when the endpoint does not implement placement groups. */
  async createPlacementGroup(name: string, tags: Record<string, string>): Promise<boolean> {
    if (!this.placementGroupsSupported) return false;
    try {
      await this.api.createPlacementGroup(name, tags);
      return true;
    } catch (error) {
      if (!isNotImplemented(error)) throw error;
      this.placementGroupsSupported = false;
      return false;
    }
  }

  async deletePlacementGroup(name: string, signal?: AbortSignal): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.api.deletePlacementGroup(name);
        return;
      } catch (error) {
        if (isCode(error, 'InvalidPlacementGroup.Unknown')) return;
        const delay = this.sgDeleteDelaysMs[attempt];
        if (!isCode(error, 'InvalidPlacementGroup.InUse') || delay === undefined) throw error;
        await sleep(delay, signal);
      }
    }
  }

  // --- spot requests ---------------------------------------------------------------------------

  /** Open or active spot requests of the cluster: tagged with it, or feeding its instances. */
  async clusterSpotRequests(cluster: string, instanceIds: string[] = []): Promise<string[]> {
    const ids = new Set<string>();
    const byTag = await this.api.describeSpotRequests([
      { Name: `tag:${TAG_CLUSTER}`, Values: [cluster] },
      { Name: 'state', Values: ['open', 'active'] },
    ]);
    for (const r of byTag) if (r.SpotInstanceRequestId) ids.add(r.SpotInstanceRequestId);
    if (instanceIds.length) {
      const byInstance = await this.api.describeSpotRequests([
        { Name: 'instance-id', Values: instanceIds },
        { Name: 'state', Values: ['open', 'active'] },
      ]);
      for (const r of byInstance) if (r.SpotInstanceRequestId) ids.add(r.SpotInstanceRequestId);
    }
    return [...ids];
  }

  async cancelSpotRequests(ids: string[]): Promise<void> {
    try {
      await this.api.cancelSpotRequests(ids);
    } catch (error) {
      if (!isCode(error, 'InvalidSpotInstanceRequestID.NotFound')) throw error;
    }
  }
}

/** Launch failures that depend on the zone: another zone of the region may have what this one lacks. */
export const ZONE_SPECIFIC_LAUNCH_CODES = ['Ec2InsufficientInstanceCapacity', 'Ec2Unsupported'];

/**
 * RunInstances' capacity, quota and spot-price refusals as errors that say what happened and what to
 * do (a new account's vCPU quota is small; a cluster placement group needs all nodes in one spot of
 * one zone). Other failures pass through unchanged.
 */
export function explainLaunchFailure(error: unknown, spec: LaunchSpec, count: number): unknown {
  const where = spec.zone ? ` in ${spec.zone}` : '';
  const what = `${count} × ${spec.instanceType}${where}`;
  const pg = spec.placementGroup
    ? `; the cluster placement group ${spec.placementGroup} asks for all nodes close together, which makes this likelier`
    : '';
  const explain = (code: string, message: string, hint: string) =>
    new CloudError(code, message, {
      cause: error,
      hint,
      details: [error instanceof Error ? error.message : String(error)],
    });
  if (isCode(error, 'InsufficientInstanceCapacity'))
    return explain(
      'Ec2InsufficientInstanceCapacity',
      `AWS has no spare capacity for ${what} right now${pg}`,
      'try another zone (-a ZONE, or leave AVAILABILITY_ZONE and SUBNET_ID unset so start tries every zone), another instance type (-i/-I), fewer nodes, or again in a few minutes',
    );
  if (isCode(error, 'VcpuLimitExceeded', 'InstanceLimitExceeded'))
    return explain(
      `Ec2${awsErrorCode(error) ?? 'VcpuLimitExceeded'}`,
      `the account's vCPU quota for ${spec.instanceType}'s family is too small for ${what} (new accounts start with a few vCPUs)`,
      'ask for more in the Service Quotas console (EC2 → "Running On-Demand … instances", or "All … Spot Instance Requests" for spot), or start fewer or smaller nodes (-s, -i)',
    );
  if (isCode(error, 'SpotMaxPriceTooLow'))
    return explain(
      'Ec2SpotMaxPriceTooLow',
      `the spot bid $${spec.spotBid ?? '?'}/hour is below the current spot price of ${spec.instanceType}${where}`,
      `see the recent prices with \`starcluster spothistory ${spec.instanceType}\`, then raise the bid (-b / SPOT_BID) or drop it to launch on-demand`,
    );
  if (isCode(error, 'MaxSpotInstanceCountExceeded'))
    return explain(
      'Ec2MaxSpotInstanceCountExceeded',
      `the account's spot instance quota is too small for ${what}`,
      'ask for more in the Service Quotas console (EC2 → "All … Spot Instance Requests"), or launch on-demand (no -b / SPOT_BID)',
    );
  if (isCode(error, 'Unsupported'))
    return explain(
      'Ec2Unsupported',
      `${spec.instanceType} cannot be launched${where || ' in the zone EC2 chose'}`,
      'choose another zone (-a) or instance type; `starcluster listzones` lists the zones',
    );
  return error;
}

export function toNodeRecord(i: Instance): NodeRecord {
  const tags = fromTags(i.Tags);
  const role: NodeRole = tags[TAG_ROLE] === 'master' ? 'master' : 'node';
  const launchAliases = tags[TAG_LAUNCH_ALIASES]?.split(',');
  const alias =
    tags[TAG_ALIAS] ??
    launchAliases?.[i.AmiLaunchIndex ?? 0] ??
    (tags[TAG_NAME] && tags[TAG_CLUSTER] ? tags[TAG_NAME].replace(`${tags[TAG_CLUSTER]}-`, '') : undefined) ??
    i.InstanceId ??
    '';
  return {
    id: i.InstanceId ?? '',
    cluster: tags[TAG_CLUSTER] ?? '',
    alias,
    role,
    state: (i.State?.Name ?? 'pending') as NodeState,
    instanceType: i.InstanceType ?? '',
    ...(i.ImageId ? { imageId: i.ImageId } : {}),
    ...(i.Placement?.AvailabilityZone ? { zone: i.Placement.AvailabilityZone } : {}),
    ...(i.PrivateIpAddress ? { privateIp: i.PrivateIpAddress } : {}),
    ...(i.PublicIpAddress ? { publicIp: i.PublicIpAddress } : {}),
    ...(i.KeyName ? { keyName: i.KeyName } : {}),
    ...(i.LaunchTime ? { launchTime: new Date(i.LaunchTime) } : {}),
    ...(i.SpotInstanceRequestId ? { spotRequestId: i.SpotInstanceRequestId } : {}),
    ...(tags[TAG_LOGIN_USER] ? { loginUser: tags[TAG_LOGIN_USER] } : {}),
    tags,
  };
}

function toSecurityGroupInfo(g: SecurityGroup): SecurityGroupInfo {
  const rules: SgRule[] = [];
  for (const p of g.IpPermissions ?? []) {
    for (const pair of p.UserIdGroupPairs ?? [])
      rules.push(
        pair.GroupId === g.GroupId
          ? { kind: 'self' }
          : {
              kind: 'group',
              protocol: p.IpProtocol ?? '-1',
              fromPort: p.FromPort ?? -1,
              toPort: p.ToPort ?? -1,
              group: pair.GroupId ?? '',
            },
      );
    for (const range of p.IpRanges ?? [])
      rules.push({
        kind: 'cidr',
        protocol: p.IpProtocol ?? '-1',
        fromPort: p.FromPort ?? -1,
        toPort: p.ToPort ?? -1,
        cidr: range.CidrIp ?? '',
      });
  }
  return {
    id: g.GroupId ?? '',
    name: g.GroupName ?? '',
    ...(g.VpcId ? { vpcId: g.VpcId } : {}),
    tags: fromTags(g.Tags),
    rules,
  };
}

/** A launch's idempotency token: stable for one run's group, distinct across runs. */
export function launchToken(cluster: string, runId: string, groupKey: string): string {
  const digest = createHash('sha256').update(`${cluster}\0${runId}\0${groupKey}`).digest('hex').slice(0, 32);
  return `sc-${cluster.slice(0, 24)}-${digest}`;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
