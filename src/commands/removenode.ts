import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { removeNodes, type ResizeResult } from '../cluster/resize.js';
import { renderNodeChange } from '../cluster/render.js';
import { loadConfigOrEmpty } from '../cluster/session.js';

export default class RemoveNode extends BaseCommand<typeof RemoveNode> {
  static override summary = 'Remove worker nodes (default: the highest-numbered).';
  static override aliases = ['rn'];
  static override examples = [
    '<%= config.bin %> removenode mycluster -n 2',
    '<%= config.bin %> rn mycluster -a node003 -c',
  ];
  static override args = { name: Args.string({ required: true, description: 'cluster name' }) };
  static override flags = {
    num: Flags.integer({ char: 'n', description: 'how many nodes', min: 1, aliases: ['num-nodes'] }),
    alias: Flags.string({
      char: 'a',
      description: 'alias of a node to remove (repeatable, or comma list)',
      aliases: ['aliases'],
      multiple: true,
      delimiter: ',',
    }),
    keep: Flags.boolean({
      char: 'k',
      description: 'keep the instances running (only leave the cluster)',
      aliases: ['keep-instance'],
    }),
    confirm: Flags.boolean({ char: 'c', description: 'do not ask for confirmation' }),
    force: Flags.boolean({
      char: 'f',
      description: 'requeue the jobs running on the nodes instead of waiting for them; ignore hook failures',
    }),
  };

  protected override assumeYes(): boolean {
    return Boolean(this.flags.confirm);
  }

  async run(): Promise<ResizeResult> {
    const f = this.flags;
    const aliases = f.alias?.filter(Boolean);
    const result = await removeNodes({
      name: this.args.name,
      config: await loadConfigOrEmpty(f.config),
      ...(f.num !== undefined ? { count: f.num } : {}),
      ...(aliases?.length ? { aliases } : {}),
      keepInstances: f.keep,
      confirm: f.confirm,
      force: f.force,
      io: this.io,
      signal: this.signal,
    });
    this.io.log(renderNodeChange(result));
    return result;
  }
}
