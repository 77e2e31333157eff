import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { UsageError } from '../errors.js';
import { findNode, getFiles, openCluster, type TransferResult } from '../setup/access.js';

export default class Get extends BaseCommand<typeof Get> {
  static override summary = 'Copy files or directory trees from the master (or -n NODE) to this machine.';
  static override description =
    'The last argument is the local destination; with several sources it must be a directory.';
  static override strict = false;
  static override examples = [
    '<%= config.bin %> get mycluster /home/sgeadmin/results ./results',
    '<%= config.bin %> get mycluster -n node002 /var/log/syslog .',
  ];
  static override args = {
    cluster: Args.string({ required: true, description: 'cluster name' }),
    paths: Args.string({ required: true, description: 'REMOTE... LOCAL' }),
  };
  static override flags = {
    node: Flags.string({
      char: 'n',
      description: 'node alias, number or instance id (default: master)',
      default: 'master',
    }),
    user: Flags.string({ char: 'u', description: 'copy as this user', default: 'root' }),
  };

  async run(): Promise<TransferResult> {
    const { argv } = await this.parse(Get);
    const paths = argv.slice(1).map(String);
    if (paths.length < 2)
      throw new UsageError('MissingPaths', 'get needs at least one remote path and a local destination');
    const ctx = await openCluster({
      name: this.args.cluster,
      io: this.io,
      ...(this.flags.config ? { configPath: this.flags.config } : {}),
    });
    const result = await getFiles({
      ctx,
      node: findNode(ctx, this.flags.node),
      user: this.flags.user,
      sources: paths.slice(0, -1),
      destination: paths.at(-1)!,
      io: this.io,
      signal: this.signal,
    });
    this.io.log(`${result.bytes} bytes from ${result.node}`);
    return result;
  }
}
