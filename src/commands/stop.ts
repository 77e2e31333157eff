import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { stopCluster, type LifecycleResult } from '../cluster/lifecycle.js';
import { loadConfigOrEmpty } from '../cluster/session.js';

export default class Stop extends BaseCommand<typeof Stop> {
  static override summary = 'Stop a cluster’s EBS-backed nodes, keeping their disks (start resumes it).';
  static override examples = ['<%= config.bin %> stop mycluster', '<%= config.bin %> stop mycluster -c -t'];
  static override args = { name: Args.string({ required: true, description: 'cluster name' }) };
  static override flags = {
    confirm: Flags.boolean({ char: 'c', description: 'do not ask for confirmation' }),
    'terminate-unstoppable': Flags.boolean({ char: 't', description: 'terminate spot nodes, which cannot stop' }),
  };

  protected override assumeYes(): boolean {
    return Boolean(this.flags.confirm);
  }

  async run(): Promise<LifecycleResult> {
    const result = await stopCluster({
      name: this.args.name,
      config: await loadConfigOrEmpty(this.flags.config),
      confirm: this.flags.confirm,
      terminateUnstoppable: this.flags['terminate-unstoppable'],
      io: this.io,
      signal: this.signal,
    });
    if (!result.declined)
      this.io.log(
        `Cluster ${result.name}: ${result.stopped.length} node(s) stopped; \`starcluster start ${result.name}\` resumes it.`,
      );
    return result;
  }
}
