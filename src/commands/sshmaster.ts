import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { terminalSession } from '../cli/ssh-terminal.js';
import { findNode, openCluster, sshNode, type SshNodeResult } from '../setup/access.js';

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
  static override flags = { user: Flags.string({ char: 'u', description: 'log in as this user', default: 'root' }) };

  async run(): Promise<SshNodeResult> {
    const { argv } = await this.parse(SshMaster);
    const command = argv.slice(1).map(String).join(' ') || undefined;
    const ctx = await openCluster({
      name: this.args.cluster,
      io: this.io,
      ...(this.flags.config ? { configPath: this.flags.config } : {}),
    });
    return runSsh(this.jsonEnabled(), { ctx, node: findNode(ctx, 'master'), user: this.flags.user, command });
  }
}

/** Shared by sshmaster/sshnode/sshinstance: a TTY session, or the command's output and status. */
export async function runSsh(json: boolean, opts: Omit<Parameters<typeof sshNode>[0], 'tty'>): Promise<SshNodeResult> {
  const terminal = !opts.command && !json ? terminalSession() : undefined;
  let result: SshNodeResult;
  try {
    result = await sshNode({ ...opts, ...(terminal ? { tty: terminal.io } : {}) });
  } finally {
    terminal?.restore();
  }
  if (!terminal && !json) {
    if (result.stdout) process.stdout.write(result.stdout);
    if (result.stderr) process.stderr.write(result.stderr);
  }
  // The remote status becomes ours (as ssh does); no error message: the command said what it had to.
  process.exitCode = result.code;
  return result;
}
