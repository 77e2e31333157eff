import { describe, expect, it } from 'vitest';
import { Ec2Api } from '../../../src/cloud/ec2/api.js';
import { fingerprintMatches, fingerprintsOfPrivateKey } from '../../../src/cloud/ec2/fingerprint.js';
import { API_CALLS } from '../../../src/cloud/ec2/iam-policy.js';
import { FakeEc2 } from '../../_helpers/fake-ec2/index.js';
import { failure } from '../../_helpers/failure.js';

/** Tests of the fake itself: that it answers as its README says EC2 does. */
const IMAGE = 'ami-0d0000000000000a1';

function api(fake: FakeEc2): Ec2Api {
  return new Ec2Api({ region: fake.region }, fake.client());
}

const codeOf = async (p: Promise<unknown>): Promise<string> => (await failure(p)).code;

function run(a: Ec2Api, over: Record<string, unknown> = {}) {
  return a.runInstances({ ImageId: IMAGE, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, ...over });
}

describe('fake EC2: coverage', () => {
  it('answers every EC2 action of the IAM call table (what our code calls)', () => {
    const fake = new FakeEc2();
    const called = API_CALLS.filter((c) => c.action.startsWith('ec2:') && !c.implicit).map((c) => c.action.slice(4));
    const missing = called.filter((a) => !fake.actions().includes(a));
    console.log(
      `fake EC2 answers ${fake.actions().length} actions; the code calls ${called.length}; missing ${missing.length}`,
    );
    expect(missing).toEqual([]);
  });

  it('refuses an action it does not model, naming it', async () => {
    await expect(new FakeEc2().send('AllocateAddress', {})).rejects.toThrow(/does not model AllocateAddress/);
  });
});

describe('fake EC2: instances', () => {
  it('launches pending, runs on the next read, terminates with its root volume', async () => {
    const fake = new FakeEc2();
    const a = api(fake);
    const [made] = await run(a, {
      TagSpecifications: [
        { ResourceType: 'instance', Tags: [{ Key: 'starcluster:cluster', Value: 'c1' }] },
        { ResourceType: 'volume', Tags: [{ Key: 'starcluster:cluster', Value: 'c1' }] },
      ],
    });
    expect(made?.State?.Name).toBe('pending');
    const id = made?.InstanceId ?? '';
    expect((await a.describeInstances([], [id]))[0]?.State?.Name).toBe('running');
    expect(fake.leftovers('c1')).toHaveLength(2);
    await a.terminateInstances([id]);
    expect(fake.store.instances.get(id)?.state).toBe('shutting-down');
    await a.waitInstances('terminated', [id], 5);
    // Terminated instances stay visible (as on EC2) but own nothing: the root volume went with them.
    expect((await a.describeInstances([{ Name: 'instance-id', Values: [id] }]))[0]?.State?.Name).toBe('terminated');
    expect(fake.leftovers('c1')).toEqual([]);
  });

  it('keeps a passing state for settleReads reads', async () => {
    const fake = new FakeEc2({ settleReads: 2 });
    const a = api(fake);
    const id = (await run(a))[0]?.InstanceId ?? '';
    const states = [];
    for (let n = 0; n < 4; n++) states.push((await a.describeInstances([], [id]))[0]?.State?.Name);
    expect(states).toEqual(['pending', 'pending', 'running', 'running']);
  });

  it('answers NotFound for unknown ids, and for new ones while eventually consistent', async () => {
    const fake = new FakeEc2({ invisibleCalls: 2 });
    const a = api(fake);
    expect(await codeOf(a.describeInstances([], ['i-00000000000000bad']))).toBe('Ec2InvalidInstanceIDNotFound');
    const id = (await run(a))[0]?.InstanceId ?? '';
    expect(await codeOf(a.createTags([id], { Name: 'x' }))).toBe('Ec2InvalidInstanceIDNotFound');
    expect(await a.describeInstances([])).toEqual([]);
    await a.createTags([id], { Name: 'x' });
    expect((await a.describeInstances([{ Name: 'tag:Name', Values: ['x'] }]))[0]?.InstanceId).toBe(id);
  });

  it('is idempotent by ClientToken', async () => {
    const fake = new FakeEc2();
    const a = api(fake);
    const first = await run(a, { ClientToken: 'tok', MinCount: 2, MaxCount: 2 });
    const again = await run(a, { ClientToken: 'tok', MinCount: 2, MaxCount: 2 });
    expect(again.map((i) => i.InstanceId)).toEqual(first.map((i) => i.InstanceId));
    expect(fake.store.instances.size).toBe(2);
  });

  it('checks what EC2 checks at launch: image, type, zone, capacity, quota, spot price, tags', async () => {
    const fake = new FakeEc2({ noCapacity: ['us-east-1a'], vcpuLimit: 4 });
    const a = api(fake);
    expect(await codeOf(run(a, { ImageId: 'ami-000000000000000ff' }))).toBe('Ec2InvalidAMIIDNotFound');
    expect(await codeOf(run(a, { InstanceType: 'c6g.large' }))).toBe('Ec2InvalidParameterValue');
    expect(await codeOf(run(a, { Placement: { AvailabilityZone: 'us-east-1d' } }))).toBe('Ec2Unsupported');
    expect(await codeOf(run(a))).toBe('Ec2InsufficientInstanceCapacity');
    const b = { Placement: { AvailabilityZone: 'us-east-1b' } };
    expect(await codeOf(run(a, { ...b, MinCount: 3, MaxCount: 3 }))).toBe('Ec2VcpuLimitExceeded');
    const spot = { InstanceMarketOptions: { MarketType: 'spot', SpotOptions: { MaxPrice: '0.001' } } };
    expect(await codeOf(run(a, { ...b, ...spot }))).toBe('Ec2SpotMaxPriceTooLow');
    const long = { TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'k', Value: 'x'.repeat(257) }] }] };
    expect(await codeOf(run(a, { ...b, ...long }))).toBe('Ec2InvalidParameterValue');
    expect(await a.dryRun('RunInstances', () => run(a, { ...b, DryRun: true }))).toBe(true);
    expect(fake.store.instances.size).toBe(0);
  });

  it('closes a one-time spot request when its instance terminates; cancel makes it cancelled', async () => {
    const fake = new FakeEc2();
    const a = api(fake);
    const spot = { InstanceMarketOptions: { MarketType: 'spot', SpotOptions: { MaxPrice: '1' } } };
    const [one, two] = await run(a, { ...spot, MinCount: 2, MaxCount: 2 });
    const open = [{ Name: 'state', Values: ['open', 'active'] }];
    expect(await a.describeSpotRequests(open)).toHaveLength(2);
    await a.terminateInstances([one?.InstanceId ?? '']);
    await a.describeInstances([]);
    await a.cancelSpotRequests([two?.SpotInstanceRequestId ?? '']);
    const states = (await a.describeSpotRequests([])).map((r) => r.State);
    expect(states).toEqual(['closed', 'cancelled']);
  });
});

describe('fake EC2: groups, filters, pages', () => {
  it('refuses to delete a security group or placement group still in use', async () => {
    const fake = new FakeEc2();
    const a = api(fake);
    const sg = await a.createSecurityGroup('@sc-x', 'x', { 'starcluster:cluster': 'x' });
    expect(await codeOf(a.createSecurityGroup('@sc-x', 'x', {}))).toBe('Ec2InvalidGroupDuplicate');
    const rule = { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '10.0.0.0/8' }] };
    await a.authorizeIngress(sg, [rule]);
    expect(await codeOf(a.authorizeIngress(sg, [rule]))).toBe('Ec2InvalidPermissionDuplicate');
    await a.createPlacementGroup('@sc-x', {});
    const id = (await run(a, { SecurityGroupIds: [sg], Placement: { GroupName: '@sc-x' } }))[0]?.InstanceId ?? '';
    expect(await codeOf(a.deleteSecurityGroup(sg))).toBe('Ec2DependencyViolation');
    expect(await codeOf(a.deletePlacementGroup('@sc-x'))).toBe('Ec2InvalidPlacementGroupInUse');
    await a.terminateInstances([id]);
    await a.describeInstances([]);
    await a.deleteSecurityGroup(sg);
    await a.deletePlacementGroup('@sc-x');
    expect(await codeOf(a.deleteSecurityGroup(sg))).toBe('Ec2InvalidGroupNotFound');
    expect(fake.leftovers('x')).toEqual([]);
  });

  it('filters as EC2 does (AND across filters, OR across values, wildcards) and refuses unknown filters', async () => {
    const fake = new FakeEc2();
    const a = api(fake);
    for (const name of ['c-master', 'c-node001', 'd-master'])
      await run(a, { TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: name }] }] });
    const names = async (filters: { Name: string; Values: string[] }[]) =>
      (await a.describeInstances(filters)).map((i) => i.Tags?.find((t) => t.Key === 'Name')?.Value);
    expect(await names([{ Name: 'tag:Name', Values: ['c-*'] }])).toEqual(['c-master', 'c-node001']);
    expect(await names([{ Name: 'tag:Name', Values: ['c-node00?', 'd-master'] }])).toEqual(['c-node001', 'd-master']);
    expect(
      await names([
        { Name: 'tag:Name', Values: ['c-*'] },
        { Name: 'instance-state-name', Values: ['stopped'] },
      ]),
    ).toEqual([]);
    expect(await codeOf(a.describeInstances([{ Name: 'no-such-filter', Values: ['x'] }]))).toBe(
      'Ec2InvalidParameterValue',
    );
  });

  it("pages listings, and the SDK's paginators read every page", async () => {
    const fake = new FakeEc2({ pageSize: 1 });
    const a = api(fake);
    await run(a, { MinCount: 3, MaxCount: 3 });
    expect(await a.describeInstances([])).toHaveLength(3);
    expect(fake.faults.count('DescribeInstances')).toBe(3);
  });
});

describe('fake EC2: key pairs, volumes, images', () => {
  it("gives a made key pair EC2's fingerprint of its private key", async () => {
    const a = api(new FakeEc2());
    const pair = await a.createKeyPair('k1');
    expect(fingerprintMatches(pair.fingerprint, fingerprintsOfPrivateKey(pair.material))).toBe(true);
    expect(await a.findKeyPair('nope')).toBeUndefined();
    await a.deleteKeyPair('k1');
    await a.deleteKeyPair('k1');
    expect(await a.describeKeyPairs()).toEqual([]);
  });

  it('attaches a volume in the same zone only, and will not delete it while attached', async () => {
    const a = api(new FakeEc2());
    const id = (await run(a, { Placement: { AvailabilityZone: 'us-east-1a' } }))[0]?.InstanceId ?? '';
    await a.describeInstances([]);
    const far = await a.createVolume({ sizeGb: 1, zone: 'us-east-1b', tags: {} });
    expect(await codeOf(a.attachVolume(far.VolumeId ?? '', id, '/dev/sdf'))).toBe('Ec2InvalidVolumeZoneMismatch');
    const near = await a.createVolume({ sizeGb: 1, zone: 'us-east-1a', tags: {} });
    await a.describeVolumes([]);
    await a.attachVolume(near.VolumeId ?? '', id, '/dev/sdf');
    expect((await a.describeVolumes([], [near.VolumeId ?? '']))[0]?.Attachments?.[0]?.State).toBe('attached');
    expect(await codeOf(a.deleteVolume(near.VolumeId ?? ''))).toBe('Ec2VolumeInUse');
  });

  it('makes an image from an instance; its snapshot is in use until the image is deregistered', async () => {
    const a = api(new FakeEc2());
    const id = (await run(a))[0]?.InstanceId ?? '';
    const ami = await a.createImage({ instanceId: id, name: 'mine', tags: { t: '1' } });
    await a.waitImageAvailable(ami, 5);
    const [image] = await a.describeImages({ owners: ['self'] });
    expect(image?.ImageId).toBe(ami);
    const [snap] = await a.describeSnapshots({ owners: ['self'] });
    expect(await codeOf(a.deleteSnapshot(snap?.SnapshotId ?? ''))).toBe('Ec2InvalidSnapshotInUse');
    await a.deregisterImage(ami);
    await a.deleteSnapshot(snap?.SnapshotId ?? '');
  });
});

describe('fake EC2: faults', () => {
  it('fails the chosen call of an action, runs hooks, and loses answers after the effect', async () => {
    const fake = new FakeEc2();
    const a = api(fake);
    const seen: number[] = [];
    fake.faults
      .fail('RunInstances', 'InsufficientInstanceCapacity', { call: 2 })
      .on('RunInstances', () => seen.push(fake.faults.count('RunInstances')), { times: Infinity })
      .fail('CreateSecurityGroup', 'RequestTimeout', { lost: true });
    await run(a);
    expect(await codeOf(run(a))).toBe('Ec2InsufficientInstanceCapacity');
    await run(a);
    expect(seen).toEqual([1, 2, 3]);
    expect(fake.store.instances.size).toBe(2);
    expect(await codeOf(a.createSecurityGroup('g', 'g', {}))).toBe('Ec2RequestTimeout');
    // The lost answer's group exists: a retry meets it.
    expect(await codeOf(a.createSecurityGroup('g', 'g', {}))).toBe('Ec2InvalidGroupDuplicate');
    expect(fake.calls.filter((c) => c.error).map((c) => `${c.action}:${c.error}`)).toEqual([
      'RunInstances:InsufficientInstanceCapacity',
      'CreateSecurityGroup:RequestTimeout',
      'CreateSecurityGroup:InvalidGroup.Duplicate',
    ]);
  });

  it('answers SSM parameters of the image aliases through the same plan', async () => {
    const fake = new FakeEc2();
    expect(await fake.parameters.get('/aws/service/debian/release/12/latest/amd64')).toBe(IMAGE);
    expect(await fake.parameters.get('/aws/service/none')).toBeUndefined();
    fake.faults.fail('ssm:GetParameter', 'AccessDeniedException');
    await expect(fake.parameters.get('/aws/service/debian/release/12/latest/amd64')).rejects.toThrow(/AccessDenied/);
  });
});
