import { describe, expect, it } from 'vitest';
import { onDemandPrice, priceQuote } from '../../../src/cloud/ec2/prices.js';
import { costSoFar, costText, estimateCost } from '../../../src/cluster/cost.js';

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

  it('sums priced instances and names what has no price', () => {
    const c = estimateCost(ec2ish, ['m5.large', 'm5.large', 'z9.imaginary']);
    expect(c).toEqual({
      hourlyCostUsd: 0.192,
      unpricedTypes: ['z9.imaginary'],
      noPrice: ['no price for z9.imaginary in the built-in table'],
    });
    expect(costText(c)).toBe(
      '$0.1920/hour on-demand (estimate from a built-in price table; no price for z9.imaginary in the built-in table)',
    );
    expect(costText(estimateCost(ec2ish, ['z9.imaginary']))).toBe(
      'no price (no price for z9.imaginary in the built-in table)',
    );
  });

  it('costs running nodes by their time since launch; stopped nodes and priceless providers cost nothing', () => {
    const nodes = [
      { state: 'running', instanceType: 'c7g.large', uptimeSeconds: 7200 },
      { state: 'running', instanceType: 't4g.micro', uptimeSeconds: 1800 },
      { state: 'stopped', instanceType: 'm5.large', uptimeSeconds: 99999 },
    ];
    const c = costSoFar(ec2ish, nodes);
    expect(c?.costSoFarUsd).toBeCloseTo(0.0725 * 2 + 0.0084 * 0.5, 4);
    expect(c?.hourlyCostUsd).toBeCloseTo(0.0809, 4);
    expect(costSoFar({}, nodes)).toBeUndefined();
  });
});
