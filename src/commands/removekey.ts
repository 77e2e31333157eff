import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { openAccount } from '../cluster/session.js';

export default class RemoveKey extends BaseCommand<typeof RemoveKey> {
  static override summary = 'Delete an EC2 key pair.';
  static override aliases = ['rk'];
  static override examples = ['<%= config.bin %> removekey mykey -c'];
  static override args = { name: Args.string({ required: true, description: 'key pair name' }) };
  static override flags = { confirm: Flags.boolean({ char: 'c', description: 'do not ask for confirmation' }) };

  protected override assumeYes(): boolean {
    return Boolean(this.flags.confirm);
  }

  async run(): Promise<{ name: string; removed: boolean }> {
    const account = await openAccount(this.flags.config, this.flags.region);
    if (!this.flags.confirm && !(await this.io.requestConfirm(`Delete key pair ${this.args.name}?`, false)))
      return { name: this.args.name, removed: false };
    const result = await account.removeKey(this.args.name);
    this.io.log(`Key pair ${result.name} deleted.`);
    return result;
  }
}
