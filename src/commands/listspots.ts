import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { table } from '../cluster/summary.js';
import type { SpotRequestSummary } from '../cloud/account.js';
import { openAccount } from '../cluster/session.js';

export default class ListSpots extends BaseCommand<typeof ListSpots> {
  static override summary = 'List spot instance requests (open and active; -c for all).';
  static override aliases = ['ls'];
  static override examples = ['<%= config.bin %> listspots', '<%= config.bin %> ls -c --json'];
  static override flags = {
    'show-closed': Flags.boolean({ char: 'c', description: 'include closed and cancelled requests' }),
  };

  async run(): Promise<SpotRequestSummary[]> {
    const account = await openAccount(this.flags.config, this.flags.region);
    const spots = await account.listSpots({ showClosed: this.flags['show-closed'] });
    this.io.log(
      spots.length
        ? table(
            ['id', 'state', 'status', 'price', 'type', 'instance', 'cluster'],
            spots.map((s) => [
              s.id,
              s.state,
              s.status ?? '-',
              s.price ?? '-',
              s.instanceType ?? '-',
              s.instanceId ?? '-',
              s.cluster ?? '-',
            ]),
          )
        : 'No spot requests.',
    );
    return spots;
  }
}
