import type { LaunchProblem } from '../provider.js';
import type { Ec2Api } from './api.js';

/**
 * Where a cluster's nodes and security group live: SUBNET_ID's VPC, else the region's default VPC.
 * An account can have no default VPC (deleted, or an account made before 2013-12): EC2 then
 * refuses a launch without a subnet, so start says so before anything is made.
 */
export async function clusterVpcId(api: Ec2Api, subnetId: string | undefined): Promise<string | undefined> {
  if (subnetId) return (await api.describeSubnets([subnetId]))[0]?.VpcId;
  return (await api.describeVpcs([{ Name: 'is-default', Values: ['true'] }]))[0]?.VpcId;
}

/** The problem of a template with no SUBNET_ID in a region without a default VPC, naming subnets to use. */
export async function noDefaultVpcProblem(api: Ec2Api): Promise<LaunchProblem | undefined> {
  if ((await api.describeVpcs([{ Name: 'is-default', Values: ['true'] }])).length > 0) return undefined;
  const subnets = (await api.describeSubnets([])).slice(0, 5);
  const choices = subnets.length
    ? ` Subnets in ${api.region}: ${subnets.map((s) => `${s.SubnetId} (${s.VpcId}, ${s.AvailabilityZone}${s.MapPublicIpOnLaunch ? ', public IPs' : ''})`).join(', ')}.`
    : ` ${api.region} has no subnets either.`;
  return {
    kind: 'config',
    code: 'NoDefaultVpc',
    message:
      `the account has no default VPC in ${api.region} and SUBNET_ID is not set, so EC2 has nowhere to launch the nodes.${choices} ` +
      'Set SUBNET_ID = subnet-… in the [cluster] section (with PUBLIC_IPS = True unless this machine reaches the VPC ' +
      'privately), or create a default VPC: `aws ec2 create-default-vpc`',
  };
}
