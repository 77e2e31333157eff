import { Args, Flags } from '@oclif/core';
import type { Provider } from '../cloud/provider.js';
import { probeQueue } from '../cluster/queue.js';
import { BaseCommand } from '../cli/base-command.js';
import { addSshStatus, listClusters, renderClusters, type ClusterInfo } from '../cluster/list.js';
import { loadConfigOrEmpty } from '../cluster/session.js';

export default class ListClusters extends BaseCommand<typeof ListClusters> {
  static override summary = 'List clusters, from tags: nodes with alias, state, type, IPs, uptime.';
  static override description =
    'Reads every cluster from the cloud tags alone, so it shows the same from any machine. With names, only those.';
  static override aliases = ['lc'];
  static override strict = false;
  static override examples = [
    '<%= config.bin %> listclusters',
    '<%= config.bin %> lc mycluster --json',
    '<%= config.bin %> lc -s mycluster',
  ];
  static override args = { name: Args.string({ description: 'cluster name(s) (default: all)' }) };
  static override flags = {
    'show-ssh-status': Flags.boolean({
      char: 's',
      description:
        "also show whether each node answers SSH, and each cluster's Slurm queue (up or down, jobs running and waiting)",
    }),
  };

  async run(): Promise<ClusterInfo[]> {
    const config = await loadConfigOrEmpty(this.flags.config);
    const { argv } = await this.parse(ListClusters);
    const clusters = await listClusters({
      config,
      names: argv.map(String),
      io: this.io,
      ...(this.flags.region ? { region: this.flags.region } : {}),
      ...(this.flags['show-ssh-status']
        ? {
            queue: (name: string, provider: Provider) =>
              probeQueue({
                name,
                provider,
                io: this.io,
                ...(this.flags.config ? { configPath: this.flags.config } : {}),
              }),
          }
        : {}),
    });
    if (this.flags['show-ssh-status'])
      await addSshStatus(clusters, { io: this.io, ...(this.flags.config ? { configPath: this.flags.config } : {}) });
    this.io.log(renderClusters(clusters));
    return clusters;
  }
}
