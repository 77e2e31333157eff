import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalProvider } from '../../../src/cloud/local/index.js';
import type { Ec2Provider } from '../../../src/cloud/ec2/provider.js';
import type { NodeRecord } from '../../../src/cloud/provider.js';
import { ManualClock } from '../../_helpers/clock.js';
import { FakeEc2 } from '../../_helpers/fake-ec2/index.js';
import { failure } from '../../_helpers/failure.js';

/**
 * The providers' own waits run on a Clock: on a ManualClock a wait of minutes passes at once, and
 * what is checked is the pauses the code chose and where it gave up, not how long anything took.
 */
const IMAGE = 'ami-0d0000000000000a1';

const codeOf = async (p: Promise<unknown>): Promise<string> => (await failure(p)).code;

const launchMaster = (provider: Ec2Provider, clientToken: string): Promise<NodeRecord[]> =>
  provider.launch({
    cluster: 'c1',
    role: 'master',
    aliases: ['master'],
    instanceType: 't3.micro',
    imageId: IMAGE,
    zone: 'us-east-1a',
    clientToken,
  });

describe('the EC2 provider waits on its clock', () => {
  it('gives up on a volume that never attaches after the wait timeout, backing off 0.5 s doubling to 5 s', async () => {
    const fake = new FakeEc2();
    const clock = new ManualClock();
    const provider = fake.provider({ clock, waitTimeoutSeconds: 20 });
    const [node] = await launchMaster(provider, 'tok-1');
    await provider.waitRunning([node!.id]);
    const volume = await provider.account().createVolume({ sizeGb: 1, zone: 'us-east-1a' });
    // Never attached: the wait polls until the next pause would pass the 20 s deadline.
    expect(await codeOf(provider.volumes.waitAttached(volume.id, node!.id))).toBe('VolumeAttachTimeout');
    expect(clock.sleeps).toEqual([500, 1000, 2000, 4000, 5000, 5000]);
    expect(clock.now()).toBe(17_500);

    // Attached: the wait ends at the first read that says so, with no pause at all.
    const again = new ManualClock();
    const patient = fake.provider({ clock: again, waitTimeoutSeconds: 20 });
    await patient.volumes.attach(volume.id, node!.id, '/dev/sdz');
    await patient.volumes.waitAttached(volume.id, node!.id);
    expect(again.sleeps).toEqual([]);
  });

  it('retries tagging a new instance EC2 does not know yet, pausing as its schedule says', async () => {
    const fake = new FakeEc2({ invisibleCalls: 2 });
    const clock = new ManualClock();
    const provider = fake.provider({ clock, tagRetryDelaysMs: [250, 500, 1000] });
    const [node] = await launchMaster(provider, 'tok-2');
    expect(clock.sleeps).toEqual([250, 500]);
    expect(node?.alias).toBe('master');
  });

  it('retries deleting a security group still in use, pausing as its schedule says, then gives up', async () => {
    const fake = new FakeEc2();
    const clock = new ManualClock();
    const provider = fake.provider({ clock, sgDeleteDelaysMs: [2000, 4000] });
    const group = await provider.network.createGroup({
      cluster: 'c1',
      name: '@sc-c1',
      description: 'test',
      tags: {},
      runId: 'run-1',
    });
    fake.faults.fail('DeleteSecurityGroup', 'DependencyViolation', { times: 2 });
    await provider.network.deleteGroup(group.id);
    expect(clock.sleeps).toEqual([2000, 4000]);
    expect(await provider.network.clusterGroups('c1')).toEqual([]);

    const other = await provider.network.createGroup({
      cluster: 'c2',
      name: '@sc-c2',
      description: 'test',
      tags: {},
      runId: 'run-2',
    });
    fake.faults.fail('DeleteSecurityGroup', 'DependencyViolation', { times: 3 });
    expect(await codeOf(provider.network.deleteGroup(other.id))).toBe('Ec2DependencyViolation');
    expect(clock.sleeps).toEqual([2000, 4000, 2000, 4000]);
  });
});

describe('the local provider waits on its clock', () => {
  let home: string | undefined;
  afterEach(async () => {
    if (home) await rm(home, { recursive: true, force: true });
    home = undefined;
  });

  it('gives up on nodes whose supervisors never report, once the ready timeout has passed', async () => {
    home = await mkdtemp(join(tmpdir(), 'sc-waits-'));
    const clock = new ManualClock();
    const provider = new LocalProvider({ env: { STARCLUSTER_HOME: home }, readyTimeoutMs: 1_000, clock });
    expect(await codeOf(provider.waitRunning(['local-c1-master']))).toBe('LocalNodesNotRunning');
    expect(clock.sleeps).toEqual(Array<number>(10).fill(100));
  });
});
