import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { addNodes, type ResizeResult } from '../cluster/resize.js';
import { renderNodeChange } from '../cluster/render.js';
import { loadConfigOrEmpty } from '../cluster/session.js';

export default class AddNode extends BaseCommand<typeof AddNode> {
  static override summary = 'Add nodes to a running cluster (next free aliases: node004...).';
  static override aliases = ['an'];
  static override examples = ['<%= config.bin %> addnode mycluster', '<%= config.bin %> an mycluster -n 3'];
  static override args = { name: Args.string({ required: true, description: 'cluster name' }) };
  static override flags = {
    num: Flags.integer({ char: 'n', description: 'how many nodes', min: 1, aliases: ['num-nodes'] }),
    alias: Flags.string({
      char: 'a',
      description: 'alias of a new node (repeatable, or comma list)',
      multiple: true,
      delimiter: ',',
    }),
    'image-id': Flags.string({
      char: 'i',
      description: 'AMI of the new nodes: an id, an alias (see `starcluster listpublic`) or resolve:ssm:NAME',
    }),
    'instance-type': Flags.string({ char: 'I', description: 'instance type of the new nodes' }),
    'availability-zone': Flags.string({ char: 'z', description: 'zone of the new nodes (default: the master’s)' }),
    bid: Flags.string({ char: 'b', description: 'spot bid (USD/hour)' }),
    yes: Flags.boolean({
      char: 'y',
      description: 'launch without showing the cost and asking first (it only asks on a terminal)',
    }),
  };

  async run(): Promise<ResizeResult> {
    const f = this.flags;
    const aliases = f.alias?.filter(Boolean);
    const result = await addNodes({
      name: this.args.name,
      config: await loadConfigOrEmpty(f.config),
      ...(f.num !== undefined ? { count: f.num } : {}),
      ...(aliases?.length ? { aliases } : {}),
      ...(f['image-id'] ? { imageId: f['image-id'] } : {}),
      ...(f['instance-type'] ? { instanceType: f['instance-type'] } : {}),
      ...(f['availability-zone'] ? { zone: f['availability-zone'] } : {}),
      ...(f.bid !== undefined ? { spotBid: Number(f.bid) } : {}),
      // On a terminal, say what the new nodes cost and ask; -y, --json and scripts never ask.
      ask: !f.yes && this.io.interactive && Boolean(process.stdin.isTTY),
      io: this.io,
      signal: this.signal,
    });
    if (result.declined)
      this.io.log(`Nothing was launched. \`starcluster addnode ${result.name} -y\` launches without asking.`);
    else this.io.log(renderNodeChange(result));
    return result;
  }
}
