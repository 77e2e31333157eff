import { BaseCommand } from '../cli/base-command.js';
import { table } from '../cluster/summary.js';
import { openAccount } from '../cluster/session.js';

export default class ListRegions extends BaseCommand<typeof ListRegions> {
  static override summary = 'List EC2 regions.';
  static override aliases = ['lr'];
  static override examples = ['<%= config.bin %> listregions'];

  async run(): Promise<{ name: string; endpoint?: string }[]> {
    const account = await openAccount(this.flags.config, this.flags.region);
    const regions = await account.listRegions();
    this.io.log(
      table(
        ['region', 'endpoint'],
        regions.map((r) => [r.name, r.endpoint ?? '-']),
      ),
    );
    return regions;
  }
}
