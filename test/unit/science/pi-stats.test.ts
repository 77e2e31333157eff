import { describe, expect, it } from 'vitest';
import {
  chiSquareHomogeneity,
  chiSquareSurvival,
  exactSum,
  logGamma,
  piStandardError,
  regularizedGammaP,
  regularizedGammaQ,
  summarisePi,
} from '../../../src/science/pi-stats.js';

const close = (actual: number, expected: number, rel: number): void => {
  expect(Math.abs(actual - expected), `${actual} vs ${expected}`).toBeLessThanOrEqual(rel * Math.abs(expected));
};

describe('special functions (reference values from scipy 1.17.1)', () => {
  it('logGamma', () => {
    // scipy.special.gammaln(x)
    const table: [number, number][] = [
      [0.1, 2.252712651734206],
      [0.5, 0.5723649429247],
      [1.5, -0.12078223763524526],
      [3, 0.6931471805599453],
      [10.3, 13.482036786138359],
      [100, 359.1342053695754],
      [1e4, 82099.71749644238],
    ];
    for (const [x, v] of table) close(logGamma(x), v, 1e-13);
    expect(Math.abs(logGamma(1))).toBeLessThan(1e-15);
  });

  it('regularized incomplete gamma P and Q', () => {
    // [a, x, scipy.special.gammainc(a, x), scipy.special.gammaincc(a, x)]
    const table: [number, number, number, number][] = [
      [0.5, 0.1, 0.34527915398142317, 0.6547208460185768],
      [0.5, 2, 0.9544997361036415, 0.04550026389635857],
      [1, 1, 0.6321205588285577, 0.36787944117144245],
      [3, 2.5, 0.45618688411667035, 0.5438131158833297],
      [10, 5, 0.03182805730620481, 0.9681719426937951],
      [10, 15, 0.9301463393005901, 0.06985366069940986],
      [50, 40, 0.07033506665939494, 0.9296649333406051],
      [100, 100, 0.5132987982791487, 0.48670120172085135],
      [500, 450, 0.01071723809128973, 0.9892827619087102],
      [2.5, 30, 0.9999999999878454, 1.2154569777183007e-11],
      [1000, 1100, 0.9989406767460701, 0.0010593232539299773],
      [0.1, 0.001, 0.526768568392445, 0.473231431607555],
      [7.5, 7.5, 0.5485827887742752, 0.4514172112257256],
      [20, 3, 8.314423588191718e-11, 0.9999999999168557],
    ];
    for (const [a, x, p, q] of table) {
      close(regularizedGammaP(a, x), p, 1e-10);
      close(regularizedGammaQ(a, x), q, 1e-10);
    }
    expect(regularizedGammaQ(3, 0)).toBe(1);
    expect(regularizedGammaP(3, Infinity)).toBe(1);
    expect(() => regularizedGammaQ(0, 1)).toThrow(/a = 0/);
    expect(() => regularizedGammaQ(1, -1)).toThrow(/x = -1/);
  });

  it('chi-square survival function', () => {
    // [statistic, dof, scipy.stats.chi2.sf(statistic, dof)]
    const table: [number, number, number][] = [
      [3.841458820694124, 1, 0.04999999999999989],
      [7, 7, 0.42887985755305486],
      [30, 10, 0.000856641210775301],
      [100, 80, 0.064570368921133],
      [1000, 999, 0.48513148927490146],
      [60, 31, 0.0013497859785251331],
      [0.5, 3, 0.9188914116546758],
      [200, 127, 3.82824834623649e-5],
    ];
    for (const [s, dof, p] of table) close(chiSquareSurvival(s, dof), p, 1e-9);
  });
});

describe('chi-square homogeneity', () => {
  it('matches scipy.stats.chi2_contingency (no continuity correction)', () => {
    // chi2_contingency([[780, 800, 760, 1590], [220, 200, 240, 410]], correction=False)
    const t = chiSquareHomogeneity([
      { samples: 1000, inside: 780 },
      { samples: 1000, inside: 800 },
      { samples: 1000, inside: 760 },
      { samples: 2000, inside: 1590 },
    ]);
    close(t.statistic, 6.361323155216285, 1e-12);
    expect(t.dof).toBe(3);
    close(t.pValue, 0.09529497884467719, 1e-9);
  });

  it('rejects tasks that disagree', () => {
    const t = chiSquareHomogeneity([
      { samples: 100_000, inside: 78_540 },
      { samples: 100_000, inside: 79_540 },
    ]);
    expect(t.pValue).toBeLessThan(1e-6);
  });

  it('has nothing to test with one group or none', () => {
    expect(chiSquareHomogeneity([{ samples: 10, inside: 7 }])).toEqual({ statistic: 0, dof: 0, pValue: 1 });
    expect(chiSquareHomogeneity([])).toEqual({ statistic: 0, dof: 0, pValue: 1 });
  });
});

describe('summarisePi', () => {
  const tasks = [
    { index: 2, engine: 1, samples: 3_000_000_000, inside: 2_356_194_000 },
    {
      index: 0,
      engine: 0,
      samples: 3_000_000_000,
      inside: 2_356_196_000,
      checkpoints: [{ samples: 1000, inside: 790 }],
    },
    { index: 1, engine: 1, samples: 3_000_000_001, inside: 2_356_193_000 },
  ];

  it('sums counts exactly beyond 2^32 and reports pi, stderr and sigmas', () => {
    const s = summarisePi(tasks);
    expect(s.samples).toBe(9_000_000_001);
    expect(s.inside).toBe(7_068_583_000);
    expect(s.pi).toBe((4 * 7_068_583_000) / 9_000_000_001);
    const p = 7_068_583_000 / 9_000_000_001;
    close(s.stderr, 4 * Math.sqrt((p * (1 - p)) / 9_000_000_001), 1e-15);
    close(s.sigmas, (s.pi - Math.PI) / s.stderr, 1e-12);
    expect(s.tasks).toBe(3);
  });

  it('groups per engine', () => {
    expect(summarisePi(tasks).perEngine).toEqual([
      { engine: 0, samples: 3_000_000_000, inside: 2_356_196_000, pi: (4 * 2_356_196_000) / 3_000_000_000 },
      { engine: 1, samples: 6_000_000_001, inside: 4_712_387_000, pi: (4 * 4_712_387_000) / 6_000_000_001 },
    ]);
  });

  it('builds the convergence curve: task 0 checkpoints, then cumulative in task order', () => {
    expect(summarisePi(tasks).convergence.map((c) => c.samples)).toEqual([
      1000, 3_000_000_000, 6_000_000_001, 9_000_000_001,
    ]);
    expect(summarisePi(tasks).convergence[0]!.pi).toBe(3.16);
  });

  it('refuses totals that a double cannot hold exactly', () => {
    expect(() => exactSum([Number.MAX_SAFE_INTEGER, 1])).toThrow(/exceeds 2\^53/);
    expect(() => exactSum([1.5])).toThrow(/count 1.5/);
  });

  it('standard error is 4·sqrt(p(1−p)/n)', () => {
    close(piStandardError(785_398, 1_000_000), 4 * Math.sqrt((0.785398 * 0.214602) / 1e6), 1e-15);
    expect(piStandardError(0, 0)).toBeNaN();
  });
});
