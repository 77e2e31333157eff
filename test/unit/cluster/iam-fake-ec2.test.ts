import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { API_CALLS, iamPolicy } from '../../../src/cloud/ec2/iam-policy.js';
import { listClusters } from '../../../src/cluster/list.js';
import { FakeCluster } from './_fake-cluster.js';

/**
 * `starcluster iam-policy` against what a cluster's whole life really calls, on the fake EC2: every
 * call is allowed by the policy, and each call the policy allows only on resources tagged
 * `starcluster:cluster` names only such resources at the moment it is made (the fake's store is
 * read as the call arrives). The code scan (test/unit/cloud/iam-policy.test.ts) finds the calls the
 * code can make; this finds what the policy's conditions would refuse.
 */
let c: FakeCluster;
beforeEach(async () => {
  c = await FakeCluster.create();
});
afterEach(async () => {
  await c.dispose();
});

const TAG = 'starcluster:cluster';

type Input = Record<string, unknown>;
const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : []);

/** The resources a call acts on, by the input fields EC2 takes them in. */
const TARGETS: Record<string, (input: Input) => string[]> = {
  TerminateInstances: (i) => list(i.InstanceIds),
  StopInstances: (i) => list(i.InstanceIds),
  StartInstances: (i) => list(i.InstanceIds),
  RebootInstances: (i) => list(i.InstanceIds),
  ModifyInstanceAttribute: (i) => list(i.InstanceId),
  DeleteSecurityGroup: (i) => list(i.GroupId),
  AuthorizeSecurityGroupIngress: (i) => list(i.GroupId),
  DeletePlacementGroup: (i) => list(i.GroupName),
  CancelSpotInstanceRequests: (i) => list(i.SpotInstanceRequestIds),
  CreateTags: (i) => list(i.Resources),
};

function tagsOf(id: string): Record<string, string> | undefined {
  const s = c.fake.store;
  return (
    s.instances.get(id)?.tags ??
    s.groups.get(id)?.tags ??
    s.placementGroups.get(id)?.tags ??
    s.spot.get(id)?.tags ??
    s.volumes.get(id)?.tags
  );
}

describe('the IAM policy covers what a cluster really calls', () => {
  it('start, plan, dry run, addnode, removenode (-k too), resize, stop, resume, listclusters, terminate', async () => {
    const scoped = API_CALLS.filter((a) => ['cluster-tagged', 'release', 'tag'].includes(a.scope)).map((a) =>
      a.action.replace(/^ec2:/, ''),
    );
    expect(scoped.filter((a) => !TARGETS[a])).toEqual([]);
    const refused: string[] = [];
    const hookScoped = () => {
      for (const action of scoped)
        c.fake.faults.on(
          action,
          (input) => {
            for (const id of TARGETS[action]?.(input as Input) ?? [])
              if (tagsOf(id)?.[TAG] === undefined) refused.push(`${action} ${id}`);
          },
          { times: Infinity },
        );
    };
    hookScoped();

    const spotty = { clusterSize: 4, nodeInstanceType: 'c5.large', spotBid: 0.5, tags: { team: 'astro' } };
    await c.start('pol', spotty, { mode: 'plan' });
    await c.start('pol', spotty, { mode: 'dry-run' });
    await c.start('pol', spotty);
    await c.addNodes('pol', { count: 1 });
    await c.removeNodes('pol', { aliases: ['node001'], keepInstances: true });
    await c.removeNodes('pol', { aliases: ['node002'] });
    await c.resize('pol', 5);
    await listClusters({ providers: [c.provider] });
    const kept = (await c.terminate('pol')).keptPlacementGroup?.heldBy ?? [];
    // The kept node's owner terminates it (by hand); terminate again deletes the placement group.
    expect(kept).toHaveLength(1);
    c.fake.faults.clear();
    await c.fake.send('TerminateInstances', { InstanceIds: kept });
    hookScoped();
    expect((await c.terminate('pol')).deletedPlacementGroup).toBe(true);
    await c.start('od', { clusterSize: 2 });
    await c.stop('od');
    await c.start('od', { clusterSize: 2 });
    await c.terminate('od');

    const allowed = new Set(iamPolicy().Statement.flatMap((s) => s.Action));
    const called = new Set(c.fake.calls.map((x) => (x.action.includes(':') ? x.action : `ec2:${x.action}`)));
    expect([...called].filter((a) => !allowed.has(a))).toEqual([]);
    expect(refused).toEqual([]);
    // The calls that matter were made (the check above is not vacuous).
    for (const a of ['ModifyInstanceAttribute', 'DeletePlacementGroup', 'CancelSpotInstanceRequests', 'StopInstances'])
      expect(called).toContain(`ec2:${a}`);
  });
});
