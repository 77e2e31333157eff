import type {
  CancelSpotInstanceRequestsCommandInput,
  DescribeAvailabilityZonesCommandInput,
  DescribeInstanceTypeOfferingsCommandInput,
  DescribeInstanceTypesCommandInput,
  DescribeRegionsCommandInput,
  DescribeSpotInstanceRequestsCommandInput,
  DescribeSpotPriceHistoryCommandInput,
  DescribeSubnetsCommandInput,
  DescribeVpcsCommandInput,
} from '@aws-sdk/client-ec2';
import { DEFAULT_VPC, fakeSpotPrice } from './catalog.js';
import { ec2Error } from './errors.js';
import { matches, page, tagList } from './filters.js';
import { route, type Routes } from './routes.js';
import type { SpotRec, Store } from './store.js';

function zoneRoutes(store: Store): Routes {
  const c = store.catalog;
  return {
    DescribeAvailabilityZones: route<DescribeAvailabilityZonesCommandInput>((input) => {
      const unknown = input.ZoneNames?.find((z) => !c.zones.includes(z));
      if (unknown) throw ec2Error('InvalidParameterValue', `Invalid availability zone: [${unknown}]`);
      return {
        AvailabilityZones: c.zones
          .filter((z) => !input.ZoneNames?.length || input.ZoneNames.includes(z))
          .map((z) => ({
            ZoneName: z,
            State: 'available' as const,
            RegionName: c.region,
            ZoneType: 'availability-zone',
          })),
      };
    }),
    DescribeRegions: route<DescribeRegionsCommandInput>(() => ({
      Regions: c.regions.map((r) => ({ RegionName: r, Endpoint: `ec2.${r}.amazonaws.com` })),
    })),
    // The default VPC and the VPCs of the catalog's subnets.
    DescribeVpcs: route<DescribeVpcsCommandInput>((input) => ({
      Vpcs: [...new Set([DEFAULT_VPC, ...c.subnets.map((s) => s.vpcId)])]
        .filter((id) => !input.VpcIds?.length || input.VpcIds.includes(id))
        .filter((id) => matches(input.Filters, { 'vpc-id': [id], 'is-default': [String(id === DEFAULT_VPC)] }, {}))
        .map((id) => ({
          VpcId: id,
          IsDefault: id === DEFAULT_VPC,
          State: 'available' as const,
          CidrBlock: '10.0.0.0/16',
        })),
    })),
    DescribeSubnets: route<DescribeSubnetsCommandInput>((input) => {
      const unknown = input.SubnetIds?.find((id) => !c.subnets.some((s) => s.id === id));
      if (unknown) throw ec2Error('InvalidSubnetID.NotFound', `The subnet ID '${unknown}' does not exist`);
      return {
        Subnets: c.subnets
          .filter((s) => !input.SubnetIds?.length || input.SubnetIds.includes(s.id))
          .filter((s) =>
            matches(
              input.Filters,
              { 'subnet-id': [s.id], 'vpc-id': [s.vpcId], 'availability-zone': [s.zone], 'default-for-az': ['true'] },
              {},
            ),
          )
          .map((s) => ({
            SubnetId: s.id,
            AvailabilityZone: s.zone,
            VpcId: s.vpcId,
            CidrBlock: s.cidr,
            State: 'available' as const,
          })),
      };
    }),
  };
}

function typeRoutes(store: Store): Routes {
  const c = store.catalog;
  return {
    DescribeInstanceTypes: route<DescribeInstanceTypesCommandInput>((input) => {
      const unknown = input.InstanceTypes?.find((t) => !store.typeInfo(t));
      if (unknown)
        throw ec2Error('InvalidInstanceType', `The following supplied instance types do not exist: [${unknown}]`);
      const types = c.types.filter(
        (t) => !input.InstanceTypes?.length || input.InstanceTypes.includes(t.type as never),
      );
      const { items, next } = page(types, input.NextToken, store.opts.pageSize);
      return {
        InstanceTypes: items.map((t) => ({
          InstanceType: t.type as 't3.micro',
          VCpuInfo: { DefaultVCpus: t.vcpus },
          MemoryInfo: { SizeInMiB: t.memoryMiB },
          ProcessorInfo: { SupportedArchitectures: [t.architecture] },
          SupportedVirtualizationTypes: ['hvm' as const],
          SupportedRootDeviceTypes: ['ebs' as const],
        })),
        ...(next ? { NextToken: next } : {}),
      };
    }),
    DescribeInstanceTypeOfferings: route<DescribeInstanceTypeOfferingsCommandInput>((input) => {
      if (input.LocationType && input.LocationType !== 'availability-zone')
        throw ec2Error('InvalidParameterValue', `the fake offers only LocationType availability-zone`);
      const offers = c.types.flatMap((t) => t.zones.map((z) => ({ type: t.type, zone: z })));
      const found = offers.filter((o) => matches(input.Filters, { 'instance-type': [o.type], location: [o.zone] }, {}));
      const { items, next } = page(found, input.NextToken, store.opts.pageSize);
      return {
        InstanceTypeOfferings: items.map((o) => ({
          InstanceType: o.type as 't3.micro',
          LocationType: 'availability-zone' as const,
          Location: o.zone,
        })),
        ...(next ? { NextToken: next } : {}),
      };
    }),
    // Three points per type and zone, an hour apart, ending at EndTime (default now): the type's
    // spot price × 1.2, × 1.1, × 1, times 1 + 5% per zone after the first (us-east-1b costs more
    // than 1a). Like EC2, only points from StartTime on, plus the one in effect at StartTime.
    DescribeSpotPriceHistory: route<DescribeSpotPriceHistoryCommandInput>((input) => {
      const end = input.EndTime ?? new Date();
      const start = input.StartTime;
      const points = c.types
        .filter((t) => !input.InstanceTypes?.length || input.InstanceTypes.includes(t.type as never))
        .flatMap((t) =>
          t.zones
            .filter((z) => !input.AvailabilityZone || z === input.AvailabilityZone)
            .flatMap((z) => {
              const all = [2, 1, 0].map((hoursAgo) => ({
                InstanceType: t.type as 't3.micro',
                AvailabilityZone: z,
                ProductDescription: 'Linux/UNIX' as const,
                SpotPrice: (fakeSpotPrice(t.spotPrice, c.zones.indexOf(z)) * (1 + hoursAgo / 10)).toFixed(6),
                Timestamp: new Date(end.getTime() - hoursAgo * 3600_000),
              }));
              if (!start) return all;
              const before = all.filter((p) => p.Timestamp <= start).pop();
              return [...(before ? [before] : []), ...all.filter((p) => p.Timestamp > start)];
            }),
        );
      const { items, next } = page(points, input.NextToken, store.opts.pageSize);
      return { SpotPriceHistory: items, ...(next ? { NextToken: next } : {}) };
    }),
  };
}

function toSpotRequest(r: SpotRec) {
  return {
    SpotInstanceRequestId: r.id,
    State: r.state as 'active',
    Status: { Code: r.status },
    Type: 'one-time' as const,
    SpotPrice: r.price,
    ...(r.instanceId ? { InstanceId: r.instanceId } : {}),
    LaunchSpecification: { InstanceType: r.type as 't3.micro' },
    LaunchedAvailabilityZone: r.zone,
    CreateTime: new Date(0),
    Tags: tagList(r.tags),
  };
}

function spotRoutes(store: Store): Routes {
  return {
    DescribeSpotInstanceRequests: route<DescribeSpotInstanceRequestsCommandInput>((input) => {
      const found = [...store.spot.values()].filter((r) =>
        matches(
          input.Filters,
          { state: [r.state], 'instance-id': [r.instanceId], 'spot-instance-request-id': [r.id] },
          r.tags,
        ),
      );
      const { items, next } = page(found, input.NextToken, store.opts.pageSize);
      return { SpotInstanceRequests: items.map(toSpotRequest), ...(next ? { NextToken: next } : {}) };
    }),
    CancelSpotInstanceRequests: route<CancelSpotInstanceRequestsCommandInput>((input) => {
      const ids = input.SpotInstanceRequestIds ?? [];
      const unknown = ids.find((id) => !store.spot.has(id));
      if (unknown)
        throw ec2Error(
          'InvalidSpotInstanceRequestID.NotFound',
          `The spot instance request ID '${unknown}' does not exist`,
        );
      return {
        CancelledSpotInstanceRequests: ids.map((id) => {
          const r = store.spot.get(id);
          // A cancelled request whose instance still runs stays cancelled; the instance is not touched (as on EC2).
          if (r && (r.state === 'open' || r.state === 'active')) r.state = 'cancelled';
          return { SpotInstanceRequestId: id, State: 'cancelled' as const };
        }),
      };
    }),
  };
}

export function placeRoutes(store: Store): Routes {
  return { ...zoneRoutes(store), ...typeRoutes(store), ...spotRoutes(store) };
}
