import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { restartCluster, type LifecycleResult } from '../cluster/lifecycle.js';
import { loadConfigOrEmpty } from '../cluster/session.js';

export default class Restart extends BaseCommand<typeof Restart> {
  static override summary = 'Reboot every node of a cluster, then set it up and start the engines again.';
  static override aliases = ['reboot'];
  static override examples = ['<%= config.bin %> restart mycluster', '<%= config.bin %> reboot mycluster -o'];
  static override args = { name: Args.string({ required: true, description: 'cluster name' }) };
  static override flags = {
    'reboot-only': Flags.boolean({ char: 'o', description: 'reboot only, skip setup and engines' }),
  };

  async run(): Promise<LifecycleResult> {
    const result = await restartCluster({
      name: this.args.name,
      config: await loadConfigOrEmpty(this.flags.config),
      rebootOnly: this.flags['reboot-only'],
      io: this.io,
      signal: this.signal,
    });
    this.io.log(`Cluster ${result.name}: ${result.rebooted.length} node(s) rebooted.`);
    return result;
  }
}
