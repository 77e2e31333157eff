import { BaseCommand } from '../cli/base-command.js';
import { table } from '../cluster/summary.js';
import type { KeyPairSummary } from '../cloud/account.js';
import { openAccount } from '../cluster/session.js';

export default class ListKeyPairs extends BaseCommand<typeof ListKeyPairs> {
  static override summary = 'List EC2 key pairs.';
  static override aliases = ['lk'];
  static override examples = ['<%= config.bin %> listkeypairs', '<%= config.bin %> lk --json'];

  async run(): Promise<KeyPairSummary[]> {
    const account = await openAccount(this.flags.config, this.flags.region);
    const keys = await account.listKeyPairs();
    this.io.log(
      keys.length
        ? table(
            ['name', 'fingerprint'],
            keys.map((k) => [k.name, k.fingerprint]),
          )
        : 'No key pairs.',
    );
    return keys;
  }
}
