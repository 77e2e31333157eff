import { Args } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { openAccount } from '../cluster/session.js';

export default class ShowConsole extends BaseCommand<typeof ShowConsole> {
  static override summary = 'Print an instance’s console output.';
  static override aliases = ['sc'];
  static override examples = ['<%= config.bin %> showconsole i-0123456789abcdef0'];
  static override args = { instance: Args.string({ required: true, description: 'instance id' }) };

  async run(): Promise<{ instanceId: string; output: string }> {
    const account = await openAccount(this.flags.config, this.flags.region);
    const result = await account.showConsole(this.args.instance);
    this.io.log(result.output || '(no console output yet)');
    return result;
  }
}
