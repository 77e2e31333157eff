import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import job, {
  gridFor,
  recoveryOf,
  type StarPeriodsParams,
  type StarPeriodsTaskResult,
} from '../../../jobs/star-periods.js';
import type { TaskOutcome } from '../../../src/jobs/define.js';
import { pngSize } from '../../../src/plots/index.js';
import { gridSize } from '../../../src/science/lombscargle.js';

const S82 = join(process.cwd(), '..', 'shared', 'data', 's82-rrlyrae');
const LINEAR_FIXTURE = join(process.cwd(), 'test', '_fixtures', 'lightcurves', 'linear');

/** Runs the job in this process: tasks → run (each task as an engine would) → reduce. */
async function runLocally(raw: Record<string, unknown>, engines = 2) {
  const params = job.params.parse(raw);
  const tasks = await job.tasks(params, { engines });
  const outcomes: TaskOutcome<StarPeriodsTaskResult>[] = [];
  for (const [index, task] of tasks.entries()) {
    const value = await job.run(task, { engine: index % engines, index });
    outcomes.push({ index, engine: index % engines, value, started: 0, completed: 0 });
  }
  return { params, tasks, summary: await job.reduce(outcomes, params, { engines }) };
}

describe('star-periods params', () => {
  it('defaults to synthetic data, the g band, the auto grid', () => {
    const p: StarPeriodsParams = job.params.parse({});
    expect(p).toMatchObject({ band: 'g', grid: 'auto', seed: 1, nterms: 4, errorFloor: 0.03 });
    expect(p.data).toBeUndefined();
  });

  it('rejects unknown bands and an empty period range', () => {
    expect(job.params.safeParse({ band: 'y' }).success).toBe(false);
    expect(job.params.safeParse({ minPeriod: 1, maxPeriod: 0.5 }).success).toBe(false);
    expect(job.params.safeParse({ format: 'kepler' }).success).toBe(false);
  });
});

describe('star-periods on synthetic stars (the default)', () => {
  it('batches light curves as Float64Arrays, recovers the known periods, and draws four figures', async () => {
    const { tasks, summary, params } = await runLocally({ limit: 6, seed: 3 });
    expect(tasks).toHaveLength(6); // ~four tasks per engine: one star each here
    expect(tasks[0]!.stars[0]!.bands.L!.t).toBeInstanceOf(Float64Array);
    expect(summary.stars).toHaveLength(6);
    expect(summary.skipped).toEqual([]);
    expect(summary.recovery).toBe(1);
    for (const s of summary.stars) {
      expect(Math.abs(s.period - s.publishedPeriod!)).toBeLessThan(0.01);
      expect(s.power).toBeGreaterThan(0);
      expect(s.power).toBeLessThanOrEqual(1);
      expect(s.period2).not.toBeCloseTo(s.period, 2);
      expect(s.nObs).toBeGreaterThan(40);
      expect(s.meanMag).toBeGreaterThan(12);
      expect(s.meanErr).toBeGreaterThan(0);
      expect(s.gr).toBeDefined();
    }
    const figures = await job.plot!(summary, params);
    expect(figures.map((f) => f.name)).toEqual(['periods', 'lightcurve', 'periodogram', 'phased']);
    expect(figures[0]!.title).toBe('Computed Periods of 6 Stars');
    expect(figures[3]!.title).toContain(summary.stars[0]!.id);
    for (const f of figures) expect(pngSize(f.png).width).toBeGreaterThan(400);
  });

  it('is reproducible for a seed', async () => {
    const a = await runLocally({ limit: 2, seed: 11 });
    const b = await runLocally({ limit: 2, seed: 11 });
    expect(a.summary).toEqual(b.summary);
  });
});

describe('star-periods on LINEAR-format files', () => {
  it('reports the unreadable star and goes on with the others', async () => {
    const { summary } = await runLocally({ data: LINEAR_FIXTURE, format: 'linear', minPeriod: 0.2, maxPeriod: 1.2 });
    expect(summary.stars.map((s) => s.id)).toEqual(['10003298', '10004892']);
    expect(summary.skipped).toEqual([expect.objectContaining({ id: '10013411', line: 3 })]);
    expect(summary.stars[0]!.gr).toBe(0.21);
  });
});

describe.skipIf(!existsSync(S82))('star-periods on Stripe 82', () => {
  it('sends only the chosen band and reports recovery against table2', async () => {
    const { tasks, summary } = await runLocally({ data: S82, format: 's82', limit: 4 }, 1);
    expect(Object.keys(tasks[0]!.stars[0]!.bands)).toEqual(['g']);
    const multi = await runLocally({ data: S82, format: 's82', band: 'multi', limit: 1 }, 1);
    expect(Object.keys(multi.tasks[0]!.stars[0]!.bands).sort()).toEqual(['g', 'i', 'r', 'u', 'z']);
    expect(summary.stars).toHaveLength(4);
    expect(summary.recovery).toBeDefined();
    expect(summary.stars[0]!.publishedPeriod).toBeCloseTo(0.547987422171, 12);
  });
});

describe('helpers', () => {
  it('the seed grid is 10,000 periods; the auto grid spans the period range at 5 points per peak', () => {
    const t = new Float64Array([0, 100, 1000]);
    expect(gridSize(gridFor([{ t, y: t, dy: t }], 'seed', 0.2, 1.2))).toBe(10_000);
    const g = gridFor([{ t, y: t, dy: t }], 'auto', 0.2, 1.2);
    expect(g).toMatchObject({ kind: 'regular', f0: 1 / 1.2, df: 1 / 5000 });
    expect(gridSize(g)).toBe(1 + Math.round((5 - 1 / 1.2) * 5000));
  });

  it('recovery counts stars within 0.01 d of the published period', () => {
    const star = (period: number, publishedPeriod?: number) => ({
      id: 'x',
      period,
      power: 1,
      period2: 1,
      meanMag: 1,
      meanErr: 1,
      nObs: 1,
      ...(publishedPeriod === undefined ? {} : { publishedPeriod }),
    });
    expect(recoveryOf([star(0.5, 0.505), star(0.5, 0.52), star(0.3)])).toBe(0.5);
    expect(recoveryOf([star(0.3)])).toBeUndefined();
  });
});
