import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { UsageError } from '../errors.js';
import { findNode, openCluster, putFiles, type TransferResult } from '../setup/access.js';

export default class Put extends BaseCommand<typeof Put> {
  static override summary = 'Copy files or directory trees to the master (or -n NODE).';
  static override description =
    'The last argument is the remote destination; with several sources it must be a directory.';
  static override strict = false;
  static override examples = [
    '<%= config.bin %> put mycluster data.csv /home/sgeadmin/',
    '<%= config.bin %> put mycluster -n node001 -u sgeadmin results/ /home/sgeadmin/results',
  ];
  static override args = {
    cluster: Args.string({ required: true, description: 'cluster name' }),
    paths: Args.string({ required: true, description: 'LOCAL... REMOTE' }),
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
    const { argv } = await this.parse(Put);
    const paths = argv.slice(1).map(String);
    if (paths.length < 2)
      throw new UsageError('MissingPaths', 'put needs at least one local path and a remote destination');
    const ctx = await openCluster({
      name: this.args.cluster,
      io: this.io,
      ...(this.flags.config ? { configPath: this.flags.config } : {}),
    });
    const result = await putFiles({
      ctx,
      node: findNode(ctx, this.flags.node),
      user: this.flags.user,
      sources: paths.slice(0, -1),
      destination: paths.at(-1)!,
      io: this.io,
      signal: this.signal,
    });
    this.io.log(`${result.bytes} bytes to ${result.node}`);
    return result;
  }
}
