import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { resizeCluster, type ResizeResult } from '../cluster/resize.js';
import { renderNodeChange } from '../cluster/render.js';
import { loadConfigOrEmpty } from '../cluster/session.js';

export default class Resize extends BaseCommand<typeof Resize> {
  static override summary = 'Grow or shrink a cluster to SIZE nodes (master included).';
  static override examples = ['<%= config.bin %> resize mycluster 8', '<%= config.bin %> resize mycluster 2 -c'];
  static override args = {
    name: Args.string({ required: true, description: 'cluster name' }),
    size: Args.integer({ required: true, description: 'nodes wanted, master included', min: 1 }),
  };
  static override flags = {
    confirm: Flags.boolean({
      char: 'c',
      description: 'do not ask before removing nodes (or, on a terminal, before launching them)',
    }),
    force: Flags.boolean({
      char: 'f',
      description: 'when removing: requeue the jobs running on those nodes instead of waiting; ignore hook failures',
    }),
  };

  protected override assumeYes(): boolean {
    return Boolean(this.flags.confirm);
  }

  async run(): Promise<ResizeResult> {
    const result = await resizeCluster({
      name: this.args.name,
      size: this.args.size,
      config: await loadConfigOrEmpty(this.flags.config),
      confirm: this.flags.confirm,
      // Growing on a terminal: say what the new nodes cost and ask, as addnode does.
      ask: !this.flags.confirm && this.io.interactive && Boolean(process.stdin.isTTY),
      force: this.flags.force,
      io: this.io,
      signal: this.signal,
    });
    this.io.log(renderNodeChange(result));
    return result;
  }
}
