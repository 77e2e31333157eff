import type { Instance } from '@aws-sdk/client-ec2';
import { CloudError } from '../../errors.js';
import type { NodeRecord, NodeRole, NodeState } from '../../model/node.js';
import { TAG_ALIAS, TAG_CLUSTER, TAG_LOGIN_USER, TAG_NAME, TAG_ROLE } from '../../model/tags.js';
import type { LaunchSpec } from '../provider.js';
import { awsErrorCode, fromTags, isCode, tagSpec } from './errors.js';
import { NODE_USER_DATA } from './user-data.js';

/** Tag holding the aliases of one launch, in launch-index order (recovers an alias never tagged). */
export const TAG_LAUNCH_ALIASES = 'starcluster:launch-aliases';

/** At most this many aliases per RunInstances, so the alias list fits in one 256-character tag. */
export const MAX_ALIASES_PER_LAUNCH = 25;

/** RunInstances for these aliases of a launch: every tag at creation, spot market options for a bid. */
export function runInstancesInput(spec: LaunchSpec, aliases: string[], token: string, dryRun: boolean) {
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
          IamInstanceProfile: spec.iamProfile.startsWith('arn:') ? { Arn: spec.iamProfile } : { Name: spec.iamProfile },
        }
      : {}),
  };
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

/** What EC2 says of an instance that every listing of instances shows: type, image, zone, addresses, key. */
export function instanceFields(
  i: Instance,
): Pick<NodeRecord, 'id' | 'instanceType' | 'imageId' | 'zone' | 'privateIp' | 'publicIp' | 'keyName'> {
  return {
    id: i.InstanceId ?? '',
    instanceType: i.InstanceType ?? '',
    ...(i.ImageId ? { imageId: i.ImageId } : {}),
    ...(i.Placement?.AvailabilityZone ? { zone: i.Placement.AvailabilityZone } : {}),
    ...(i.PrivateIpAddress ? { privateIp: i.PrivateIpAddress } : {}),
    ...(i.PublicIpAddress ? { publicIp: i.PublicIpAddress } : {}),
    ...(i.KeyName ? { keyName: i.KeyName } : {}),
  };
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
    ...instanceFields(i),
    cluster: tags[TAG_CLUSTER] ?? '',
    alias,
    role,
    state: (i.State?.Name ?? 'pending') as NodeState,
    ...(i.LaunchTime ? { launchTime: new Date(i.LaunchTime) } : {}),
    ...(i.SpotInstanceRequestId ? { spotRequestId: i.SpotInstanceRequestId } : {}),
    ...(tags[TAG_LOGIN_USER] ? { loginUser: tags[TAG_LOGIN_USER] } : {}),
    tags,
  };
}
