import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TAG_RUN } from '../../../src/model/tags.js';
import { FakeCluster, failureOf, IMAGE } from './_fake-cluster.js';

/**
 * start and terminate on the fake EC2 (test/_helpers/fake-ec2): the real cluster and Ec2Provider
 * code, node setup and engines skipped. "Nothing left" is read from the fake's own store.
 */
let c: FakeCluster;
beforeEach(async () => {
  c = await FakeCluster.create();
});
afterEach(async () => {
  await c.dispose();
});

describe('start → terminate on the fake EC2', () => {
  it('makes a tagged master and nodes in one security group, then terminate leaves nothing', async () => {
    const result = await c.start('alpha');
    expect(result.nodes.map((n) => `${n.alias}:${n.state}`)).toEqual([
      'master:running',
      'node001:running',
      'node002:running',
    ]);
    expect(result.created.instanceIds).toHaveLength(3);
    const instances = c.fake.liveInstances('alpha');
    expect(instances.map((i) => i.tags.Name).sort()).toEqual(['alpha-master', 'alpha-node001', 'alpha-node002']);
    expect(instances.every((i) => i.tags[TAG_RUN] && i.keyName === 'sc-unit' && i.imageId === IMAGE)).toBe(true);
    expect(instances.filter((i) => i.tags['starcluster:role'] === 'master')).toHaveLength(1);
    const groups = [...c.fake.store.groups.values()].filter((g) => g.name === '@sc-alpha');
    expect(groups).toHaveLength(1);
    const group = groups[0];
    expect(instances.every((i) => i.groupIds.includes(group?.id ?? 'none'))).toBe(true);
    // 22 from SSH_CIDR and everything inside the group; nothing else.
    expect(group?.ingress.map((r) => r.IpRanges?.[0]?.CidrIp ?? r.UserIdGroupPairs?.[0]?.GroupId).sort()).toEqual(
      ['198.51.100.0/24', group?.id].sort(),
    );
    // t3 cannot use a cluster placement group: none was made.
    expect(c.fake.store.placementGroups.size).toBe(0);

    const gone = await c.terminate('alpha');
    expect(gone.terminated.sort()).toEqual(result.created.instanceIds.sort());
    expect(gone.deletedSecurityGroups).toEqual([group?.id]);
    expect(c.fake.leftovers('alpha')).toEqual([]);
    expect((await c.terminate('alpha')).alreadyGone).toBe(true);
  });

  it('with spot nodes and a placement group: terminate removes the group, the requests, the volumes', async () => {
    const result = await c.start('beta', { nodeInstanceType: 'c5.large', spotBid: 0.5, tags: { team: 'astro' } });
    expect(result.created.placementGroup).toBe('@sc-beta');
    const live = c.fake.liveInstances('beta');
    expect(
      live
        .filter((i) => i.spotRequestId)
        .map((i) => i.tags['starcluster:alias'])
        .sort(),
    ).toEqual(['node001', 'node002']);
    expect(live.every((i) => i.placementGroup === '@sc-beta' && i.tags.team === 'astro')).toBe(true);
    expect(c.fake.leftovers('beta').filter((l) => l.startsWith('spot request'))).toHaveLength(2);
    expect(c.fake.leftovers('beta').filter((l) => l.startsWith('volume'))).toHaveLength(3);

    const gone = await c.terminate('beta');
    expect(gone.deletedPlacementGroup).toBe(true);
    expect(c.fake.leftovers('beta')).toEqual([]);
  });

  it("resolves an image alias through SSM, for each instance type's architecture", async () => {
    await c.start('gamma', { nodeImageId: 'debian-12', masterInstanceType: 'c6g.large', clusterSize: 2 });
    const byAlias = Object.fromEntries(
      c.fake.liveInstances('gamma').map((i) => [i.tags['starcluster:alias'], i.imageId]),
    );
    expect(byAlias).toEqual({ master: 'ami-0d0000000000000b1', node001: IMAGE });
    expect(c.fake.faults.count('ssm:GetParameter')).toBe(2);
  });
});

describe('start: resume, big launches, zones, dry run on the fake EC2', () => {
  it('resumes a cluster that exists: only the missing nodes are launched, the group is reused', async () => {
    await c.start('delta', { clusterSize: 2 });
    const again = await c.start('delta', { clusterSize: 4 });
    expect(again.resumed).toBe(true);
    expect(again.created.securityGroupId).toBeUndefined();
    expect(c.aliases('delta')).toEqual(['master:running', 'node001:running', 'node002:running', 'node003:running']);
    expect(c.fake.faults.count('CreateSecurityGroup')).toBe(1);
    await c.terminate('delta');
    expect(c.fake.leftovers('delta')).toEqual([]);
  });

  it('stop keeps the cluster (stopped), start resumes it without launching, terminate removes it', async () => {
    await c.start('st', { clusterSize: 2 });
    const stopped = await c.stop('st');
    expect(stopped.stopped).toHaveLength(2);
    expect(c.aliases('st')).toEqual(['master:stopped', 'node001:stopped']);
    const launches = c.fake.faults.count('RunInstances');
    const resumed = await c.start('st', { clusterSize: 2 });
    expect(resumed.resumed).toBe(true);
    expect(c.aliases('st')).toEqual(['master:running', 'node001:running']);
    expect(c.fake.faults.count('RunInstances')).toBe(launches);
    expect(c.fake.faults.count('StartInstances')).toBe(1);
    await c.terminate('st');
    expect(c.fake.leftovers('st')).toEqual([]);
  });

  it('stop refuses spot nodes unless told to terminate them (-t)', async () => {
    await c.start('ss', { clusterSize: 2, spotBid: 0.5 });
    expect((await failureOf(c.stop('ss'))).code).toBe('UnstoppableNodes');
    expect(c.fake.faults.count('StopInstances')).toBe(0);
    const result = await c.stop('ss', { terminateUnstoppable: true });
    expect(result.terminated).toHaveLength(1);
    expect(c.aliases('ss')).toEqual(['master:stopped']);
  });

  it('launches at most 25 aliases per RunInstances (the alias list fits one tag)', async () => {
    await c.start('big', { clusterSize: 31 });
    // The master alone, then the 30 nodes as 25 + 5.
    const counts = c.fake.calls
      .filter((x) => x.action === 'RunInstances')
      .map((x) => (x.input as { MaxCount: number }).MaxCount);
    expect(counts).toEqual([1, 25, 5]);
    expect(c.fake.liveInstances('big')).toHaveLength(31);
    await c.terminate('big');
    expect(c.fake.leftovers('big')).toEqual([]);
  });

  it('where EC2 has no capacity in the zone it picks, start tries the next zone', async () => {
    c.fake.store.opts.noCapacity = ['us-east-1a'];
    await c.start('eps', { clusterSize: 2 });
    expect(c.fake.liveInstances('eps').map((i) => i.zone)).toEqual(['us-east-1b', 'us-east-1b']);
  });

  it('no capacity in a pinned zone for nodes in a placement group: says the group makes it likelier, what to do; leaves nothing', async () => {
    c.fake.store.opts.noCapacity = ['us-east-1b'];
    const error = await failureOf(c.start('icepg', { nodeInstanceType: 'c5.large', availabilityZone: 'us-east-1b' }));
    expect(error.code).toBe('Ec2InsufficientInstanceCapacity');
    expect(error.message).toBe(
      'AWS has no spare capacity for 1 × c5.large in us-east-1b right now; the cluster placement group @sc-icepg ' +
        'asks for all nodes close together, which makes this likelier',
    );
    expect((error as { hint?: string }).hint).toMatch(/^try another zone .*another instance type .*fewer nodes/);
    expect(c.fake.leftovers('icepg')).toEqual([]);
  });

  it("refuses a start the account's vCPU quota cannot hold, before anything is made", async () => {
    c.fake.store.opts.vcpuLimit = 4;
    const error = await failureOf(c.start('quota'));
    expect(error.code).toBe('VcpuQuotaExceeded');
    expect(c.fake.faults.count('servicequotas:GetServiceQuota')).toBe(1);
    expect(c.fake.faults.count('CreateSecurityGroup') + c.fake.faults.count('RunInstances')).toBe(0);
  });

  it('--dry-run asks EC2 with DryRun and makes nothing; a refused check says why', async () => {
    const result = await c.start('zeta', {}, { mode: 'dry-run' });
    expect(result.dryRun).toHaveLength(3);
    expect(c.fake.leftovers('zeta')).toEqual([]);
    const error = await failureOf(c.start('zeta', { nodeImageId: 'ami-000000000000000ff' }));
    expect(error.details?.join('\n')).toMatch(/ami-000000000000000ff/);
    expect(c.fake.faults.count('RunInstances')).toBe(2);
  });

  it('terminate retries a security group EC2 still sees in use, and finishes the job', async () => {
    await c.start('eta', { clusterSize: 1 });
    c.fake.faults.fail('DeleteSecurityGroup', 'DependencyViolation', { times: 2 });
    await c.terminate('eta');
    expect(c.fake.faults.count('DeleteSecurityGroup')).toBe(3);
    expect(c.fake.leftovers('eta')).toEqual([]);
  });
});
