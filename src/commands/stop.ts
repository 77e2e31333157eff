import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { stopCluster, type LifecycleResult } from '../cluster/lifecycle.js';
import { loadConfigOrEmpty } from '../cluster/session.js';

export default class Stop extends BaseCommand<typeof Stop> {
  static override summary = 'Stop clusters’ EBS-backed nodes, keeping their disks (start resumes them).';
  static override examples = [
    '<%= config.bin %> stop mycluster',
    '<%= config.bin %> stop mycluster -c -t',
    '<%= config.bin %> stop a b -c -f',
  ];
  static override strict = false;
  static override args = { name: Args.string({ required: true, description: 'cluster name(s)' }) };
  static override flags = {
    confirm: Flags.boolean({ char: 'c', description: 'do not ask for confirmation' }),
    'terminate-unstoppable': Flags.boolean({ char: 't', description: 'terminate spot nodes, which cannot stop' }),
    force: Flags.boolean({
      char: 'f',
      description: 'stop regardless of errors: skip the engines and shutdown hooks (broken or unreachable nodes)',
    }),
  };

  protected override assumeYes(): boolean {
    return Boolean(this.flags.confirm);
  }

  async run(): Promise<LifecycleResult[]> {
    const config = await loadConfigOrEmpty(this.flags.config);
    const { argv } = await this.parse(Stop);
    const results: LifecycleResult[] = [];
    for (const name of argv.map(String)) {
      const result = await stopCluster({
        name,
        config,
        confirm: this.flags.confirm,
        terminateUnstoppable: this.flags['terminate-unstoppable'],
        skipHooks: this.flags.force,
        io: this.io,
        signal: this.signal,
      });
      results.push(result);
      this.io.log(
        result.declined
          ? `Cluster ${name} was not stopped.`
          : `Cluster ${name}: ${result.stopped.length} node(s) stopped; \`starcluster start -x ${name}\` resumes it.`,
      );
    }
    return results;
  }
}
