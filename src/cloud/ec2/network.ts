import type { Filter, Instance, IpPermission, SecurityGroup } from '@aws-sdk/client-ec2';
import { CloudError } from '../../errors.js';
import { TAG_CLUSTER, TAG_RUN } from '../../model/tags.js';
import { systemClock, type Clock } from '../../clock.js';
import type { ClusterGroup, ClusterNetwork, GroupSpec } from '../provider.js';
import type { IngressRule } from '../security-group.js';
import { type Ec2Api } from './api.js';
import { fromTags, isCode, isNotImplemented } from './errors.js';
import { clusterVpcId } from './networks.js';
import { supportsPlacementGroup } from './prices.js';

/**
 * A cluster's network on EC2: its security group `@sc-NAME` (created in the subnet's VPC, rules
 * added, deleted with retries while instances still hold it) and its cluster placement group.
 */
export class Ec2Network implements ClusterNetwork {
  /** False once the endpoint said it has no placement groups (LocalStack's EC2 does not implement them). */
  private placementGroupsSupported = true;

  constructor(
    private readonly api: Ec2Api,
    /** Backoff for deleting a group still in use (ms). */
    private readonly deleteDelaysMs: readonly number[],
    /** Whose time the pauses between deletes are measured in. */
    private readonly clock: Clock = systemClock,
  ) {}

  async findClusterGroup(name: string, subnetId: string | undefined): Promise<ClusterGroup | undefined> {
    const vpcId = await clusterVpcId(this.api, subnetId);
    return this.findGroup(name, vpcId);
  }

  private async findGroup(name: string, vpcId?: string): Promise<ClusterGroup | undefined> {
    const filters: Filter[] = [{ Name: 'group-name', Values: [name] }];
    if (vpcId) filters.push({ Name: 'vpc-id', Values: [vpcId] });
    const group = (await this.api.describeSecurityGroups(filters))[0];
    return group ? toClusterGroup(group) : undefined;
  }

  async clusterGroups(cluster: string): Promise<ClusterGroup[]> {
    const tagged = await this.api.describeSecurityGroups([{ Name: `tag:${TAG_CLUSTER}`, Values: [cluster] }]);
    const byName = await this.api.describeSecurityGroups([{ Name: 'group-name', Values: [`@sc-${cluster}`] }]);
    // By name only within the VPCs of the cluster's tagged groups: a same-named group of another VPC
    // is not this cluster's. A cluster from before tags has no tagged group: its name is all there is.
    const vpcs = new Set(tagged.map((g) => g.VpcId));
    const named = tagged.length === 0 ? byName : byName.filter((g) => vpcs.has(g.VpcId));
    const seen = new Map<string, ClusterGroup>();
    for (const g of [...tagged, ...named]) if (g.GroupId) seen.set(g.GroupId, toClusterGroup(g));
    return [...seen.values()];
  }

  async createGroup(input: GroupSpec): Promise<ClusterGroup> {
    const vpcId = input.subnetId ? (await this.api.describeSubnets([input.subnetId]))[0]?.VpcId : undefined;
    let id: string;
    try {
      id = await this.api.createSecurityGroup(input.name, input.description, input.tags, vpcId);
    } catch (error) {
      // A retried call whose first answer was lost meets the group that first call made
      // (InvalidGroup.Duplicate): a group carrying this run's id is ours, so carry on with it.
      const mine = (await this.clusterGroups(input.cluster)).find((g) => g.tags[TAG_RUN] === input.runId);
      if (!mine) throw error;
      id = mine.id;
    }
    return { id, name: input.name, ...(vpcId ? { vpcId } : {}), tags: input.tags, rules: [] };
  }

  async dryRunGroup(name: string): Promise<true> {
    return this.api.dryRun('CreateSecurityGroup', () =>
      this.api.createSecurityGroup(name, 'dry run', {}, undefined, true),
    );
  }

  async resolveRules(rules: readonly IngressRule[], vpcId: string | undefined): Promise<IngressRule[]> {
    return Promise.all(
      rules.map(async (r) => {
        if (r.kind !== 'group') return r;
        const id = await this.resolveGroupId(r.group, vpcId);
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
   * The id of a SOURCE_GROUP: an `sg-` id as written, else the group of that name within the VPC
   * (or the default VPC when none is given). Undefined when there is no such group.
   */
  private async resolveGroupId(idOrName: string, vpcId?: string): Promise<string | undefined> {
    if (/^sg-[0-9a-f]+$/.test(idOrName)) return idOrName;
    return (await this.findGroup(idOrName, vpcId))?.id;
  }

  async authorize(groupId: string, rules: readonly IngressRule[]): Promise<void> {
    await this.api.authorizeIngress(
      groupId,
      rules.map((r) => toPermission(groupId, r)),
    );
  }

  /** Deletes a group, retrying while EC2 still sees it in use (instances shutting down). */
  async deleteGroup(groupId: string, signal?: AbortSignal): Promise<string[]> {
    const moved: string[] = [];
    for (let attempt = 0; ; attempt++) {
      try {
        await this.api.deleteSecurityGroup(groupId);
        return moved;
      } catch (error) {
        if (isCode(error, 'InvalidGroup.NotFound', 'InvalidGroupId.NotFound')) return moved;
        if (!isCode(error, 'DependencyViolation', 'InvalidGroup.InUse')) throw error;
        const freed = await this.freeGroup(groupId, error);
        moved.push(...freed);
        if (freed.length) continue;
        const delay = this.deleteDelaysMs[attempt];
        if (delay === undefined) throw error;
        await this.clock.sleep(delay, signal);
      }
    }
  }

  /**
   * What holds a group that will not let go by waiting: instances in it that are not shutting
   * down. Those an older `removenode -k` kept (tagged `removed-from-CLUSTER`, left in the group)
   * move out (see leaveGroups); any other instance that is not the cluster's is not ours to move or
   * wait for: a SecurityGroupInUse error names it. Returns the instances moved (then delete again).
   */
  private async freeGroup(groupId: string, cause: unknown): Promise<string[]> {
    const users = await this.api.describeInstances([
      { Name: 'instance.group-id', Values: [groupId] },
      { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
    ]);
    if (users.length === 0) return [];
    const [group] = await this.api.describeSecurityGroups([{ Name: 'group-id', Values: [groupId] }]);
    const name = group?.GroupName ?? groupId;
    const cluster = fromTags(group?.Tags)[TAG_CLUSTER] ?? name.replace(/^@sc-/, '');
    const owner = (i: Instance) => fromTags(i.Tags)[TAG_CLUSTER];
    const kept = users.filter((i) => owner(i) === `removed-from-${cluster}`);
    // The cluster's own, still seen running a moment after they were terminated: waiting helps.
    const strangers = users.filter((i) => owner(i) !== cluster && !kept.includes(i));
    if (strangers.length) {
      const ids = strangers.flatMap((i) => i.InstanceId ?? []).join(', ');
      throw new CloudError(
        'SecurityGroupInUse',
        `security group ${groupId} (${name}) is used by ${ids}, which ${strangers.length === 1 ? 'is' : 'are'} not part of cluster ${cluster} and not terminating`,
        {
          cause,
          hint:
            `give ${strangers.length === 1 ? 'it' : 'them'} another group (aws ec2 modify-instance-attribute --instance-id ID --groups sg-…) ` +
            `or terminate ${strangers.length === 1 ? 'it' : 'them'}, then run \`starcluster terminate ${cluster}\` again`,
        },
      );
    }
    for (const i of kept) await this.leaveGroups(i, new Set([groupId]));
    return kept.flatMap((i) => i.InstanceId ?? []);
  }

  /**
   * Moves an instance out of these groups, to its other groups, else its VPC's default group (an
   * instance needs one; ModifyInstanceAttribute). Where it went, or undefined when it was in none.
   */
  async leaveGroups(
    i: Instance,
    groupIds: ReadonlySet<string>,
  ): Promise<{ to: string[]; vpcDefault: boolean } | undefined> {
    const groups = (i.SecurityGroups ?? []).flatMap((g) => g.GroupId ?? []);
    const others = groups.filter((g) => !groupIds.has(g));
    if (others.length === groups.length) return undefined;
    const to = others.length ? others : [await this.vpcDefaultGroup(i.VpcId)];
    await this.api.setInstanceGroups(i.InstanceId ?? '', to);
    return { to, vpcDefault: others.length === 0 };
  }

  private async vpcDefaultGroup(vpcId: string | undefined): Promise<string> {
    const [group] = await this.api.describeSecurityGroups([
      { Name: 'group-name', Values: ['default'] },
      ...(vpcId ? [{ Name: 'vpc-id', Values: [vpcId] }] : []),
    ]);
    if (!group?.GroupId)
      throw new CloudError('NoDefaultGroup', `no default security group in ${vpcId ?? 'the default VPC'}`, {
        hint: 'remove the node without -k, or give the instance a group of yours first',
      });
    return group.GroupId;
  }

  // --- placement group -------------------------------------------------------------------------

  placementFits(instanceTypes: readonly string[]): boolean {
    return instanceTypes.every((t) => supportsPlacementGroup(t));
  }

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

  async deletePlacementGroup(name: string, signal?: AbortSignal): Promise<string[]> {
    // Instances still running (or stopped) in it are not shutting down: waiting would not help.
    const held = await this.api.describeInstances([
      { Name: 'placement-group-name', Values: [name] },
      { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
    ]);
    if (held.length) return held.flatMap((i) => i.InstanceId ?? []);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.api.deletePlacementGroup(name);
        return [];
      } catch (error) {
        if (isCode(error, 'InvalidPlacementGroup.Unknown')) return [];
        const delay = this.deleteDelaysMs[attempt];
        if (!isCode(error, 'InvalidPlacementGroup.InUse') || delay === undefined) throw error;
        await this.clock.sleep(delay, signal);
      }
    }
  }
}

function toPermission(groupId: string, r: IngressRule): IpPermission {
  const description = r.description ? { Description: r.description } : {};
  if (r.kind === 'self') return { IpProtocol: '-1', UserIdGroupPairs: [{ GroupId: groupId, ...description }] };
  const ports = { IpProtocol: r.protocol, FromPort: r.fromPort, ToPort: r.toPort };
  // SOURCE_GROUP: that group and nothing else (no IpRanges beside it).
  if (r.kind === 'group') return { ...ports, UserIdGroupPairs: [{ GroupId: r.group, ...description }] };
  return { ...ports, IpRanges: [{ CidrIp: r.cidr, ...description }] };
}

function toClusterGroup(g: SecurityGroup): ClusterGroup {
  const rules: IngressRule[] = [];
  for (const p of g.IpPermissions ?? []) {
    const ports = {
      protocol: (p.IpProtocol ?? '-1') as IngressRule['protocol'],
      fromPort: p.FromPort ?? -1,
      toPort: p.ToPort ?? -1,
      description: '',
    };
    for (const pair of p.UserIdGroupPairs ?? [])
      rules.push(
        pair.GroupId === g.GroupId
          ? { kind: 'self', protocol: '-1', fromPort: -1, toPort: -1, description: '' }
          : { kind: 'group', ...ports, group: pair.GroupId ?? '' },
      );
    for (const range of p.IpRanges ?? []) rules.push({ kind: 'cidr', ...ports, cidr: range.CidrIp ?? '' });
  }
  return {
    id: g.GroupId ?? '',
    name: g.GroupName ?? '',
    ...(g.VpcId ? { vpcId: g.VpcId } : {}),
    tags: fromTags(g.Tags),
    rules,
  };
}
