import { execFileSync } from 'node:child_process';
import { hostname } from 'node:os';
import { z } from 'zod';
import { defineJob } from '../../../src/jobs/define.js';

/** Test job: each task answers `id -un` and the host it ran on (who runs user jobs on a node). */
export default defineJob({
  name: 'whoami',
  params: z.object({ tasks: z.number().int().positive().default(8) }),
  tasks: (p) => Array.from({ length: p.tasks }, (_, i) => i),
  run: () => `${execFileSync('id', ['-un'], { encoding: 'utf8' }).trim()}@${hostname()}`,
  reduce: (outcomes) => outcomes.map((o) => o.value),
});
