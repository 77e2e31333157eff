import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { renderRunResult } from '../jobs/index.js';
import { type DemoResult, runDemo } from '../jobs/demo.js';

export default class Demo extends BaseCommand<typeof Demo> {
  static override summary = 'Start a local cluster, run the built-in jobs on it, terminate it (npm start).';
  static override description =
    'Starts a cluster from the `local` template (processes on this machine: no cloud, no cost), runs ' +
    'jobs/pi.ts and jobs/star-periods.ts on its engines (star periods on ../shared/data/s82-rrlyrae when ' +
    'present, else on synthetic light curves), prints their headline results and where the figures are, ' +
    'and terminates the cluster.';
  static override examples = ['<%= config.bin %> demo', '<%= config.bin %> demo --out /tmp/figures --json'];
  static override flags = {
    name: Flags.string({ description: 'name of the demo cluster', default: 'demo' }),
    out: Flags.string({ char: 'o', description: 'folder for the figures (default: ./starcluster-out)' }),
    data: Flags.string({ description: 'Stripe 82 light curves for the star-period job' }),
    samples: Flags.integer({ description: 'samples for the pi job (default: the job’s own)', min: 1 }),
    stars: Flags.integer({ description: 'at most this many stars', min: 1 }),
  };

  async run(): Promise<DemoResult> {
    const result = await runDemo({
      io: this.io,
      signal: this.signal,
      name: this.flags.name,
      ...(this.flags.config ? { configPath: this.flags.config } : {}),
      ...(this.flags.out ? { outDir: this.flags.out } : {}),
      ...(this.flags.data ? { dataDir: this.flags.data } : {}),
      ...(this.flags.samples ? { piSamples: this.flags.samples } : {}),
      ...(this.flags.stars ? { starLimit: this.flags.stars } : {}),
    });
    this.io.log('');
    for (const job of result.jobs) this.io.log(renderRunResult(job) + '\n');
    this.io.log(
      `cluster ${result.cluster} (${result.nodes} nodes) ${result.terminated ? 'terminated' : 'still running'}`,
    );
    return result;
  }
}
