import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeCluster, IMAGE, failureOf } from './_fake-cluster.js';

/** addnode / removenode / resize on the fake EC2, hooks skipped: the cloud side of each, and its rollback. */
let c: FakeCluster;
beforeEach(async () => {
  c = await FakeCluster.create();
});
afterEach(async () => {
  await c.dispose();
});

describe('resize on the fake EC2', () => {
  it("grows 2 → 4 in the master's zone and group, shrinks 4 → 2 from the top, then terminate leaves nothing", async () => {
    await c.start('rz', { clusterSize: 2, availabilityZone: 'us-east-1c' });
    const grown = await c.resize('rz', 4);
    expect(grown.added.map((n) => n.alias)).toEqual(['node002', 'node003']);
    expect(c.aliases('rz')).toEqual(['master:running', 'node001:running', 'node002:running', 'node003:running']);
    const group = [...c.fake.store.groups.values()].find((g) => g.name === '@sc-rz');
    const live = c.fake.liveInstances('rz');
    expect(live.every((i) => i.zone === 'us-east-1c' && i.groupIds.includes(group?.id ?? 'none'))).toBe(true);
    expect(live.map((i) => i.tags.Name).sort()).toEqual(['rz-master', 'rz-node001', 'rz-node002', 'rz-node003']);

    const shrunk = await c.resize('rz', 2);
    expect(shrunk.removed.map((n) => n.alias)).toEqual(['node002', 'node003']);
    expect(c.aliases('rz')).toEqual(['master:running', 'node001:running']);
    await c.terminate('rz');
    expect(c.fake.leftovers('rz')).toEqual([]);
  });

  it('removes spot nodes with their requests', async () => {
    await c.start('sp', { clusterSize: 4, nodeInstanceType: 'c5.large', spotBid: 0.5 });
    const gone = c.fake.liveInstances('sp').find((i) => i.tags['starcluster:alias'] === 'node003');
    await c.removeNodes('sp', { aliases: ['node003'] });
    expect(c.fake.store.instances.get(gone?.id ?? '')?.state).toBe('shutting-down');
    expect(c.fake.store.spot.get(gone?.spotRequestId ?? '')?.state).not.toMatch(/open|active/);
    // The nodes that stay keep their requests.
    const staying = c.fake
      .liveInstances('sp')
      .filter((i) => i.tags['starcluster:role'] === 'node' && i.id !== gone?.id);
    expect(staying.map((i) => c.fake.store.spot.get(i.spotRequestId ?? '')?.state)).toEqual(['active', 'active']);
    await c.terminate('sp');
    expect(c.fake.leftovers('sp')).toEqual([]);
  });

  it('removenode -k takes the kept instance out of the cluster; terminate then succeeds and leaves it running', async () => {
    // c5.large nodes share a cluster placement group; node002 is a spot node.
    await c.start('kp', { clusterSize: 3, nodeInstanceType: 'c5.large', spotBid: 0.5 });
    const kept = c.fake.liveInstances('kp').find((i) => i.tags['starcluster:alias'] === 'node002')!;
    const clusterGroup = [...c.fake.store.groups.values()].find((g) => g.name === '@sc-kp')!;
    const defaultGroup = [...c.fake.store.groups.values()].find((g) => g.name === 'default' && g.vpcId === kept.vpcId)!;
    expect(kept.groupIds).toEqual([clusterGroup.id]);

    await c.removeNodes('kp', { aliases: ['node002'], keepInstances: true });
    expect(c.aliases('kp')).toEqual(['master:running', 'node001:running']);
    // Out of @sc-kp (whose rules let it reach every node) into the VPC's default group; untagged
    // from the cluster with its root volume and spot request.
    expect(kept.state).toBe('running');
    expect(kept.groupIds).toEqual([defaultGroup.id]);
    expect(kept.tags['starcluster:cluster']).toBe('removed-from-kp');
    expect(c.fake.store.volumes.get(kept.rootVolumeId)?.tags['starcluster:cluster']).toBe('removed-from-kp');
    expect(c.fake.store.spot.get(kept.spotRequestId ?? '')?.tags['starcluster:cluster']).toBe('removed-from-kp');
    const said = c.io.messages.filter((m) => m.code === 'SC_REMOVENODE_W0002').map((m) => m.message);
    expect(said.join('\n')).toContain(
      `node002 (${kept.id}) moved from @sc-kp to the VPC's default group ${defaultGroup.id}`,
    );
    expect(said.join('\n')).toContain('stays in placement group @sc-kp');

    // terminate removes the cluster and its security group, not the kept instance or its request;
    // the placement group it still runs in stays, and terminate says why and how to delete it.
    const gone = await c.terminate('kp');
    expect(gone.terminated).not.toContain(kept.id);
    expect(gone.deletedSecurityGroups).toEqual([clusterGroup.id]);
    expect(gone.deletedPlacementGroup).toBe(false);
    expect(gone.keptPlacementGroup).toEqual({ name: '@sc-kp', heldBy: [kept.id] });
    expect(kept.state).toBe('running');
    expect(c.fake.store.spot.get(kept.spotRequestId ?? '')?.state).toBe('active');
    const warning = c.io.messages.find((m) => m.code === 'SC_TERMINATE_W0002')?.message ?? '';
    expect(warning).toContain(`placement group @sc-kp kept: ${kept.id} still runs in it`);
    expect(warning).toContain('aws ec2 delete-placement-group --group-name @sc-kp');
    expect(c.fake.leftovers('kp')).toEqual(['placement group @sc-kp']);
    // Once its owner is done with it, terminate again deletes the group.
    await c.fake.send('TerminateInstances', { InstanceIds: [kept.id] });
    expect((await c.terminate('kp')).deletedPlacementGroup).toBe(true);
    expect(c.fake.leftovers('kp')).toEqual([]);
  });

  it('terminate frees a group an instance kept by an older removenode -k still holds; any other user fails it at once, named', async () => {
    // What removenode -k did before: the cluster tag changed, the instance left in @sc-old.
    await c.start('old', { clusterSize: 3 });
    const kept = c.fake.liveInstances('old').find((i) => i.tags['starcluster:alias'] === 'node002')!;
    await c.fake.send('CreateTags', {
      Resources: [kept.id],
      Tags: [{ Key: 'starcluster:cluster', Value: 'removed-from-old' }],
    });
    const gone = await c.terminate('old');
    expect(gone.deletedSecurityGroups).toHaveLength(1);
    expect(kept.state).toBe('running');
    expect(c.fake.store.groups.get(kept.groupIds[0] ?? '')?.name).toBe('default');
    expect(c.io.messages.find((m) => m.code === 'SC_TERMINATE_W0003')?.message).toMatch(
      new RegExp(`^${kept.id} \\(kept running by an older \`removenode -k\`\\) moved out of @sc-old`),
    );
    // The older -k left the kept instance's root volume tagged: it goes when the instance does.
    expect(c.fake.leftovers('old')).toEqual([`volume ${kept.rootVolumeId} (in-use)`]);

    // An instance the cluster never made, put in its group by hand: not ours to move or wait for.
    await c.start('hand', { clusterSize: 2 });
    const group = [...c.fake.store.groups.values()].find((g) => g.name === '@sc-hand')!;
    const made = (await c.fake.send('RunInstances', {
      ImageId: IMAGE,
      InstanceType: 't3.micro',
      MinCount: 1,
      MaxCount: 1,
      SecurityGroupIds: [group.id],
    })) as { Instances: { InstanceId: string }[] };
    const stranger = made.Instances[0]?.InstanceId ?? '';
    const deletes = c.fake.faults.count('DeleteSecurityGroup');
    const error = await failureOf(c.terminate('hand'));
    expect(error.code).toBe('SecurityGroupInUse');
    expect(error.message).toContain(`security group ${group.id} (@sc-hand) is used by ${stranger}`);
    expect(c.fake.faults.count('DeleteSecurityGroup')).toBe(deletes + 1);
    expect(c.fake.store.instances.get(stranger)?.state).toBe('running');
  });

  it('addnode with a failed launch makes nothing and leaves the cluster as it was', async () => {
    await c.start('af', { clusterSize: 2, availabilityZone: 'us-east-1a' });
    c.fake.store.opts.noCapacity = ['us-east-1a'];
    const error = await failureOf(c.addNodes('af', { count: 2 }));
    expect(error.code).toBe('Ec2InsufficientInstanceCapacity');
    expect(c.aliases('af')).toEqual(['master:running', 'node001:running']);
  });

  it('addnode rolls back the nodes it launched when tagging them fails', async () => {
    await c.start('at', { clusterSize: 2 });
    c.fake.faults.fail('CreateTags', 'InvalidInstanceID.NotFound', { times: Infinity });
    const error = await failureOf(c.addNodes('at', { count: 2 }));
    expect(error.code).toBe('Ec2InvalidInstanceIDNotFound');
    expect(c.fake.faults.count('TerminateInstances')).toBe(1);
    expect(c.aliases('at')).toEqual(['master:running', 'node001:running']);
    c.fake.faults.clear();
    await c.terminate('at');
    expect(c.fake.leftovers('at')).toEqual([]);
  });

  it("addnode whose RunInstances answer is lost finds the nodes EC2 made by this run's tag and removes them", async () => {
    await c.start('al', { clusterSize: 2 });
    c.fake.faults.fail('RunInstances', 'RequestTimeout', { lost: true });
    const error = await failureOf(c.addNodes('al', { count: 3 }));
    expect(error.code).toBe('Ec2RequestTimeout');
    expect(c.fake.liveInstances('al')).toHaveLength(5);
    expect(c.aliases('al')).toEqual(['master:running', 'node001:running']);
  });

  it('resize interrupted while the new nodes are waited for rolls them back', async () => {
    await c.start('ai', { clusterSize: 2 });
    const abort = new AbortController();
    c.fake.faults.on('RunInstances', () => abort.abort());
    const error = await failureOf(c.resize('ai', 5, abort.signal));
    expect(error.code).toBe('Interrupted');
    expect(c.aliases('ai')).toEqual(['master:running', 'node001:running']);
  });

  it("addnode and resize up check the account's vCPU quota before launching anything", async () => {
    await c.start('aq', { clusterSize: 2 });
    // 2 × t3.micro run (4 vCPUs); 2 more need 4: over a quota of 6.
    c.fake.store.opts.vcpuLimit = 6;
    const before = c.fake.faults.count('servicequotas:GetServiceQuota');
    const launches = c.fake.faults.count('RunInstances');
    const error = await failureOf(c.addNodes('aq', { count: 2 }));
    expect(error.code).toBe('VcpuQuotaExceeded');
    expect(error.details?.join('\n')).toMatch(
      /L-1216C47A.* is 6 vCPUs; 4 are in use and this launch needs 4 more \(2 × t3.micro\)/,
    );
    expect(c.fake.faults.count('servicequotas:GetServiceQuota')).toBe(before + 1);
    expect((await failureOf(c.resize('aq', 4))).code).toBe('VcpuQuotaExceeded');
    expect(c.fake.faults.count('RunInstances')).toBe(launches);
    expect(c.aliases('aq')).toEqual(['master:running', 'node001:running']);
    // One more fits.
    const grown = await c.addNodes('aq', { count: 1 });
    expect(grown.added.map((n) => n.alias)).toEqual(['node002']);
  });

  it('refuses to remove the master or more nodes than there are, touching nothing', async () => {
    await c.start('rf', { clusterSize: 2 });
    expect((await failureOf(c.removeNodes('rf', { aliases: ['master'] }))).code).toBe('RemoveMaster');
    expect((await failureOf(c.removeNodes('rf', { count: 2 }))).code).toBe('NodeCount');
    expect(c.fake.faults.count('TerminateInstances')).toBe(0);
  });
});
