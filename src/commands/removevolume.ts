import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { openAccount } from '../cluster/session.js';

export default class RemoveVolume extends BaseCommand<typeof RemoveVolume> {
  static override summary = 'Delete EBS volumes (refuses volumes that are attached or in use).';
  static override aliases = ['rv'];
  static override strict = false;
  static override examples = ['<%= config.bin %> removevolume vol-123 -c'];
  static override args = { volume: Args.string({ required: true, description: 'volume id(s)' }) };
  static override flags = { confirm: Flags.boolean({ char: 'c', description: 'do not ask for confirmation' }) };

  protected override assumeYes(): boolean {
    return Boolean(this.flags.confirm);
  }

  async run(): Promise<{ removed: string[] }> {
    const { argv } = await this.parse(RemoveVolume);
    const ids = argv.map(String);
    const account = await openAccount(this.flags.config, this.flags.region);
    if (!this.flags.confirm && !(await this.io.requestConfirm(`Delete volume(s) ${ids.join(', ')}?`, false)))
      return { removed: [] };
    const result = await account.removeVolumes(ids);
    this.io.log(`Deleted ${result.removed.join(', ')}.`);
    return result;
  }
}
