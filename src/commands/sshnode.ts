import { Args } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { findNode, openRunningCluster, type SshNodeResult } from '../setup/access.js';
import { runSsh, sshFlags } from '../cli/ssh-terminal.js';

export default class SshNode extends BaseCommand<typeof SshNode> {
  static override summary = 'SSH to a node of a cluster: a login shell, or run CMD and exit with its status.';
  static override description = 'NODE is an alias (node001), its number (1), or an instance id.';
  static override aliases = ['sn'];
  static override strict = false;
  static override examples = [
    '<%= config.bin %> sshnode mycluster node001',
    '<%= config.bin %> sn mycluster 1 -u sgeadmin',
    '<%= config.bin %> sn mycluster node002 uptime',
  ];
  static override args = {
    cluster: Args.string({ required: true, description: 'cluster name' }),
    node: Args.string({ required: true, description: 'node alias, number or instance id' }),
    command: Args.string({ description: 'command to run (default: a login shell)' }),
  };
  static override flags = sshFlags;

  async run(): Promise<SshNodeResult> {
    const { argv } = await this.parse(SshNode);
    const command = argv.slice(2).map(String).join(' ') || undefined;
    const ctx = await openRunningCluster({
      name: this.args.cluster,
      io: this.io,
      ...(this.flags.config ? { configPath: this.flags.config } : {}),
    });
    return runSsh(this.jsonEnabled(), this.flags, { ctx, node: findNode(ctx, this.args.node), command });
  }
}
