import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import type { SpotHistory } from '../cloud/account.js';
import { openAccount } from '../cluster/session.js';

export default class SpotHistoryCommand extends BaseCommand<typeof SpotHistoryCommand> {
  static override summary = 'Show current, average and maximum spot prices of an instance type.';
  static override aliases = ['shi'];
  static override examples = [
    '<%= config.bin %> spothistory c5.large',
    '<%= config.bin %> shi m5.large -z us-east-1a -d 7',
  ];
  static override args = { type: Args.string({ required: true, description: 'instance type' }) };
  static override flags = {
    zone: Flags.string({ char: 'z', description: 'availability zone' }),
    days: Flags.integer({ char: 'd', description: 'days of history (default 30)', min: 1 }),
    start: Flags.string({ char: 's', description: 'start (ISO 8601)', aliases: ['start-time'] }),
    end: Flags.string({ char: 'e', description: 'end (ISO 8601)', aliases: ['end-time'] }),
  };

  async run(): Promise<SpotHistory> {
    const f = this.flags;
    const account = await openAccount(f.config, f.region);
    const h = await account.spotHistory({
      instanceType: this.args.type,
      ...(f.zone ? { zone: f.zone } : {}),
      ...(f.days ? { days: f.days } : {}),
      ...(f.start ? { start: new Date(f.start) } : {}),
      ...(f.end ? { end: new Date(f.end) } : {}),
    });
    const usd = (v: number | undefined): string => (v === undefined ? '-' : `$${v.toFixed(4)}`);
    this.io.log(`Spot prices of ${h.instanceType}${h.zone ? ` in ${h.zone}` : ''} from ${h.start} to ${h.end}:`);
    this.io.log(
      `  current ${usd(h.current)}   average ${usd(h.average)}   max ${usd(h.max)}   (${h.points.length} points)`,
    );
    return h;
  }
}
