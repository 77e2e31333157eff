import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { table } from '../cluster/summary.js';
import { openAccount } from '../cluster/session.js';

export default class ListZones extends BaseCommand<typeof ListZones> {
  static override summary = 'List the availability zones of a region.';
  static override aliases = ['lz'];
  static override examples = ['<%= config.bin %> listzones', '<%= config.bin %> lz -r eu-west-1'];
  static override flags = { 'zone-region': Flags.string({ char: 'r', description: 'region (same as --region)' }) };

  async run(): Promise<{ name: string; state: string; region: string }[]> {
    const account = await openAccount(this.flags.config, this.flags['zone-region'] ?? this.flags.region);
    const zones = await account.listZones();
    this.io.log(
      table(
        ['zone', 'state', 'region'],
        zones.map((z) => [z.name, z.state, z.region]),
      ),
    );
    return zones;
  }
}
