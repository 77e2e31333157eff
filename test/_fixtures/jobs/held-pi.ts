import { existsSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import pi, { type PiTask, type PiTaskResult } from '../../../jobs/pi.js';
import { defineJob } from '../../../src/jobs/define.js';

/**
 * Test job: jobs/pi.ts whose tasks cannot finish while a hold file exists. Each task first writes
 * `started-HOST` (its engine id) into `hold` — a folder on the cluster's shared filesystem — then
 * counts, then waits until `hold/hold` is gone. A test can so take a node down while its task is
 * certainly running, whatever the machine's speed, and let the run finish afterwards.
 */
const params = z.object({
  samples: z.number().int().positive().default(6e8),
  tasks: z.number().int().positive().default(6),
  hold: z.string().min(1),
});

type HeldTask = PiTask & { hold: string };
const SEED = 20260101;

export default defineJob({
  name: 'held-pi',
  params,
  tasks: async (p, ctx): Promise<HeldTask[]> =>
    (await pi.tasks({ samples: p.samples, seed: SEED, tasks: p.tasks }, ctx)).map((t) => ({ ...t, hold: p.hold })),
  run: async (task: HeldTask, ctx): Promise<PiTaskResult> => {
    writeFileSync(join(task.hold, `started-${hostname()}`), `${ctx.engine}\n`);
    const result = await pi.run(task, ctx);
    while (existsSync(join(task.hold, 'hold'))) {
      if (ctx.signal?.aborted) throw new Error('held-pi: cancelled while held');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return result;
  },
  reduce: (outcomes, p, ctx) => pi.reduce(outcomes, { samples: p.samples, seed: SEED, tasks: p.tasks }, ctx),
});
