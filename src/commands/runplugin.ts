import { Args } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { openRunningCluster } from '../setup/access.js';
import { runPlugin } from '../setup/index.js';

export default class RunPlugin extends BaseCommand<typeof RunPlugin> {
  static override summary = 'Run one [plugin NAME] from the config on a running cluster.';
  static override description = "Calls the plugin's run hook on every node, as `start` does after setup.";
  static override aliases = ['rp'];
  static override examples = [
    '<%= config.bin %> runplugin pkginstaller mycluster',
    '<%= config.bin %> rp tmux mycluster',
  ];
  static override args = {
    plugin: Args.string({ required: true, description: 'plugin section name' }),
    cluster: Args.string({ required: true, description: 'cluster name' }),
  };

  async run(): Promise<{ plugin: string; cluster: string; nodes: number }> {
    const ctx = await openRunningCluster({
      name: this.args.cluster,
      io: this.io,
      ...(this.flags.config ? { configPath: this.flags.config } : {}),
    });
    await runPlugin(ctx, this.args.plugin, this.signal);
    this.io.log(`plugin ${this.args.plugin} ran on ${ctx.nodes.length} nodes of ${ctx.name}`);
    return { plugin: this.args.plugin, cluster: ctx.name, nodes: ctx.nodes.length };
  }
}
