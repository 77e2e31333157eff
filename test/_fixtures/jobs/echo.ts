import { z } from 'zod';
import { defineJob } from '../../../src/jobs/define.js';

/**
 * Test job: each task prints `say` and returns it; with `fail` the task throws an error naming it.
 * The secrets test has it echo planted secrets, which must reach no output of the CLI.
 */
export default defineJob({
  name: 'echo',
  params: z.object({ say: z.string(), fail: z.boolean().default(false) }),
  tasks: (p) => [{ say: p.say, fail: p.fail }],
  run: (task) => {
    console.log(`echo: ${task.say}`);
    if (task.fail) throw new Error(`task failed on ${task.say}`);
    return task.say;
  },
  reduce: (outcomes) => ({ echoed: outcomes.map((o) => o.value) }),
});
