import { Args } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { openInstance, type SshNodeResult } from '../setup/access.js';
import { runSsh, sshFlags } from '../cli/ssh-terminal.js';

export default class SshInstance extends BaseCommand<typeof SshInstance> {
  static override summary = 'SSH to any instance by id: a login shell, or run CMD and exit with its status.';
  static override description = "The key is the [key] section named like the instance's key pair.";
  static override aliases = ['si'];
  static override strict = false;
  static override examples = [
    '<%= config.bin %> sshinstance i-0123456789abcdef0',
    '<%= config.bin %> si i-0123456789abcdef0 df -h',
  ];
  static override args = {
    instance: Args.string({ required: true, description: 'instance id' }),
    command: Args.string({ description: 'command to run (default: a login shell)' }),
  };
  static override flags = sshFlags;

  async run(): Promise<SshNodeResult> {
    const { argv } = await this.parse(SshInstance);
    const command = argv.slice(1).map(String).join(' ') || undefined;
    const { ctx, node } = await openInstance({
      instanceId: this.args.instance,
      io: this.io,
      ...(this.flags.config ? { configPath: this.flags.config } : {}),
    });
    return runSsh(this.jsonEnabled(), this.flags, { ctx, node, command });
  }
}
