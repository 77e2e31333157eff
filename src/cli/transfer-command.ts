import { Args, Flags } from '@oclif/core';
import { UsageError } from '../errors.js';
import { findNode, getFiles, openRunningCluster, putFiles, type TransferResult } from '../setup/access.js';
import { BaseCommand } from './base-command.js';

/** The words that differ between `put` and `get`; everything else they share. */
const DIRECTIONS = {
  put: { copy: putFiles, sources: 'local', destination: 'remote', preposition: 'to' },
  get: { copy: getFiles, sources: 'remote', destination: 'local', preposition: 'from' },
} as const;

/** `cluster` then the paths: the sources, the destination last (`REMOTE... LOCAL` or `LOCAL... REMOTE`). */
export function transferArgs(paths: string) {
  return {
    cluster: Args.string({ required: true, description: 'cluster name' }),
    paths: Args.string({ required: true, description: paths }),
  };
}

/**
 * The base of `put` and `get`: the same flags, argument handling, library call and output; a
 * subclass names its direction and its help text.
 */
export abstract class TransferCommand extends BaseCommand<typeof TransferCommand> {
  static override strict = false;
  static override args = transferArgs('SOURCE... DESTINATION');
  static override flags = {
    node: Flags.string({
      char: 'n',
      description: 'node alias, number or instance id (default: master)',
      default: 'master',
    }),
    user: Flags.string({ char: 'u', description: 'copy as this user', default: 'root' }),
  };

  protected abstract readonly direction: keyof typeof DIRECTIONS;

  async run(): Promise<TransferResult> {
    const words = DIRECTIONS[this.direction];
    // Parsed from the statics by name: oclif copies an options object's own fields only, and these
    // are inherited from this class.
    const { argv } = await this.parse({
      flags: this.ctor.flags,
      baseFlags: BaseCommand.baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    });
    const paths = argv.slice(1).map(String);
    if (paths.length < 2)
      throw new UsageError(
        'MissingPaths',
        `${this.direction} needs at least one ${words.sources} path and a ${words.destination} destination`,
      );
    const ctx = await openRunningCluster({
      name: this.args.cluster,
      io: this.io,
      ...(this.flags.config ? { configPath: this.flags.config } : {}),
    });
    const result = await words.copy({
      ctx,
      node: findNode(ctx, this.flags.node),
      user: this.flags.user,
      sources: paths.slice(0, -1),
      destination: paths.at(-1)!,
      io: this.io,
      signal: this.signal,
    });
    this.io.log(`${result.bytes} bytes ${words.preposition} ${result.node}`);
    return result;
  }
}
