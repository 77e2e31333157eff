import type {
  AuthorizeSecurityGroupIngressCommandInput,
  CreatePlacementGroupCommandInput,
  CreateSecurityGroupCommandInput,
  DeletePlacementGroupCommandInput,
  DeleteSecurityGroupCommandInput,
  DescribePlacementGroupsCommandInput,
  DescribeSecurityGroupsCommandInput,
  IpPermission,
} from '@aws-sdk/client-ec2';
import { DEFAULT_VPC } from './catalog.js';
import { dryRunOperation, ec2Error } from './errors.js';
import { matches, page, tagList } from './filters.js';
import { LIVE } from './instances.js';
import { route, tagsFor, type Routes } from './routes.js';
import type { GroupRec, Store } from './store.js';

function createSecurityGroup(store: Store, input: CreateSecurityGroupCommandInput) {
  const name = input.GroupName ?? '';
  const vpcId = input.VpcId ?? DEFAULT_VPC;
  if (!name || !input.Description) throw ec2Error('MissingParameter', 'GroupName and Description are required');
  if (name.length > 255 || name.startsWith('sg-'))
    throw ec2Error('InvalidParameterValue', `Invalid security group name '${name}'`);
  if (vpcId !== DEFAULT_VPC && !store.catalog.subnets.some((s) => s.vpcId === vpcId))
    throw ec2Error('InvalidVpcID.NotFound', `The vpc ID '${vpcId}' does not exist`);
  const tags = tagsFor(input.TagSpecifications, 'security-group', ['security-group']);
  if ([...store.groups.values()].some((g) => g.name === name && g.vpcId === vpcId))
    throw ec2Error('InvalidGroup.Duplicate', `The security group '${name}' already exists for VPC '${vpcId}'`);
  if (input.DryRun) throw dryRunOperation('CreateSecurityGroup');
  const id = store.newId('sg');
  store.groups.set(id, {
    id,
    state: 'available',
    tags,
    created: store.tick(),
    name,
    description: input.Description,
    vpcId,
    // Every new group may send anywhere; ingress starts empty.
    ingress: [],
  });
  return { GroupId: id, Tags: tagList(tags) };
}

/** One rule per source: EC2 stores and compares rules source by source. */
function split(p: IpPermission): IpPermission[] {
  const base = { IpProtocol: p.IpProtocol, FromPort: p.FromPort, ToPort: p.ToPort };
  return [
    ...(p.IpRanges ?? []).map((r) => ({ ...base, IpRanges: [r] })),
    ...(p.UserIdGroupPairs ?? []).map((u) => ({ ...base, UserIdGroupPairs: [u] })),
  ];
}

function sameRule(a: IpPermission, b: IpPermission): boolean {
  const norm = (p: IpPermission) =>
    JSON.stringify([
      p.IpProtocol,
      p.IpProtocol === '-1' ? -1 : p.FromPort,
      p.IpProtocol === '-1' ? -1 : p.ToPort,
      p.IpRanges?.[0]?.CidrIp,
      p.UserIdGroupPairs?.[0]?.GroupId,
    ]);
  return norm(a) === norm(b);
}

function authorizeIngress(store: Store, input: AuthorizeSecurityGroupIngressCommandInput) {
  const group = store.groups.get(input.GroupId ?? '');
  if (!group) throw ec2Error('InvalidGroup.NotFound', `The security group '${input.GroupId}' does not exist`);
  const rules = (input.IpPermissions ?? []).flatMap(split);
  for (const rule of rules) {
    const source = rule.UserIdGroupPairs?.[0]?.GroupId;
    if (source && !store.groups.has(source))
      throw ec2Error('InvalidGroup.NotFound', `The security group '${source}' does not exist`);
    const cidr = rule.IpRanges?.[0]?.CidrIp;
    if (cidr !== undefined && !/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(cidr))
      throw ec2Error('InvalidParameterValue', `CIDR block ${cidr} is malformed`);
    if (group.ingress.some((r) => sameRule(r, rule)))
      throw ec2Error('InvalidPermission.Duplicate', `the specified rule already exists in ${group.id}`);
  }
  group.ingress.push(...rules);
  return { Return: true };
}

function toSecurityGroup(g: GroupRec) {
  return {
    GroupId: g.id,
    GroupName: g.name,
    Description: g.description,
    VpcId: g.vpcId,
    OwnerId: '123456789012',
    IpPermissions: g.ingress.map((r) => structuredClone(r)),
    IpPermissionsEgress: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
    Tags: tagList(g.tags),
  };
}

function describeSecurityGroups(store: Store, input: DescribeSecurityGroupsCommandInput) {
  let groups = [...store.groups.values()];
  if (input.GroupIds?.length) {
    const missing = input.GroupIds.find((id) => !store.groups.has(id));
    if (missing) throw ec2Error('InvalidGroup.NotFound', `The security group '${missing}' does not exist`);
    groups = groups.filter((g) => input.GroupIds?.includes(g.id));
  }
  const found = groups.filter((g) =>
    matches(
      input.Filters,
      { 'group-name': [g.name], 'group-id': [g.id], 'vpc-id': [g.vpcId], description: [g.description] },
      g.tags,
    ),
  );
  const { items, next } = page(found, input.NextToken, store.opts.pageSize);
  return { SecurityGroups: items.map(toSecurityGroup), ...(next ? { NextToken: next } : {}) };
}

function deleteSecurityGroup(store: Store, input: DeleteSecurityGroupCommandInput) {
  const group = store.groups.get(input.GroupId ?? '');
  if (!group) throw ec2Error('InvalidGroup.NotFound', `The security group '${input.GroupId}' does not exist`);
  if (group.name === 'default') throw ec2Error('CannotDelete', 'the default group cannot be deleted');
  const user = [...store.instances.values()].find((i) => LIVE.includes(i.state) && i.groupIds.includes(group.id));
  if (user) throw ec2Error('DependencyViolation', `resource ${group.id} has a dependent object (${user.id})`);
  const referrer = [...store.groups.values()].find(
    (g) => g.id !== group.id && g.ingress.some((r) => r.UserIdGroupPairs?.[0]?.GroupId === group.id),
  );
  if (referrer) throw ec2Error('DependencyViolation', `resource ${group.id} is referenced by ${referrer.id}`);
  store.groups.delete(group.id);
  return { Return: true, GroupId: group.id };
}

function placementGroupRoutes(store: Store): Routes {
  return {
    CreatePlacementGroup: route<CreatePlacementGroupCommandInput>((input) => {
      const name = input.GroupName ?? '';
      const tags = tagsFor(input.TagSpecifications, 'placement-group', ['placement-group']);
      if (store.placementGroups.has(name))
        throw ec2Error('InvalidPlacementGroup.Duplicate', `The Placement Group '${name}' already exists.`);
      if (input.DryRun) throw dryRunOperation('CreatePlacementGroup');
      const id = store.newId('pg');
      store.placementGroups.set(name, {
        id,
        name,
        state: 'available',
        tags,
        created: store.tick(),
        strategy: input.Strategy ?? 'cluster',
      });
      return {
        PlacementGroup: {
          GroupName: name,
          GroupId: id,
          State: 'available',
          Strategy: input.Strategy,
          Tags: tagList(tags),
        },
      };
    }),
    DescribePlacementGroups: route<DescribePlacementGroupsCommandInput>((input) => ({
      PlacementGroups: [...store.placementGroups.values()]
        .filter((p) => !input.GroupNames?.length || input.GroupNames.includes(p.name))
        .filter((p) =>
          matches(input.Filters, { 'group-name': [p.name], state: [p.state], strategy: [p.strategy] }, p.tags),
        )
        .map((p) => ({
          GroupName: p.name,
          GroupId: p.id,
          State: p.state as 'available',
          Strategy: p.strategy as 'cluster',
          Tags: tagList(p.tags),
        })),
    })),
    DeletePlacementGroup: route<DeletePlacementGroupCommandInput>((input) => {
      const name = input.GroupName ?? '';
      if (!store.placementGroups.has(name))
        throw ec2Error('InvalidPlacementGroup.Unknown', `The Placement Group '${name}' is unknown.`);
      const user = [...store.instances.values()].find((i) => LIVE.includes(i.state) && i.placementGroup === name);
      if (user) throw ec2Error('InvalidPlacementGroup.InUse', `The Placement Group '${name}' is in use (${user.id}).`);
      store.placementGroups.delete(name);
      return {};
    }),
  };
}

export function groupRoutes(store: Store): Routes {
  return {
    CreateSecurityGroup: route<CreateSecurityGroupCommandInput>((input) => createSecurityGroup(store, input)),
    AuthorizeSecurityGroupIngress: route<AuthorizeSecurityGroupIngressCommandInput>((input) =>
      authorizeIngress(store, input),
    ),
    DescribeSecurityGroups: route<DescribeSecurityGroupsCommandInput>((input) => describeSecurityGroups(store, input)),
    DeleteSecurityGroup: route<DeleteSecurityGroupCommandInput>((input) => deleteSecurityGroup(store, input)),
    ...placementGroupRoutes(store),
  };
}
