import { describe, expect, it } from 'vitest';
import { resolveImagesWith, type CatalogImage, type ImageCatalog } from '../../../src/cloud/ec2/images.js';
import {
  architectureFromTypeName,
  loginUserFromImageName,
  parseImageRef,
  STOCK_IMAGES,
} from '../../../src/cloud/images.js';

/**
 * Image aliases and the architecture check, against a small fake of the three lookups EC2 + SSM
 * answer (the same ones LocalStack answers in test/integration/ec2/images.test.ts). The fake's
 * data is shaped as EC2 gives it: DescribeInstanceTypes' SupportedArchitectures, DescribeImages'
 * Name/Architecture/State, GetParameter's Value.
 */
function fakeCatalog(data: {
  types?: Record<string, string[]>;
  virtualization?: Record<string, string[]>;
  zones?: Record<string, string[]>;
  subnets?: Record<string, string>;
  images?: Record<string, CatalogImage>;
  parameters?: Record<string, string>;
}): ImageCatalog & { calls: string[] } {
  const calls: string[] = [];
  return {
    region: 'eu-west-1',
    calls,
    describeImage: async (id) => {
      calls.push(`DescribeImages ${id}`);
      return data.images?.[id];
    },
    describeInstanceType: async (type) => {
      calls.push(`DescribeInstanceTypes ${type}`);
      const architectures = data.types?.[type];
      return architectures
        ? { architectures, virtualizationTypes: data.virtualization?.[type] ?? ['hvm'], rootDeviceTypes: ['ebs'] }
        : undefined;
    },
    zonesOffering: async (type) => {
      calls.push(`DescribeInstanceTypeOfferings ${type}`);
      return data.zones?.[type];
    },
    subnetZone: async (subnet) => data.subnets?.[subnet],
    availabilityZones: async () => ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'],
    parameter: async (name) => {
      calls.push(`GetParameter ${name}`);
      return data.parameters?.[name];
    },
  };
}

const DEBIAN_AMD64 = '/aws/service/debian/release/12/latest/amd64';
const DEBIAN_ARM64 = '/aws/service/debian/release/12/latest/arm64';
const world = {
  types: { 't3.micro': ['x86_64'], 'm7g.large': ['arm64'], 't2.micro': ['i386', 'x86_64'], 'x9z.large': [] },
  images: {
    'ami-0aaa000000000000a': { name: 'debian-12-amd64-20250101-1', architecture: 'x86_64', state: 'available' },
    'ami-0bbb000000000000b': { name: 'debian-12-arm64-20250101-1', architecture: 'arm64', state: 'available' },
    'ami-0ccc000000000000c': {
      name: 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server',
      architecture: 'x86_64',
    },
    'ami-0ddd000000000000d': { name: 'my-golden-image', architecture: 'x86_64', state: 'available' },
    'ami-0eee000000000000e': { name: 'al2023-ami-2023.6-kernel-6.1-x86_64', architecture: 'x86_64', state: 'pending' },
  },
  parameters: {
    [DEBIAN_AMD64]: 'ami-0aaa000000000000a',
    [DEBIAN_ARM64]: 'ami-0bbb000000000000b',
    '/golden/current': 'ami-0ddd000000000000d',
    '/broken/param': 'not-an-ami',
  },
};

describe('image aliases', () => {
  it('reads an AMI id, an alias, resolve:ssm, and names the nearest alias for a typo', () => {
    expect(parseImageRef('ami-0123abcd')).toMatchObject({ kind: 'ami', id: 'ami-0123abcd' });
    expect(parseImageRef('Debian-12')).toMatchObject({ kind: 'alias', image: { alias: 'debian-12' } });
    expect(parseImageRef('resolve:ssm:/golden/current')).toMatchObject({ kind: 'ssm', parameter: '/golden/current' });
    const typo = parseImageRef('debain-12');
    expect(typo.kind).toBe('bad');
    expect(typo.kind === 'bad' && typo.message).toContain('(did you mean debian-12?)');
    expect(parseImageRef('ubuntu-24.4').kind === 'bad' && parseImageRef('ubuntu-24.4')).toMatchObject({
      message: expect.stringContaining('did you mean ubuntu-24.04'),
    });
  });

  it('has every alias the issue names, each with an SSM path per architecture under /aws/service/', () => {
    expect(STOCK_IMAGES.map((i) => i.alias)).toEqual(['debian-12', 'ubuntu-24.04', 'ubuntu-22.04', 'al2023']);
    for (const image of STOCK_IMAGES) {
      expect(image.parameters.x86_64).toMatch(/^\/aws\/service\//);
      expect(image.parameters.arm64).toMatch(/^\/aws\/service\//);
      expect(image.parameters.arm64).not.toBe(image.parameters.x86_64);
    }
  });

  it('knows the login user from an official AMI name, and Graviton types from their name', () => {
    expect(loginUserFromImageName('debian-12-amd64-20250101-1')).toBe('admin');
    expect(loginUserFromImageName('ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250101')).toBe('ubuntu');
    expect(loginUserFromImageName('al2023-ami-2023.6.20250101.0-kernel-6.1-x86_64')).toBe('ec2-user');
    expect(loginUserFromImageName('starcluster-fleet-host')).toBeUndefined();
    for (const arm of ['t4g.small', 'm7g.large', 'c7g.xlarge', 'c6gn.large', 'im4gn.large', 'a1.medium', 'x2gd.large'])
      expect(architectureFromTypeName(arm), arm).toBe('arm64');
    for (const x86 of ['t3.micro', 'm7i.large', 'c7a.large', 'g5.xlarge', 'm5.large'])
      expect(architectureFromTypeName(x86), x86).toBe('x86_64');
  });
});

describe('resolveImagesWith', () => {
  it('resolves an alias through the SSM parameter of the instance type architecture', async () => {
    const catalog = fakeCatalog(world);
    const { images, problems } = await resolveImagesWith(catalog, [
      { image: 'debian-12', instanceType: 't3.micro', setting: 'MASTER_IMAGE_ID' },
      { image: 'debian-12', instanceType: 'm7g.large', setting: 'NODE_IMAGE_ID' },
    ]);
    expect(problems).toEqual([]);
    expect(images).toEqual([
      expect.objectContaining({
        imageId: 'ami-0aaa000000000000a',
        parameter: DEBIAN_AMD64,
        architecture: 'x86_64',
        loginUser: 'admin',
        imageName: 'debian-12-amd64-20250101-1',
      }),
      expect.objectContaining({ imageId: 'ami-0bbb000000000000b', parameter: DEBIAN_ARM64, architecture: 'arm64' }),
    ]);
    expect(catalog.calls).toContain(`GetParameter ${DEBIAN_ARM64}`);
  });

  it('fails an x86 AMI on a Graviton type, naming both and the fix', async () => {
    const { images, problems } = await resolveImagesWith(fakeCatalog(world), [
      { image: 'ami-0aaa000000000000a', instanceType: 'm7g.large', setting: 'NODE_IMAGE_ID' },
    ]);
    expect(images).toEqual([]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ kind: 'config', code: 'ArchitectureMismatch' });
    const message = problems[0]?.message ?? '';
    for (const part of ['NODE_IMAGE_ID', 'ami-0aaa000000000000a', 'x86_64', 'm7g.large', 'arm64', 'debian-12'])
      expect(message).toContain(part);
    expect(message).toMatch(/image alias/);
  });

  it('accepts an AMI whose architecture is one of several the type runs (t2: i386/x86_64)', async () => {
    const { problems, images } = await resolveImagesWith(fakeCatalog(world), [
      { image: 'ami-0ddd000000000000d', instanceType: 't2.micro' },
    ]);
    expect(problems).toEqual([]);
    // A name no rule knows: no login user, so setup keeps root (or LOGIN_USER).
    expect(images[0]?.loginUser).toBeUndefined();
  });

  it('falls back to the type name when EC2 lists no architectures', async () => {
    const { problems } = await resolveImagesWith(fakeCatalog(world), [
      { image: 'ami-0aaa000000000000a', instanceType: 'x9z.large' },
    ]);
    expect(problems).toEqual([]);
  });

  it('reports every problem at once: unknown alias, unknown type, missing parameter, not an AMI, missing and pending AMIs', async () => {
    const { images, problems } = await resolveImagesWith(
      fakeCatalog({ ...world, parameters: { '/broken/param': 'nope' } }),
      [
        { image: 'debain-12', instanceType: 't3.micro', setting: '-n' },
        { image: 'debian-12', instanceType: 'z9.huge' },
        { image: 'ubuntu-24.04', instanceType: 'm7g.large' },
        { image: 'resolve:ssm:/broken/param', instanceType: 't3.micro' },
        { image: 'ami-0fff000000000000f', instanceType: 't3.micro' },
        { image: 'ami-0eee000000000000e', instanceType: 't3.micro' },
      ],
    );
    expect(images).toEqual([]);
    expect(problems.map((p) => [p.kind, p.code]).sort()).toEqual(
      [
        ['config', 'UnknownImage'],
        ['cloud', 'UnknownInstanceType'],
        ['cloud', 'ImageParameterNotFound'],
        ['cloud', 'ImageParameterNotAmi'],
        ['cloud', 'ImageNotFound'],
        ['cloud', 'ImageNotAvailable'],
      ].sort(),
    );
    const text = problems.map((p) => p.message).join('\n');
    expect(text).toContain('-n "debain-12" is neither an AMI id nor an image alias (did you mean debian-12?)');
    expect(text).toContain(
      'image alias ubuntu-24.04 (arm64, for m7g.large): SSM parameter /aws/service/canonical/ubuntu/server/24.04/stable/current/arm64/hvm/ebs-gp3/ami-id does not exist in eu-west-1',
    );
  });

  it('checks what EC2 refuses only at launch: a paravirtual or instance-store AMI on a type without it, a type not in the zone', async () => {
    const catalog = fakeCatalog({
      ...world,
      types: { ...world.types, 'm1.small': ['i386', 'x86_64'] },
      virtualization: { 'm1.small': ['hvm', 'paravirtual'] },
      zones: { 't3.micro': ['eu-west-1a', 'eu-west-1b'], 'm7g.large': ['eu-west-1a'] },
      subnets: { 'subnet-0b': 'eu-west-1b' },
      images: {
        ...world.images,
        'ami-899d49e0': {
          name: 'starcluster-base-ubuntu-11.10-x86_64',
          architecture: 'x86_64',
          virtualizationType: 'paravirtual',
        },
        'ami-0ab0000000000000a': { name: 'is-image', architecture: 'x86_64', rootDeviceType: 'instance-store' },
      },
    });
    const checked = await resolveImagesWith(catalog, [
      { image: 'ami-899d49e0', instanceType: 't3.micro', setting: 'NODE_IMAGE_ID' },
      { image: 'ami-899d49e0', instanceType: 'm1.small' },
      { image: 'ami-0ab0000000000000a', instanceType: 't3.micro' },
    ]);
    expect(checked.problems.map((p) => p.code)).toEqual(['RootDeviceMismatch', 'VirtualizationMismatch']);
    expect(checked.problems.map((p) => p.message).join('\n')).toContain(
      'NODE_IMAGE_ID AMI ami-899d49e0 (starcluster-base-ubuntu-11.10-x86_64) is a paravirtual image, but instance type t3.micro boots only hvm',
    );
    expect(checked.images.map((i) => i.request.instanceType)).toEqual(['m1.small']);

    const zoned = await resolveImagesWith(
      catalog,
      [
        { image: 'debian-12', instanceType: 't3.micro' },
        { image: 'debian-12', instanceType: 'm7g.large' },
      ],
      { subnetId: 'subnet-0b' },
    );
    expect(zoned.problems).toEqual([
      {
        kind: 'cloud',
        code: 'InstanceTypeNotInZone',
        message:
          'instance type m7g.large is not offered in eu-west-1b (the zone of SUBNET_ID subnet-0b); it is in eu-west-1a: choose one of those, or another type',
      },
    ]);
    expect(
      (await resolveImagesWith(catalog, [{ image: 'debian-12', instanceType: 'm7g.large' }], { zone: 'eu-west-1a' }))
        .problems,
    ).toEqual([]);
    // A zone the region does not have is validation's to report (UnknownZone), once.
    expect(
      (await resolveImagesWith(catalog, [{ image: 'debian-12', instanceType: 'm7g.large' }], { zone: 'eu-west-1z' }))
        .problems,
    ).toEqual([]);
  });

  it('resolves resolve:ssm:NAME without guessing a login user, and asks each parameter and AMI once', async () => {
    const catalog = fakeCatalog(world);
    const { images, problems } = await resolveImagesWith(catalog, [
      { image: 'resolve:ssm:/golden/current', instanceType: 't3.micro', setting: 'MASTER_IMAGE_ID' },
      { image: 'resolve:ssm:/golden/current', instanceType: 't3.micro', setting: 'NODE_IMAGE_ID' },
      { image: 'ami-0ddd000000000000d', instanceType: 't2.micro' },
    ]);
    expect(problems).toEqual([]);
    expect(images.map((i) => i.imageId)).toEqual(['ami-0ddd000000000000d', 'ami-0ddd000000000000d']);
    expect(images[0]?.request.setting).toBe('MASTER_IMAGE_ID/NODE_IMAGE_ID');
    expect(catalog.calls.filter((c) => c === 'GetParameter /golden/current')).toHaveLength(1);
    expect(catalog.calls.filter((c) => c === 'DescribeImages ami-0ddd000000000000d')).toHaveLength(1);
  });
});
