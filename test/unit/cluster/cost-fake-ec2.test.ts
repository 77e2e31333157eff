import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listClusters } from '../../../src/cluster/list.js';
import { FakeCluster } from './_fake-cluster.js';

/**
 * What clusters cost, on the fake EC2: spot nodes at the spot price where they run (the fake's
 * DescribeSpotPriceHistory: c5.large $0.034/hour in us-east-1a, 5% more per zone after it, and
 * × 1.1, × 1.2 one and two hours ago), on-demand nodes from the built-in table (c5.large $0.085,
 * t3.micro $0.0104), and addnode's cost and question.
 */
let c: FakeCluster;
beforeEach(async () => {
  c = await FakeCluster.create();
});
afterEach(async () => {
  await c.dispose();
});

const SPOT_A = 0.034;
const C5 = 0.085;

describe('spot nodes cost the spot price, not on-demand', () => {
  it("start's plan prices spot nodes at the latest spot price of their zone, or the highest zone's", async () => {
    const inB = await c.start(
      'pb',
      {
        clusterSize: 3,
        nodeInstanceType: 'c5.large',
        masterInstanceType: 'c5.large',
        spotBid: 0.5,
        availabilityZone: 'us-east-1b',
      },
      { mode: 'plan' },
    );
    // The master on demand, two spot nodes at us-east-1b's price (5% over 1a's).
    expect(inB.plan.hourlyCostUsd).toBeCloseTo(C5 + 2 * SPOT_A * 1.05, 4);
    expect(inB.plan.spotBasis).toEqual([
      '2 × c5.large spot $0.0357/hour at the latest spot price in us-east-1b (DescribeSpotPriceHistory)',
    ]);
    // No zone pinned: EC2 may place them anywhere, so the dearest zone (us-east-1d, 15% over 1a).
    const anywhere = await c.start(
      'pn',
      { clusterSize: 2, nodeInstanceType: 'c5.large', masterInstanceType: 'c5.large', spotBid: 0.5 },
      { mode: 'plan' },
    );
    expect(anywhere.plan.hourlyCostUsd).toBeCloseTo(C5 + SPOT_A * 1.15, 4);
    expect(anywhere.plan.spotBasis?.[0]).toContain("in us-east-1d, the highest of the region's zones");
    // A bid under the market caps the estimate (the node would not run above it).
    const low = await c.start(
      'pl',
      {
        clusterSize: 2,
        nodeInstanceType: 'c5.large',
        masterInstanceType: 'c5.large',
        spotBid: 0.02,
        availabilityZone: 'us-east-1a',
      },
      { mode: 'plan' },
    );
    expect(low.plan.hourlyCostUsd).toBeCloseTo(C5 + 0.02, 4);
    expect(low.plan.spotBasis?.[0]).toContain('at the bid $0.02/hour, under the latest spot price in us-east-1a');
    expect(c.fake.faults.count('DescribeSpotPriceHistory')).toBe(3);
    expect(c.fake.faults.count('RunInstances')).toBe(0);
  });

  it("listclusters' cost so far follows the spot price since each spot node's launch", async () => {
    await c.start('ls', {
      clusterSize: 3,
      nodeInstanceType: 'c5.large',
      masterInstanceType: 'c5.large',
      spotBid: 0.5,
      availabilityZone: 'us-east-1a',
    });
    const now = new Date();
    // Launched 90 minutes ago: the spot nodes paid × 1.2 for 30 minutes, then × 1.1 for an hour.
    for (const i of c.fake.liveInstances('ls')) i.launchTime = new Date(now.getTime() - 90 * 60_000);
    const [info] = await listClusters({ providers: [c.provider], now });
    expect(info?.cost?.costSoFarUsd).toBeCloseTo(1.5 * C5 + 2 * (0.5 * 1.2 + 1 * 1.1) * SPOT_A, 3);
    expect(info?.cost?.hourlyCostUsd).toBeCloseTo(C5 + 2 * SPOT_A, 4);
    expect(info?.cost?.spotBasis).toEqual([
      '2 × c5.large spot $0.0340/hour at the latest spot price in us-east-1a (DescribeSpotPriceHistory)',
    ]);
  });
});

describe('addnode shows what the new nodes cost', () => {
  it('says the added and total hourly cost, and on a terminal a no launches nothing', async () => {
    await c.start('an', { clusterSize: 3 });
    const launches = c.fake.faults.count('RunInstances');
    const declined = await c.addNodes('an', { count: 2, ask: true });
    expect(declined.declined).toBe(true);
    expect(c.fake.faults.count('RunInstances')).toBe(launches);
    expect(c.io.messages.find((m) => m.code === 'SC_ADDNODE_I0001')?.message).toBe(
      'Adding 2 × t3.micro to cluster an: $0.0208/hour on-demand (estimate from a built-in price table) more; ' +
        'the cluster then costs about $0.0520/hour',
    );
    expect(c.io.questions).toEqual(['Launch 2 instances for cluster an for about $0.0208/hour more?']);

    const spot = await c.addNodes('an', { count: 1, instanceType: 'c5.large', spotBid: 0.5 });
    expect(spot.added.map((n) => n.alias)).toEqual(['node003']);
    // In the master's zone (EC2's pick for t3.micro: us-east-1a), at its spot price.
    expect(spot.cost?.hourlyCostUsd).toBeCloseTo(SPOT_A, 4);
    expect(spot.cost?.clusterHourlyCostUsd).toBeCloseTo(3 * 0.0104 + SPOT_A, 4);
  });
});
