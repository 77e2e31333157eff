/**
 * The fixed world the fake EC2 starts with: one region's zones, a few instance types (with their
 * vCPUs, architecture and the zones that offer them), subnets of the default VPC, public images,
 * and AWS's public SSM parameters for the image aliases. Small on purpose: tests name what they use.
 */
export interface TypeInfo {
  type: string;
  vcpus: number;
  memoryMiB: number;
  architecture: 'x86_64' | 'arm64';
  /** Zones of the region that offer it. */
  zones: string[];
  spotPrice: number;
}

export interface ImageSeed {
  id: string;
  name: string;
  architecture: 'x86_64' | 'arm64';
  owner: string;
}

export const DEFAULT_VPC = 'vpc-0fa4e000000000001';
export const ACCOUNT = '123456789012';

export interface Catalog {
  region: string;
  zones: string[];
  regions: string[];
  types: TypeInfo[];
  subnets: { id: string; zone: string; vpcId: string; cidr: string }[];
  images: ImageSeed[];
  /** SSM parameters (name → value), as AWS publishes them for image aliases. */
  parameters: Record<string, string>;
}

export function defaultCatalog(region = 'us-east-1'): Catalog {
  const zones = ['a', 'b', 'c', 'd'].map((z) => `${region}${z}`);
  const abc = zones.slice(0, 3);
  return {
    region,
    zones,
    regions: ['us-east-1', 'us-west-2', 'eu-west-1'],
    types: [
      { type: 't3.micro', vcpus: 2, memoryMiB: 1024, architecture: 'x86_64', zones: abc, spotPrice: 0.0031 },
      { type: 't3.small', vcpus: 2, memoryMiB: 2048, architecture: 'x86_64', zones: abc, spotPrice: 0.0062 },
      { type: 'c5.large', vcpus: 2, memoryMiB: 4096, architecture: 'x86_64', zones, spotPrice: 0.034 },
      { type: 'c5.xlarge', vcpus: 4, memoryMiB: 8192, architecture: 'x86_64', zones, spotPrice: 0.068 },
      { type: 'm5.2xlarge', vcpus: 8, memoryMiB: 32768, architecture: 'x86_64', zones, spotPrice: 0.15 },
      { type: 't4g.micro', vcpus: 2, memoryMiB: 1024, architecture: 'arm64', zones: abc, spotPrice: 0.0025 },
      { type: 'c6g.large', vcpus: 2, memoryMiB: 4096, architecture: 'arm64', zones, spotPrice: 0.029 },
    ],
    subnets: [
      { id: 'subnet-0fa4e000000000001', zone: zones[0] ?? '', vpcId: DEFAULT_VPC, cidr: '10.0.0.0/20' },
      { id: 'subnet-0fa4e000000000002', zone: zones[1] ?? '', vpcId: DEFAULT_VPC, cidr: '10.0.16.0/20' },
    ],
    images: [
      {
        id: 'ami-0d0000000000000a1',
        name: 'debian-12-amd64-20261101-1',
        architecture: 'x86_64',
        owner: '136693071363',
      },
      { id: 'ami-0d0000000000000b1', name: 'debian-12-arm64-20261101-1', architecture: 'arm64', owner: '136693071363' },
      { id: 'ami-0a0000000000000a1', name: 'al2023-ami-2023.6-x86_64', architecture: 'x86_64', owner: '137112412989' },
      { id: 'ami-0a0000000000000b1', name: 'al2023-ami-2023.6-arm64', architecture: 'arm64', owner: '137112412989' },
    ],
    parameters: {
      '/aws/service/debian/release/12/latest/amd64': 'ami-0d0000000000000a1',
      '/aws/service/debian/release/12/latest/arm64': 'ami-0d0000000000000b1',
      '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64': 'ami-0a0000000000000a1',
      '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64': 'ami-0a0000000000000b1',
    },
  };
}

/** The fake's spot price of a type in a zone now: its catalog price, 5% more per zone after the first. */
export function fakeSpotPrice(typePrice: number, zoneIndex: number): number {
  return typePrice * (1 + Math.max(0, zoneIndex) / 20);
}
