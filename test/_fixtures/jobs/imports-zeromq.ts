import { Dealer } from 'zeromq';
import { z } from 'zod';
import { defineJob } from '../../../src/jobs/define.js';

/** Test job that breaks the rule: jobs must not import zeromq. */
export default defineJob({
  name: 'bad-zeromq',
  params: z.object({}),
  tasks: () => [1],
  run: () => typeof Dealer,
  reduce: (o) => o.length,
});
