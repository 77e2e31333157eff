import { afterEach, describe, expect, it } from 'vitest';
import type { ClusterTemplate } from '../../../src/config/types.js';
import type { FakeEc2, FakeEc2Options } from '../../_helpers/fake-ec2/index.js';
import { FakeCluster, failureOf } from './_fake-cluster.js';

/**
 * A fault at each step of `start` on the fake EC2: the run fails with the cause, and its rollback
 * leaves nothing behind (read from the fake's store, not through our code). Where the rollback's
 * own calls fail, what is left is named, and `terminate` cleans it.
 */
let c: FakeCluster | undefined;
afterEach(async () => {
  await c?.dispose();
  c = undefined;
});

interface Case {
  what: string;
  fault: (fake: FakeEc2, abort: AbortController) => void;
  code: string;
  over?: Partial<ClusterTemplate>;
  options?: FakeEc2Options;
  /** Calls that must have happened, so the fault hit where it was meant to. */
  reached: string[];
}

const spotAndPlacement: Partial<ClusterTemplate> = { nodeInstanceType: 'c5.large', spotBid: 0.5 };
const hasIds = (input: unknown) => ((input as { InstanceIds?: string[] }).InstanceIds ?? []).length > 0;

const CASES: Case[] = [
  {
    what: 'CreateSecurityGroup fails',
    fault: (f) => f.faults.fail('CreateSecurityGroup', 'InternalError'),
    code: 'Ec2InternalError',
    reached: ['CreateSecurityGroup'],
  },
  {
    what: "the security group's rules are refused",
    fault: (f) => f.faults.fail('AuthorizeSecurityGroupIngress', 'InvalidParameterValue'),
    code: 'Ec2InvalidParameterValue',
    reached: ['AuthorizeSecurityGroupIngress', 'DeleteSecurityGroup'],
  },
  {
    what: 'CreatePlacementGroup fails',
    over: spotAndPlacement,
    fault: (f) => f.faults.fail('CreatePlacementGroup', 'InternalError'),
    code: 'Ec2InternalError',
    reached: ['CreatePlacementGroup', 'DeleteSecurityGroup'],
  },
  {
    what: 'RunInstances has no capacity on the second call (the nodes), the zone pinned',
    over: { ...spotAndPlacement, availabilityZone: 'us-east-1a' },
    fault: (f) => f.faults.fail('RunInstances', 'InsufficientInstanceCapacity', { call: 2 }),
    code: 'Ec2InsufficientInstanceCapacity',
    reached: ['TerminateInstances', 'DeletePlacementGroup', 'DeleteSecurityGroup'],
  },
  {
    what: 'the vCPU quota is reached by the second launch, Service Quotas having not answered',
    options: { vcpuLimit: 4 },
    fault: (f) => f.faults.fail('servicequotas:GetServiceQuota', 'AccessDeniedException', { times: Infinity }),
    code: 'Ec2VcpuLimitExceeded',
    reached: ['TerminateInstances', 'DeleteSecurityGroup'],
  },
  {
    what: "the second RunInstances' answer is lost after EC2 made the nodes",
    fault: (f) => f.faults.fail('RunInstances', 'RequestTimeout', { call: 2, lost: true }),
    code: 'Ec2RequestTimeout',
    reached: ['TerminateInstances'],
  },
  {
    what: 'CreateTags answers InvalidInstanceID.NotFound past every retry',
    fault: (f) => f.faults.fail('CreateTags', 'InvalidInstanceID.NotFound', { times: Infinity }),
    code: 'Ec2InvalidInstanceIDNotFound',
    reached: ['TerminateInstances'],
  },
  {
    what: 'the instances never run (terminated at launch, e.g. spot reclaimed)',
    over: spotAndPlacement,
    options: { launchOutcome: (i) => (i.spotRequestId ? 'terminated' : 'running') },
    fault: () => undefined,
    code: 'InstancesNotRunning',
    reached: ['TerminateInstances', 'DeletePlacementGroup'],
  },
  {
    what: 'Ctrl-C during validation',
    fault: (f, abort) => f.faults.on('DescribeKeyPairs', () => abort.abort()),
    code: 'Interrupted',
    reached: ['DescribeKeyPairs'],
  },
  {
    what: 'Ctrl-C while the security group is made',
    fault: (f, abort) => f.faults.on('CreateSecurityGroup', () => abort.abort()),
    code: 'Interrupted',
    reached: ['DeleteSecurityGroup'],
  },
  {
    what: 'Ctrl-C while the master is launched',
    over: spotAndPlacement,
    fault: (f, abort) => f.faults.on('RunInstances', () => abort.abort()),
    code: 'Interrupted',
    reached: ['TerminateInstances', 'DeletePlacementGroup', 'DeleteSecurityGroup'],
  },
  {
    what: 'Ctrl-C while waiting for the nodes to run',
    fault: (f, abort) =>
      f.faults.on('DescribeInstances', (input) => hasIds(input) && abort.abort(), { times: Infinity }),
    code: 'Interrupted',
    reached: ['TerminateInstances', 'DeleteSecurityGroup'],
  },
];

describe('start rolls back on the fake EC2', () => {
  it.each(CASES)('$what: fails with $code and leaves nothing', async (k) => {
    c = await FakeCluster.create(k.options ?? {});
    const abort = new AbortController();
    k.fault(c.fake, abort);
    const error = await failureOf(c.start('roll', k.over ?? {}, { signal: abort.signal }));
    expect(error.code).toBe(k.code);
    const called = new Set(c.fake.calls.map((x) => x.action));
    expect(k.reached.filter((a) => !called.has(a))).toEqual([]);
    expect(c.fake.leftovers('roll')).toEqual([]);
    // Nothing the rollback tried failed (a failed undo is reported as a warning).
    expect(c.io.messages.filter((m) => m.code === 'SC_ROLLBACK_W0001')).toEqual([]);
  });

  it('a rollback whose own calls fail names what is left; terminate then cleans it', async () => {
    c = await FakeCluster.create();
    // The nodes' launch fails; so does every TerminateInstances of the rollback (and so the group stays in use).
    c.fake.faults
      .fail('RunInstances', 'InsufficientInstanceCapacity', { call: 2 })
      .fail('TerminateInstances', 'InternalError', { times: Infinity });
    const error = await failureOf(c.start('half', { availabilityZone: 'us-east-1a' }));
    expect(error.code).toBe('Ec2InsufficientInstanceCapacity');
    expect(
      c.io.messages
        .filter((m) => m.code === 'SC_ROLLBACK_W0001')
        .map((m) => m.message)
        .join('\n'),
    ).toMatch(/starcluster terminate/);
    expect(c.fake.leftovers('half').map((l) => l.split(' ').slice(0, -1).join(' '))).toEqual([
      expect.stringMatching(/^instance i-/),
      expect.stringMatching(/^security group sg-/),
      expect.stringMatching(/^volume vol-/),
    ]);
    c.fake.faults.clear();
    await c.terminate('half');
    expect(c.fake.leftovers('half')).toEqual([]);
  });

  it('a lost CreateSecurityGroup answer is not a failure: the group carrying this run is taken up', async () => {
    c = await FakeCluster.create();
    c.fake.faults.fail('CreateSecurityGroup', 'RequestTimeout', { lost: true });
    const result = await c.start('lost', { clusterSize: 2 });
    expect(result.nodes).toHaveLength(2);
    expect([...c.fake.store.groups.values()].filter((g) => g.name === '@sc-lost')).toHaveLength(1);
    await c.terminate('lost');
    expect(c.fake.leftovers('lost')).toEqual([]);
  });

  it('CreateTags NotFound right after RunInstances (eventual consistency) is retried: every node named', async () => {
    c = await FakeCluster.create({ invisibleCalls: 2 });
    await c.start('late');
    expect(
      c.fake
        .liveInstances('late')
        .map((i) => i.tags.Name)
        .sort(),
    ).toEqual(['late-master', 'late-node001', 'late-node002']);
    expect(
      c.fake.calls.filter((x) => x.action === 'CreateTags' && x.error === 'InvalidInstanceID.NotFound').length,
    ).toBeGreaterThan(0);
  });
});
