import { describe, expect, it } from 'vitest';
import { onDemandPrice, priceQuote } from '../../../src/cloud/ec2/prices.js';
import {
  costSoFar,
  costSoFarText,
  costText,
  estimateCost,
  latestSpotPrice,
  onDemand,
  spotSpend,
} from '../../../src/cluster/cost.js';
import type { SpotPricePoint } from '../../../src/cloud/provider.js';

describe('the built-in on-demand price table', () => {
  it('prices the families people use, Graviton included, at us-east-1 list prices', () => {
    expect(onDemandPrice('m5.large')).toBe(0.096);
    expect(onDemandPrice('t3.micro')).toBe(0.0104);
    expect(onDemandPrice('c5.4xlarge')).toBe(0.68);
    // Graviton 2, 3 and 4, burstable to memory-optimised.
    expect(onDemandPrice('t4g.micro')).toBe(0.0084);
    expect(onDemandPrice('t4g.nano')).toBe(0.0042);
    expect(onDemandPrice('c7g.large')).toBe(0.0725);
    expect(onDemandPrice('c7g.16xlarge')).toBe(2.32);
    expect(onDemandPrice('m7g.medium')).toBe(0.0408);
    expect(onDemandPrice('m7g.xlarge')).toBe(0.1632);
    expect(onDemandPrice('r7g.2xlarge')).toBe(0.4284);
    expect(onDemandPrice('c6g.xlarge')).toBe(0.136);
    expect(onDemandPrice('m8g.large')).toBe(0.08976);
    // StarCluster-era and GPU types are exact entries.
    expect(onDemandPrice('c1.xlarge')).toBe(0.52);
    expect(onDemandPrice('g4dn.xlarge')).toBe(0.526);
  });

  it('prices the regions people use by their factor over us-east-1', () => {
    expect(onDemandPrice('m5.large', 'us-west-2')).toBe(0.096);
    expect(onDemandPrice('m5.large', 'eu-west-1')).toBeCloseTo(0.107, 3);
    expect(onDemandPrice('m5.large', 'eu-central-1')).toBeCloseTo(0.115, 3);
    expect(onDemandPrice('m5.large', 'ap-northeast-1')).toBeCloseTo(0.124, 3);
    expect(onDemandPrice('c7g.large', 'eu-west-1')).toBeGreaterThan(onDemandPrice('c7g.large') ?? Infinity);
  });

  it('says "no price" where it has none, rather than nothing or a guess', () => {
    expect(priceQuote('z9.imaginary')).toEqual({ noPrice: 'no price for z9.imaginary in the built-in table' });
    expect(priceQuote('m5.metal')).toEqual({ noPrice: 'no price for m5.metal in the built-in table' });
    expect(priceQuote('m5.large', 'me-central-1')).toEqual({
      noPrice: 'no price for region me-central-1 in the built-in table',
    });
    expect(onDemandPrice('z9.imaginary')).toBeUndefined();
  });
});

describe('cost estimates from a provider', () => {
  const ec2ish = { priceQuote: (t: string) => priceQuote(t, 'us-east-1') };

  it('sums priced instances and names what has no price', async () => {
    const c = await estimateCost(ec2ish, onDemand('m5.large', 'm5.large', 'z9.imaginary'));
    expect(c).toEqual({
      hourlyCostUsd: 0.192,
      unpricedTypes: ['z9.imaginary'],
      noPrice: ['no price for z9.imaginary in the built-in table'],
    });
    expect(costText(c)).toBe(
      '$0.1920/hour on-demand (estimate from a built-in price table; no price for z9.imaginary in the built-in table)',
    );
    expect(costText(await estimateCost(ec2ish, onDemand('z9.imaginary')))).toBe(
      'no price (no price for z9.imaginary in the built-in table)',
    );
  });

  it('costs running nodes by their time since launch; stopped nodes and priceless providers cost nothing', async () => {
    const nodes = [
      { state: 'running', instanceType: 'c7g.large', uptimeSeconds: 7200 },
      { state: 'running', instanceType: 't4g.micro', uptimeSeconds: 1800 },
      { state: 'stopped', instanceType: 'm5.large', uptimeSeconds: 99999 },
    ];
    const c = await costSoFar(ec2ish, nodes);
    expect(c?.costSoFarUsd).toBeCloseTo(0.0725 * 2 + 0.0084 * 0.5, 4);
    expect(c?.hourlyCostUsd).toBeCloseTo(0.0809, 4);
    expect(await costSoFar({}, nodes)).toBeUndefined();
  });

  const at = (iso: string) => new Date(`2026-12-05T${iso}:00Z`);
  const history: SpotPricePoint[] = [
    { zone: 'us-east-1a', time: at('08:00'), usdPerHour: 0.04 },
    { zone: 'us-east-1a', time: at('10:00'), usdPerHour: 0.03 },
    { zone: 'us-east-1b', time: at('09:00'), usdPerHour: 0.05 },
  ];

  it('spot: the latest price in the zone, else the highest zone; spend follows the price as it moved', () => {
    expect(latestSpotPrice(history, 'us-east-1a')).toEqual({ usd: 0.03, zone: 'us-east-1a' });
    expect(latestSpotPrice(history)).toEqual({ usd: 0.05, zone: 'us-east-1b' });
    expect(latestSpotPrice(history, 'us-east-1c')).toBeUndefined();
    // 09:00–10:00 at 0.04 (the price in effect at launch), 10:00–11:30 at 0.03.
    expect(spotSpend(history, 'us-east-1a', at('09:00'), at('11:30'))).toBeCloseTo(0.04 + 1.5 * 0.03, 10);
  });

  it('prices spot nodes from the spot price history, capped by the bid; without one, at most the bid', async () => {
    const asked: { type: string; zone?: string }[] = [];
    const spotty = {
      ...ec2ish,
      spotPriceHistory: (type: string, o: { since: Date; zone?: string }) => {
        asked.push({ type, ...(o.zone ? { zone: o.zone } : {}) });
        return Promise.resolve(type === 'm5.large' ? history : []);
      },
    };
    const c = await estimateCost(spotty, [
      { instanceType: 'm5.large', spot: { zone: 'us-east-1a', bid: 0.5 } },
      { instanceType: 'm5.large', spot: { zone: 'us-east-1a', bid: 0.5 } },
      { instanceType: 'm5.large', spot: { bid: 0.045 } },
      { instanceType: 'c5.large', spot: { bid: 0.2 } },
      { instanceType: 'm5.large' },
    ]);
    expect(c.hourlyCostUsd).toBeCloseTo(0.03 * 2 + 0.045 + 0.2 + 0.096, 4);
    expect(c.spotBasis).toEqual([
      '2 × m5.large spot $0.0300/hour at the latest spot price in us-east-1a (DescribeSpotPriceHistory)',
      "1 × m5.large spot $0.0450/hour at the bid $0.045/hour, under the latest spot price in us-east-1b, the highest of the region's zones (DescribeSpotPriceHistory)",
      '1 × c5.large spot $0.2000/hour at most the bid $0.2/hour (no spot price history for c5.large)',
    ]);
    expect(costText(c)).toMatch(
      /^\$0\.4010\/hour \(estimate: on-demand nodes from a built-in price table; spot: 2 × m5\.large/,
    );
    // One question per type and zone.
    expect(asked).toHaveLength(3);
  });

  it("costs a spot node's time so far at the prices in effect, and says so", async () => {
    const spotty = { ...ec2ish, spotPriceHistory: () => Promise.resolve(history) };
    const c = await costSoFar(
      spotty,
      [
        { state: 'running', instanceType: 'm5.large', zone: 'us-east-1a', spotRequestId: 'sir-1', uptimeSeconds: 9000 },
        { state: 'running', instanceType: 'm5.large', zone: 'us-east-1a', uptimeSeconds: 3600 },
      ],
      at('11:30'),
    );
    expect(c?.costSoFarUsd).toBeCloseTo(0.04 + 1.5 * 0.03 + 0.096, 4);
    expect(c?.hourlyCostUsd).toBeCloseTo(0.03 + 0.096, 4);
    expect(costSoFarText(c!)).toMatch(
      /^\$0\.1810 so far, \$0\.1260\/hour now \(estimate: .*spot: 1 × m5\.large spot \$0\.0300/,
    );
  });
});
