import { Args } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { submitJob, type SubmitResult } from '../cluster/queue.js';

export default class Qsub extends BaseCommand<typeof Qsub> {
  static override summary = "Submit a batch script from this machine to a cluster's Slurm queue; prints the job id.";
  static override description =
    "Copies SCRIPT into the cluster user's ~/jobs on the master (shared with every node) and runs sbatch there. " +
    'Options after -- go to sbatch (e.g. -- --array=1-20 -N 2). Follow it with `starcluster sshmaster NAME squeue`.';
  static override strict = false;
  static override examples = [
    '<%= config.bin %> qsub mycluster job.sh',
    '<%= config.bin %> qsub mycluster job.sh -- --array=1-20 --output=out-%a.txt',
  ];
  static override args = {
    name: Args.string({ required: true, description: 'cluster name' }),
    script: Args.file({ required: true, exists: true, description: 'batch script (#SBATCH lines are read by sbatch)' }),
  };

  async run(): Promise<SubmitResult> {
    const { argv } = await this.parse(Qsub);
    const result = await submitJob({
      name: this.args.name,
      script: this.args.script,
      sbatchArgs: argv.slice(2).map(String),
      ...(this.flags.config ? { configPath: this.flags.config } : {}),
      io: this.io,
      signal: this.signal,
    });
    this.io.log(`Submitted batch job ${result.jobId} (${result.remotePath} on ${result.node})`);
    return result;
  }
}
