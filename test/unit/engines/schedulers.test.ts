import { describe, expect, it } from 'vitest';
import {
  leastload,
  lru,
  LruLoads,
  plainrandom,
  SCHEME_FUNCTIONS,
  twobin,
  weighted,
} from '../../../src/engines/controller/schedulers.js';

/** A random source that returns the given draws in order. */
const draws = (...xs: number[]) => {
  let i = 0;
  return () => {
    const x = xs[i++];
    if (x === undefined) throw new Error('ran out of draws');
    return x;
  };
};

describe('schedulers (ipyparallel task_scheduler.py rules)', () => {
  it('lru always picks index 0, whatever the loads', () => {
    expect(lru([5, 0, 0])).toBe(0);
    expect(lru([0])).toBe(0);
  });

  it('plainrandom is randint(0, n-1)', () => {
    expect(plainrandom([0, 0, 0, 0], draws(0))).toBe(0);
    expect(plainrandom([0, 0, 0, 0], draws(0.5))).toBe(2);
    expect(plainrandom([0, 0, 0, 0], draws(0.999))).toBe(3);
  });

  it('twobin draws two indices and takes the smaller (less recently used)', () => {
    expect(twobin([9, 9, 9, 9], draws(0.9, 0.3))).toBe(1);
    expect(twobin([0, 0, 0, 0], draws(0.3, 0.9))).toBe(1);
    expect(twobin([0, 0, 0, 0], draws(0.8, 0.8))).toBe(3);
  });

  it('leastload picks the first minimum (LRU among the least loaded)', () => {
    expect(leastload([3, 1, 2, 1])).toBe(1);
    expect(leastload([0, 0, 0])).toBe(0);
    expect(leastload([4, 3, 2, 1, 0])).toBe(4);
  });

  it('weighted walks the cumulative inverse-load sum and keeps the lighter of two draws', () => {
    // loads [1, 0]: weights ≈ [1, 1e6]; sums ≈ [1, 1000001]; x = 0.0000001*t → idx 0; y = 0.5*t → idx 1
    expect(weighted([1, 0], draws(1e-7, 0.5))).toBe(1);
    // both draws land on 0 → 0
    expect(weighted([1, 0], draws(1e-7, 1e-7))).toBe(0);
    // equal weights: the first draw wins the tie
    expect(weighted([2, 2, 2], draws(0.9, 0.1))).toBe(2);
    // loads [0, 0, 5]: y lands on 2 but its weight is lower, so x (1) is kept
    expect(weighted([0, 0, 5], draws(0.6, 0.99999999999))).toBe(1);
  });

  it('every scheme is registered under its ipyparallel name', () => {
    expect(Object.keys(SCHEME_FUNCTIONS).sort()).toEqual(['leastload', 'lru', 'plainrandom', 'twobin', 'weighted']);
  });
});

describe('LruLoads (targets/loads bookkeeping)', () => {
  it('inserts new engines at the front and moves an assigned engine to the back', () => {
    const l = new LruLoads();
    l.add(0);
    l.add(1);
    l.add(2);
    expect(l.targets).toEqual([2, 1, 0]);
    l.assign(2);
    expect(l.targets).toEqual([1, 0, 2]);
    expect(l.loads).toEqual([0, 0, 1]);
    l.finish(2);
    expect(l.loads).toEqual([0, 0, 0]);
    expect(l.targets).toEqual([1, 0, 2]); // finishing does not reorder
  });

  it('lru over LruLoads round-robins; leastload prefers idle engines', () => {
    const l = new LruLoads();
    [0, 1, 2].forEach((e) => l.add(e));
    const order: number[] = [];
    for (let i = 0; i < 6; i++) {
      const e = l.pick(lru, () => true)!;
      l.assign(e);
      order.push(e);
    }
    expect(order).toEqual([2, 1, 0, 2, 1, 0]);
    l.finish(1);
    l.finish(1); // engine 1 now idle
    expect(l.pick(leastload, () => true)).toBe(1);
  });

  it('pick only considers accepted engines (hwm, targets, blacklist) and maps back to engine ids', () => {
    const l = new LruLoads();
    [0, 1, 2].forEach((e) => l.add(e));
    l.assign(2);
    // hwm 1: engine 2 is full; lru among [1, 0] is 1
    expect(l.pick(lru, (_e, load) => load < 1)).toBe(1);
    expect(l.pick(lru, (e) => e === 0)).toBe(0);
    expect(l.pick(lru, () => false)).toBeUndefined();
  });
});
