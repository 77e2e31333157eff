import { describe, expect, it } from 'vitest';
import type { ClusterTemplate } from '../../../src/config/types.js';
import { clusterAliases } from '../../../src/model/aliases.js';
import { launchGroups, nodeShapes } from '../../../src/cluster/launch-plan.js';
import { defaultTemplate } from '../../../src/model/template.js';

export function template(over: Partial<ClusterTemplate> = {}): ClusterTemplate {
  return defaultTemplate({
    name: 't',
    provider: 'ec2',
    keyname: 'k',
    clusterSize: 4,
    nodeImageId: 'ami-node',
    nodeInstanceType: 'm5.large',
    ...over,
  });
}

describe('launch grouping', () => {
  it('launches a uniform cluster in two calls: the master, then every node', () => {
    const groups = launchGroups(nodeShapes(template(), clusterAliases(4)));
    expect(groups).toEqual([
      { role: 'master', instanceType: 'm5.large', imageId: 'ami-node', aliases: ['master'] },
      { role: 'node', instanceType: 'm5.large', imageId: 'ami-node', aliases: ['node001', 'node002', 'node003'] },
    ]);
  });

  it('follows NODE_INSTANCE_TYPE items in order, then the default type', () => {
    const t = template({
      clusterSize: 6,
      masterInstanceType: 'c5.xlarge',
      masterImageId: 'ami-master',
      nodeInstanceTypes: [
        { instanceType: 'c5.large', imageId: 'ami-x', count: 2 },
        { instanceType: 'm5.large', count: 1 },
      ],
    });
    const shapes = nodeShapes(t, clusterAliases(6));
    expect(shapes.map((s) => `${s.alias}:${s.instanceType}:${s.imageId}`)).toEqual([
      'master:c5.xlarge:ami-master',
      'node001:c5.large:ami-x',
      'node002:c5.large:ami-x',
      'node003:m5.large:ami-node',
      'node004:m5.large:ami-node',
      'node005:m5.large:ami-node',
    ]);
    // node003 (explicit m5.large with the node AMI) joins the default group: one call per (type, AMI).
    expect(launchGroups(shapes).map((g) => g.aliases)).toEqual([
      ['master'],
      ['node001', 'node002'],
      ['node003', 'node004', 'node005'],
    ]);
  });

  it('makes workers spot when SPOT_BID is set, the master only with FORCE_SPOT_MASTER', () => {
    const spot = nodeShapes(template({ spotBid: 0.05 }), clusterAliases(2));
    expect(spot[0]?.spotBid).toBeUndefined();
    expect(spot[1]?.spotBid).toBe(0.05);
    const forced = nodeShapes(template({ spotBid: 0.05, forceSpotMaster: true }), clusterAliases(2));
    expect(forced[0]?.spotBid).toBe(0.05);
    expect(launchGroups(forced)).toHaveLength(2);
  });
});
