import { describe, expect, it } from 'vitest';
import job, { splitSamples, type PiTask, type PiTaskResult } from '../../../jobs/pi.js';
import type { TaskOutcome } from '../../../src/jobs/define.js';
import { AbortError } from '../../../src/errors.js';
import { convergenceCheckpoints, countInside, countInsideAt } from '../../../src/science/pi.js';

/** Runs the job the way the runner does (tasks → run on "engines" round-robin → reduce), in process. */
async function runLocally(raw: Record<string, unknown>, engines: number) {
  const params = job.params.parse(raw);
  const tasks = await job.tasks(params, { engines });
  const outcomes: TaskOutcome<PiTaskResult>[] = [];
  for (const [index, task] of tasks.entries()) {
    const engine = index % engines;
    const started = Date.now();
    const value = await job.run(task, { engine, index });
    outcomes.push({ index, engine, value, started, completed: Date.now() });
  }
  return { params, tasks, summary: await job.reduce(outcomes, params, { engines }) };
}

describe('jobs/pi.ts', () => {
  it('splits samples into near-equal whole shares', () => {
    expect(splitSamples(10, 4)).toEqual([3, 3, 2, 2]);
    expect(splitSamples(1e10, 8).every((n) => n === 1.25e9)).toBe(true);
  });

  it('defaults: 1e9 samples, four tasks per engine, each its own stream; accepts 1e10', async () => {
    const params = job.params.parse({});
    expect(params.samples).toBe(1e9);
    const tasks: PiTask[] = await job.tasks(params, { engines: 2 });
    expect(tasks.map((t) => t.stream)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(tasks.reduce((n, t) => n + t.samples, 0)).toBe(1e9);
    expect(job.params.parse({ samples: 1e10 }).samples).toBe(1e10);
    expect(() => job.params.parse({ samples: 0.5 })).toThrow(/whole number/);
  });

  it('reduces exact counts into the summary, per engine and with the chi-square test', async () => {
    const { tasks, summary } = await runLocally({ samples: 2_000_003, seed: 5, tasks: 6 }, 3);
    expect(tasks).toHaveLength(6);
    const expectedInside = tasks.reduce((n, t) => n + countInside(t.samples, { seed: 5, id: t.stream }), 0);
    expect(summary.samples).toBe(2_000_003);
    expect(summary.inside).toBe(expectedInside);
    expect(summary.pi).toBe((4 * expectedInside) / 2_000_003);
    expect(summary.perEngine.map((e) => e.engine)).toEqual([0, 1, 2]);
    expect(summary.perEngine.reduce((n, e) => n + e.samples, 0)).toBe(2_000_003);
    expect(summary.chiSquare.dof).toBe(5);
    expect(summary.chiSquare.pValue).toBeGreaterThan(0);
    expect(Math.abs(summary.pi - Math.PI)).toBeLessThan(6 * summary.stderr);
    // task 0's checkpoints (1e3 … 2e5), then one point per task
    expect(summary.convergence[0]!.samples).toBe(1000);
    expect(summary.convergence.at(-1)!.samples).toBe(2_000_003);
  });

  it('is reproducible for a seed whatever engine runs each task', async () => {
    const a = await runLocally({ samples: 100_000, seed: 9, tasks: 4 }, 1);
    const b = await runLocally({ samples: 100_000, seed: 9, tasks: 4 }, 4);
    expect(b.summary.inside).toBe(a.summary.inside);
  });

  it('plots the estimate per engine and the convergence curve', async () => {
    const { summary, params } = await runLocally({ samples: 400_000, seed: 1, tasks: 4 }, 2);
    const figures = await job.plot!(summary, params);
    expect(figures.map((f) => f.name)).toEqual(['pi-per-engine', 'pi-convergence']);
    for (const f of figures) {
      expect(f.svg).toContain('<svg');
      expect(Array.from(f.png.subarray(1, 4))).toEqual([0x50, 0x4e, 0x47]); // "PNG"
    }
  });

  it("task 0 reports its stream's prefix counts, the same as a one-pass count", async () => {
    const task: PiTask = { seed: 3, stream: 0, samples: 300_001, checkpoints: true };
    const result = await job.run(task, { engine: 0, index: 0 });
    expect(result.checkpoints).toEqual(countInsideAt(convergenceCheckpoints(300_001), { seed: 3, id: 0 }));
    expect(result.inside).toBe(countInside(300_001, { seed: 3, id: 0 }));
  });

  it('stops a cancelled task with an AbortError', async () => {
    const controller = new AbortController();
    controller.abort();
    const task: PiTask = { seed: 3, stream: 1, samples: 1e9, checkpoints: false };
    await expect(job.run(task, { engine: 0, index: 1, signal: controller.signal })).rejects.toBeInstanceOf(AbortError);
  });
});
