import type { RunInstancesCommandInput } from '@aws-sdk/client-ec2';
import { ec2Error } from './errors.js';
import type { InstanceRec, Store, Tags } from './store.js';
import { fakeSpotPrice } from './catalog.js';

/** Where and how a RunInstances call launches, once EC2's checks passed. */
export interface LaunchPlace {
  count: number;
  zone: string;
  subnetId: string;
  vpcId: string;
  groupIds: string[];
  placementGroup?: string;
  spotPrice?: string;
}

function checkImageAndType(store: Store, input: RunInstancesCommandInput): void {
  const imageId = input.ImageId ?? '';
  if (!/^ami-[0-9a-f]+$/.test(imageId)) throw ec2Error('InvalidAMIID.Malformed', `Invalid id: "${imageId}"`);
  const image = store.images.get(imageId);
  if (!image || image.state !== 'available')
    throw ec2Error('InvalidAMIID.NotFound', `The image id '[${imageId}]' does not exist`);
  const type = store.typeInfo(input.InstanceType ?? '');
  if (!type) throw ec2Error('InvalidParameterValue', `Invalid value '${input.InstanceType}' for InstanceType.`);
  if (type.architecture !== image.architecture)
    throw ec2Error(
      'InvalidParameterValue',
      `The architecture '${type.architecture}' of the specified instance type does not match the architecture '${image.architecture}' of the specified AMI.`,
    );
}

function subnetAndGroups(store: Store, input: RunInstancesCommandInput) {
  const nic = input.NetworkInterfaces?.[0];
  const subnetId = nic?.SubnetId ?? input.SubnetId;
  const subnet = subnetId ? store.catalog.subnets.find((s) => s.id === subnetId) : undefined;
  if (subnetId && !subnet) throw ec2Error('InvalidSubnetID.NotFound', `The subnet ID '${subnetId}' does not exist`);
  const groupIds = [...(nic?.Groups ?? input.SecurityGroupIds ?? [])];
  for (const id of groupIds) {
    const g = store.groups.get(id);
    if (!g) throw ec2Error('InvalidGroup.NotFound', `The security group '${id}' does not exist`);
    if (subnet && g.vpcId !== subnet.vpcId)
      throw ec2Error('InvalidParameter', `Security group ${id} and subnet ${subnet.id} belong to different networks.`);
  }
  return { subnet, groupIds };
}

/** EC2's checks of a RunInstances call, in the order it answers them; the place it launches. */
export function launchPlace(store: Store, input: RunInstancesCommandInput): LaunchPlace {
  const count = input.MaxCount ?? 0;
  if (!input.MinCount || !count || input.MinCount > count)
    throw ec2Error('InvalidParameterValue', 'MinCount and MaxCount must be at least 1, MinCount ≤ MaxCount');
  checkImageAndType(store, input);
  const type = store.typeInfo(input.InstanceType ?? '');
  if (input.KeyName && !store.keyPairs.has(input.KeyName))
    throw ec2Error('InvalidKeyPair.NotFound', `The key pair '${input.KeyName}' does not exist`);
  const { subnet, groupIds } = subnetAndGroups(store, input);
  const asked = input.Placement?.AvailabilityZone;
  if (asked && !store.catalog.zones.includes(asked))
    throw ec2Error('InvalidParameterValue', `Invalid availability zone: [${asked}]`);
  if (asked && subnet && subnet.zone !== asked)
    throw ec2Error('InvalidParameterValue', `Subnet ${subnet.id} is not in availability zone ${asked}`);
  // EC2's own pick: the first zone that offers the type (which may have no capacity: that is the point).
  const zone = asked ?? subnet?.zone ?? type?.zones[0] ?? store.catalog.zones[0] ?? '';
  if (!type?.zones.includes(zone))
    throw ec2Error(
      'Unsupported',
      `Your requested instance type (${input.InstanceType}) is not supported in your requested Availability Zone (${zone}).`,
    );
  const pg = input.Placement?.GroupName;
  if (pg && !store.placementGroups.has(pg))
    throw ec2Error('InvalidPlacementGroup.Unknown', `The Placement Group '${pg}' is unknown.`);
  if (store.opts.noCapacity?.includes(zone))
    throw ec2Error(
      'InsufficientInstanceCapacity',
      `We currently do not have sufficient ${input.InstanceType} capacity in the Availability Zone you requested (${zone}).`,
    );
  checkQuota(store, type?.vcpus ?? 1, count);
  const market = input.InstanceMarketOptions;
  // The spot price now in this zone (what DescribeSpotPriceHistory answers last).
  const current = Number(fakeSpotPrice(type?.spotPrice ?? 0, store.catalog.zones.indexOf(zone)).toFixed(6));
  const spotPrice = market?.MarketType === 'spot' ? (market.SpotOptions?.MaxPrice ?? String(current)) : undefined;
  if (spotPrice !== undefined && Number(spotPrice) < current)
    throw ec2Error(
      'SpotMaxPriceTooLow',
      `Your Spot request price of ${spotPrice} is lower than the minimum required Spot request fulfillment price of ${current}.`,
    );
  return {
    count,
    zone,
    subnetId: subnet?.id ?? store.catalog.subnets.find((s) => s.zone === zone)?.id ?? 'subnet-default',
    vpcId: subnet?.vpcId ?? store.groups.get(groupIds[0] ?? '')?.vpcId ?? store.catalog.subnets[0]?.vpcId ?? '',
    groupIds: groupIds.length
      ? groupIds
      : [...store.groups.values()].filter((g) => g.name === 'default').map((g) => g.id),
    ...(pg ? { placementGroup: pg } : {}),
    ...(spotPrice !== undefined ? { spotPrice } : {}),
  };
}

function checkQuota(store: Store, vcpus: number, count: number): void {
  const limit = store.opts.vcpuLimit;
  if (limit === undefined) return;
  let used = 0;
  for (const i of store.instances.values())
    if (i.state !== 'terminated' && i.state !== 'shutting-down') used += store.typeInfo(i.type)?.vcpus ?? 1;
  if (used + vcpus * count > limit)
    throw ec2Error(
      'VcpuLimitExceeded',
      `You have requested more vCPU capacity than your current vCPU limit of ${limit} allows for the instance bucket that the specified instance type belongs to.`,
    );
}

/** The instances of one RunInstances call, with their root volumes and spot requests, all tagged. */
export function createInstances(
  store: Store,
  input: RunInstancesCommandInput,
  place: LaunchPlace,
  tags: { instance: Tags; volume: Tags; spot: Tags },
): InstanceRec[] {
  const reservationId = store.newId('r');
  const made: InstanceRec[] = [];
  for (let index = 0; index < place.count; index++) {
    const id = store.newId('i');
    const rootVolumeId = store.newId('vol');
    store.volumes.set(rootVolumeId, {
      id: rootVolumeId,
      state: 'in-use',
      tags: { ...tags.volume },
      created: store.tick(),
      size: 8,
      zone: place.zone,
      type: 'gp3',
      attachment: { instanceId: id, device: '/dev/xvda', state: 'attached', deleteOnTermination: true },
    });
    const spotRequestId = place.spotPrice !== undefined ? store.newId('sir') : undefined;
    const instance: InstanceRec = {
      id,
      state: 'pending',
      tags: { ...tags.instance },
      created: store.tick(),
      imageId: input.ImageId ?? '',
      type: input.InstanceType ?? '',
      zone: place.zone,
      subnetId: place.subnetId,
      vpcId: place.vpcId,
      privateIp: store.nextPrivateIp(),
      publicIp: `203.0.113.${(store.tick() % 250) + 1}`,
      ...(input.KeyName ? { keyName: input.KeyName } : {}),
      groupIds: place.groupIds,
      ...(place.placementGroup ? { placementGroup: place.placementGroup } : {}),
      launchIndex: index,
      reservationId,
      launchTime: new Date(),
      ...(spotRequestId ? { spotRequestId } : {}),
      rootVolumeId,
      ...(input.IamInstanceProfile
        ? { iamProfile: input.IamInstanceProfile.Arn ?? input.IamInstanceProfile.Name }
        : {}),
      ...(input.UserData ? { userData: input.UserData } : {}),
      hiddenFor: store.opts.invisibleCalls ?? 0,
    };
    if (spotRequestId)
      store.spot.set(spotRequestId, {
        id: spotRequestId,
        state: 'active',
        tags: { ...tags.spot },
        created: store.tick(),
        instanceId: id,
        type: instance.type,
        price: place.spotPrice ?? '',
        zone: place.zone,
        status: 'fulfilled',
      });
    const outcome = store.opts.launchOutcome?.(instance) ?? 'running';
    store.begin(
      instance,
      'pending',
      outcome,
      outcome === 'terminated' ? () => releaseTerminated(store, instance) : undefined,
    );
    store.instances.set(id, instance);
    made.push(instance);
  }
  return made;
}

/** What a terminated instance lets go of: its root volume is deleted, others detached, its one-time spot request closed. */
export function releaseTerminated(store: Store, i: InstanceRec): void {
  for (const v of store.volumes.values()) {
    if (v.attachment?.instanceId !== i.id) continue;
    if (v.attachment.deleteOnTermination) store.volumes.delete(v.id);
    else {
      delete v.attachment;
      v.state = 'available';
    }
  }
  const request = i.spotRequestId ? store.spot.get(i.spotRequestId) : undefined;
  if (request && request.state === 'active') {
    request.state = 'closed';
    request.status = 'instance-terminated-by-user';
  }
}
