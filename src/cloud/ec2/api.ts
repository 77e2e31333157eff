import {
  AuthorizeSecurityGroupIngressCommand,
  CancelSpotInstanceRequestsCommand,
  CreateKeyPairCommand,
  CreatePlacementGroupCommand,
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  DeleteKeyPairCommand,
  DeletePlacementGroupCommand,
  DeleteSecurityGroupCommand,
  DescribeAvailabilityZonesCommand,
  DescribeKeyPairsCommand,
  DescribePlacementGroupsCommand,
  DescribeRegionsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  GetConsoleOutputCommand,
  ImportKeyPairCommand,
  ModifyInstanceAttributeCommand,
  RebootInstancesCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  paginateDescribeImages,
  paginateDescribeInstanceTypeOfferings,
  paginateDescribeInstanceTypes,
  paginateDescribeInstances,
  paginateDescribeSecurityGroups,
  paginateDescribeSpotInstanceRequests,
  paginateDescribeSpotPriceHistory,
  waitUntilInstanceRunning,
  waitUntilInstanceStopped,
  waitUntilInstanceTerminated,
  type AvailabilityZone,
  type Filter,
  type Image,
  type Instance,
  type InstanceTypeInfo,
  type IpPermission,
  type KeyPairInfo,
  type PlacementGroup,
  type Region,
  type RunInstancesCommandInput,
  type SecurityGroup,
  type SpotInstanceRequest,
  type SpotPrice,
  type Subnet,
  type Vpc,
  type _InstanceType,
} from '@aws-sdk/client-ec2';
import { registerSecret } from '../../secrets.js';
import { instanceWaitDelays } from './calls.js';
import { CloudError } from '../../errors.js';
import { isCode, tagSpec, toTags } from './errors.js';
import { Ec2StorageApi } from './storage-api.js';

/**
 * The narrow slice of the EC2 API that starcluster uses, over @aws-sdk/client-ec2 with adaptive
 * retries, paginators and the SDK's waiters. Every AWS failure leaves here as a CloudError whose
 * code is `Ec2` + the AWS error code (e.g. `Ec2InvalidAMIIDNotFound`), with the AWS code and
 * message in the text; DryRun answers come back as `true`.
 */
export class Ec2Api extends Ec2StorageApi {
  // --- key pairs ---------------------------------------------------------------------------

  async describeKeyPairs(names?: string[]): Promise<KeyPairInfo[]> {
    const out = await this.call('DescribeKeyPairs', () =>
      this.client.send(new DescribeKeyPairsCommand(names ? { KeyNames: names } : {})),
    );
    return out.KeyPairs ?? [];
  }

  /** The pair, or undefined when EC2 has none by that name. */
  async findKeyPair(name: string): Promise<KeyPairInfo | undefined> {
    try {
      return (await this.describeKeyPairs([name]))[0];
    } catch (error) {
      if (isCode(error, 'InvalidKeyPair.NotFound')) return undefined;
      throw error;
    }
  }

  async createKeyPair(
    name: string,
    tags: Record<string, string> = {},
  ): Promise<{ name: string; fingerprint: string; material: string; id?: string }> {
    const out = await this.call('CreateKeyPair', () =>
      this.client.send(new CreateKeyPairCommand({ KeyName: name, TagSpecifications: tagSpec('key-pair', tags) })),
    );
    const material = out.KeyMaterial ?? '';
    registerSecret(material);
    return {
      name: out.KeyName ?? name,
      fingerprint: out.KeyFingerprint ?? '',
      material,
      ...(out.KeyPairId ? { id: out.KeyPairId } : {}),
    };
  }

  async importKeyPair(name: string, publicKey: string, tags: Record<string, string> = {}): Promise<string> {
    const out = await this.call('ImportKeyPair', () =>
      this.client.send(
        new ImportKeyPairCommand({
          KeyName: name,
          PublicKeyMaterial: new TextEncoder().encode(publicKey),
          TagSpecifications: tagSpec('key-pair', tags),
        }),
      ),
    );
    return out.KeyFingerprint ?? '';
  }

  async deleteKeyPair(name: string): Promise<void> {
    await this.call('DeleteKeyPair', () => this.client.send(new DeleteKeyPairCommand({ KeyName: name })));
  }

  // --- security groups ---------------------------------------------------------------------

  async describeSecurityGroups(filters: Filter[]): Promise<SecurityGroup[]> {
    return this.collect('DescribeSecurityGroups', async () => {
      const out: SecurityGroup[] = [];
      for await (const page of paginateDescribeSecurityGroups({ client: this.client }, { Filters: filters }))
        out.push(...(page.SecurityGroups ?? []));
      return out;
    });
  }

  async createSecurityGroup(
    name: string,
    description: string,
    tags: Record<string, string>,
    vpcId?: string,
    dryRun = false,
  ): Promise<string> {
    const out = await this.call('CreateSecurityGroup', () =>
      this.client.send(
        new CreateSecurityGroupCommand({
          GroupName: name,
          Description: description,
          ...(vpcId ? { VpcId: vpcId } : {}),
          TagSpecifications: tagSpec('security-group', tags),
          DryRun: dryRun,
        }),
      ),
    );
    return out.GroupId ?? '';
  }

  async authorizeIngress(groupId: string, permissions: IpPermission[]): Promise<void> {
    if (permissions.length === 0) return;
    await this.call('AuthorizeSecurityGroupIngress', () =>
      this.client.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: permissions })),
    );
  }

  async deleteSecurityGroup(groupId: string): Promise<void> {
    await this.call('DeleteSecurityGroup', () =>
      this.client.send(new DeleteSecurityGroupCommand({ GroupId: groupId })),
    );
  }

  // --- placement groups --------------------------------------------------------------------

  async describePlacementGroups(filters: Filter[]): Promise<PlacementGroup[]> {
    const out = await this.call('DescribePlacementGroups', () =>
      this.client.send(new DescribePlacementGroupsCommand({ Filters: filters })),
    );
    return out.PlacementGroups ?? [];
  }

  async createPlacementGroup(name: string, tags: Record<string, string>, dryRun = false): Promise<void> {
    await this.call('CreatePlacementGroup', () =>
      this.client.send(
        new CreatePlacementGroupCommand({
          GroupName: name,
          Strategy: 'cluster',
          TagSpecifications: tagSpec('placement-group', tags),
          DryRun: dryRun,
        }),
      ),
    );
  }

  async deletePlacementGroup(name: string): Promise<void> {
    await this.call('DeletePlacementGroup', () =>
      this.client.send(new DeletePlacementGroupCommand({ GroupName: name })),
    );
  }

  // --- instances ---------------------------------------------------------------------------

  async runInstances(input: RunInstancesCommandInput, signal?: AbortSignal): Promise<Instance[]> {
    const out = await this.call('RunInstances', () =>
      this.client.send(new RunInstancesCommand(input), signal ? { abortSignal: signal } : {}),
    );
    return out.Instances ?? [];
  }

  async describeInstances(filters: Filter[], instanceIds?: string[]): Promise<Instance[]> {
    return this.collect('DescribeInstances', async () => {
      const out: Instance[] = [];
      const input = { Filters: filters, ...(instanceIds ? { InstanceIds: instanceIds } : {}) };
      for await (const page of paginateDescribeInstances({ client: this.client }, input))
        for (const r of page.Reservations ?? []) out.push(...(r.Instances ?? []));
      return out;
    });
  }

  async terminateInstances(ids: string[]): Promise<void> {
    for (const chunk of chunks(ids, 1000)) {
      try {
        await this.call('TerminateInstances', () =>
          this.client.send(new TerminateInstancesCommand({ InstanceIds: chunk })),
        );
      } catch (error) {
        // Already gone is done; anything else is a real failure.
        if (!isCode(error, 'InvalidInstanceID.NotFound')) throw error;
        for (const id of chunk) {
          await this.call('TerminateInstances', () =>
            this.client.send(new TerminateInstancesCommand({ InstanceIds: [id] })),
          ).catch((e: unknown) => {
            if (!isCode(e, 'InvalidInstanceID.NotFound')) throw e;
          });
        }
      }
    }
  }

  async stopInstances(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.call('StopInstances', () => this.client.send(new StopInstancesCommand({ InstanceIds: ids })));
  }

  async startInstances(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.call('StartInstances', () => this.client.send(new StartInstancesCommand({ InstanceIds: ids })));
  }

  async rebootInstances(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.call('RebootInstances', () => this.client.send(new RebootInstancesCommand({ InstanceIds: ids })));
  }

  async waitInstances(
    state: 'running' | 'terminated' | 'stopped',
    ids: string[],
    maxWaitSeconds: number,
    signal?: AbortSignal,
  ): Promise<void> {
    if (ids.length === 0) return;
    const waiter =
      state === 'running'
        ? waitUntilInstanceRunning
        : state === 'stopped'
          ? waitUntilInstanceStopped
          : waitUntilInstanceTerminated;
    const config = {
      client: this.client,
      maxWaitTime: maxWaitSeconds,
      ...instanceWaitDelays(this.settings),
      ...(signal ? { abortSignal: signal } : {}),
    };
    await this.call(`wait for instances ${state}`, () => waiter(config, { InstanceIds: ids }));
  }

  /** Replaces an instance's security groups (its one network interface's), e.g. to leave the cluster's. */
  async setInstanceGroups(instanceId: string, groupIds: string[]): Promise<void> {
    await this.call('ModifyInstanceAttribute', () =>
      this.client.send(new ModifyInstanceAttributeCommand({ InstanceId: instanceId, Groups: groupIds })),
    );
  }

  async createTags(resourceIds: string[], tags: Record<string, string>): Promise<void> {
    if (resourceIds.length === 0) return;
    await this.call('CreateTags', () =>
      this.client.send(new CreateTagsCommand({ Resources: resourceIds, Tags: toTags(tags) })),
    );
  }

  async getConsoleOutput(instanceId: string): Promise<string> {
    const out = await this.call('GetConsoleOutput', () =>
      this.client.send(new GetConsoleOutputCommand({ InstanceId: instanceId, Latest: true })),
    );
    return out.Output ? Buffer.from(out.Output, 'base64').toString('utf8') : '';
  }

  // --- spot --------------------------------------------------------------------------------

  async describeSpotRequests(filters: Filter[]): Promise<SpotInstanceRequest[]> {
    return this.collect('DescribeSpotInstanceRequests', async () => {
      const out: SpotInstanceRequest[] = [];
      for await (const page of paginateDescribeSpotInstanceRequests({ client: this.client }, { Filters: filters }))
        out.push(...(page.SpotInstanceRequests ?? []));
      return out;
    });
  }

  async cancelSpotRequests(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.call('CancelSpotInstanceRequests', () =>
      this.client.send(new CancelSpotInstanceRequestsCommand({ SpotInstanceRequestIds: ids })),
    );
  }

  async describeSpotPriceHistory(input: {
    instanceTypes: string[];
    zone?: string;
    start?: Date;
    end?: Date;
    productDescriptions?: string[];
    maxResults?: number;
  }): Promise<SpotPrice[]> {
    return this.collect('DescribeSpotPriceHistory', async () => {
      const out: SpotPrice[] = [];
      const pages = paginateDescribeSpotPriceHistory(
        { client: this.client },
        {
          InstanceTypes: input.instanceTypes as _InstanceType[],
          ...(input.zone ? { AvailabilityZone: input.zone } : {}),
          ...(input.start ? { StartTime: input.start } : {}),
          ...(input.end ? { EndTime: input.end } : {}),
          ...(input.productDescriptions ? { ProductDescriptions: input.productDescriptions } : {}),
        },
      );
      for await (const page of pages) {
        out.push(...(page.SpotPriceHistory ?? []));
        if (input.maxResults && out.length >= input.maxResults) break;
      }
      return out;
    });
  }

  // --- images, types, places ---------------------------------------------------------------

  async describeImages(input: { imageIds?: string[]; owners?: string[]; filters?: Filter[] }): Promise<Image[]> {
    return this.collect('DescribeImages', async () => {
      const out: Image[] = [];
      const pages = paginateDescribeImages(
        { client: this.client },
        {
          ...(input.imageIds ? { ImageIds: input.imageIds } : {}),
          ...(input.owners ? { Owners: input.owners } : {}),
          ...(input.filters ? { Filters: input.filters } : {}),
        },
      );
      for await (const page of pages) out.push(...(page.Images ?? []));
      return out;
    });
  }

  async describeInstanceTypes(types: string[]): Promise<InstanceTypeInfo[]> {
    return this.collect('DescribeInstanceTypes', async () => {
      const out: InstanceTypeInfo[] = [];
      for await (const page of paginateDescribeInstanceTypes(
        { client: this.client },
        { InstanceTypes: types as _InstanceType[] },
      ))
        out.push(...(page.InstanceTypes ?? []));
      return out;
    });
  }

  /** The zones of the region that offer the type. */
  async instanceTypeZones(type: string): Promise<string[]> {
    return this.collect('DescribeInstanceTypeOfferings', async () => {
      const out: string[] = [];
      const pages = paginateDescribeInstanceTypeOfferings(
        { client: this.client },
        { LocationType: 'availability-zone', Filters: [{ Name: 'instance-type', Values: [type] }] },
      );
      for await (const page of pages)
        for (const o of page.InstanceTypeOfferings ?? []) if (o.Location) out.push(o.Location);
      return out;
    });
  }

  async describeAvailabilityZones(names?: string[]): Promise<AvailabilityZone[]> {
    const out = await this.call('DescribeAvailabilityZones', () =>
      this.client.send(new DescribeAvailabilityZonesCommand(names ? { ZoneNames: names } : {})),
    );
    return out.AvailabilityZones ?? [];
  }

  async describeRegions(): Promise<Region[]> {
    const out = await this.call('DescribeRegions', () => this.client.send(new DescribeRegionsCommand({})));
    return out.Regions ?? [];
  }

  /** VPCs matching the filters (the default VPC: `is-default = true`). */
  async describeVpcs(filters: Filter[]): Promise<Vpc[]> {
    const out = await this.call('DescribeVpcs', () => this.client.send(new DescribeVpcsCommand({ Filters: filters })));
    return out.Vpcs ?? [];
  }

  /** Subnets by id; no ids: every subnet of the region (filters narrow it). */
  async describeSubnets(ids: string[], filters?: Filter[]): Promise<Subnet[]> {
    const out = await this.call('DescribeSubnets', () =>
      this.client.send(
        new DescribeSubnetsCommand({
          ...(ids.length ? { SubnetIds: ids } : {}),
          ...(filters ? { Filters: filters } : {}),
        }),
      ),
    );
    return out.Subnets ?? [];
  }

  /** Runs a DryRun request: true when EC2 says it would have succeeded. */
  async dryRun(action: string, request: () => Promise<unknown>): Promise<true> {
    try {
      await request();
    } catch (error) {
      if (isCode(error, 'DryRunOperation')) return true;
      throw error;
    }
    // A server that ignores DryRun made something: say so rather than pretend.
    throw new CloudError('Ec2DryRunIgnored', `ec2 ${action} with DryRun=true was carried out instead of checked`);
  }
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
