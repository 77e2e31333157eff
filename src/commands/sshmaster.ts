import { Args } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { runSsh, sshFlags } from '../cli/ssh-terminal.js';
import { findNode, openRunningCluster, type SshNodeResult } from '../setup/access.js';

export default class SshMaster extends BaseCommand<typeof SshMaster> {
  static override summary = "SSH to a cluster's master: a login shell, or run CMD and exit with its status.";
  static override description =
    'Host keys are pinned in ~/.starcluster/clusters/NAME/known_hosts on first contact; a changed key is refused.';
  static override aliases = ['sm'];
  static override strict = false;
  static override examples = [
    '<%= config.bin %> sshmaster mycluster',
    '<%= config.bin %> sm mycluster -u sgeadmin',
    "<%= config.bin %> sm mycluster 'ssh node001 hostname'",
  ];
  static override args = {
    cluster: Args.string({ required: true, description: 'cluster name' }),
    command: Args.string({ description: 'command to run (default: a login shell)' }),
  };
  static override flags = sshFlags;

  async run(): Promise<SshNodeResult> {
    const { argv } = await this.parse(SshMaster);
    const command = argv.slice(1).map(String).join(' ') || undefined;
    const ctx = await openRunningCluster({
      name: this.args.cluster,
      io: this.io,
      ...(this.flags.config ? { configPath: this.flags.config } : {}),
    });
    return runSsh(this.jsonEnabled(), this.flags, { ctx, node: findNode(ctx, 'master'), command });
  }
}
