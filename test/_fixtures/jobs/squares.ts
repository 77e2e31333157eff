import { Resvg } from '@resvg/resvg-js';
import { z } from 'zod';
import { defineJob } from '../../../src/jobs/define.js';

/**
 * Test job: the sum of i² for i in [0, n), split into `chunks` ranges. Exact (integers below
 * 2^53 for n ≤ 200,000). `failAt` makes the task with that index throw; `sleepMs` slows each task
 * (for tests that kill an engine mid-job); `say` makes each task print a line. Its plot imports @resvg/resvg-js, a native addon, which
 * the engine bundle must stub out.
 */
export default defineJob({
  name: 'squares',
  params: z.object({
    n: z.number().int().positive().max(200_000).default(10_000),
    chunks: z.number().int().nonnegative().default(0),
    failAt: z.number().int().default(-1),
    sleepMs: z.number().nonnegative().default(0),
    label: z.enum(['plain', 'fancy']).default('plain'),
    say: z.boolean().default(false),
  }),
  tasks: (p, ctx) => {
    const count = p.chunks || ctx.engines * 4;
    const size = Math.ceil(p.n / count);
    const out: { index: number; from: number; to: number; failAt: number; sleepMs: number; say?: boolean }[] = [];
    for (let i = 0; i < count; i++) {
      out.push({ index: i, from: Math.min(p.n, i * size), to: Math.min(p.n, (i + 1) * size), failAt: p.failAt, sleepMs: p.sleepMs, ...(p.say ? { say: true } : {}) });
    }
    return out;
  },
  run: async (task, ctx) => {
    if (task.index === task.failAt) throw new Error(`task ${task.index} was told to fail`);
    if (task.say) console.log(`chunk ${task.index}: ${task.from}..${task.to}`);
    if (task.sleepMs) await new Promise((r) => setTimeout(r, task.sleepMs));
    let sum = 0;
    for (let i = task.from; i < task.to; i++) sum += i * i;
    return { sum, count: task.to - task.from, pid: process.pid, engine: ctx.engine };
  },
  reduce: (outcomes, p) => {
    const sum = outcomes.reduce((s, o) => s + o.value.sum, 0);
    const count = outcomes.reduce((s, o) => s + o.value.count, 0);
    const engines = [...new Set(outcomes.map((o) => o.engine))].sort((a, b) => a - b);
    const expected = ((p.n - 1) * p.n * (2 * p.n - 1)) / 6;
    return { sum, count, expected, exact: sum === expected, tasks: outcomes.length, engines, label: p.label };
  },
  plot: (summary) => {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><rect width="120" height="40" fill="white"/><text x="4" y="24" font-size="12">${summary.tasks} tasks</text></svg>`;
    const png = new Resvg(svg).render().asPng();
    return [{ name: 'squares', title: 'Sum of squares', svg, png }];
  },
});
