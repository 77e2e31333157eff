import { BaseCommand } from '../cli/base-command.js';
import { table } from '../cluster/summary.js';
import { listKeyPairs, type KeyPairSummary } from '../cluster/resources.js';
import { openEc2 } from '../cluster/session.js';

export default class ListKeyPairs extends BaseCommand<typeof ListKeyPairs> {
  static override summary = 'List EC2 key pairs.';
  static override aliases = ['lk'];
  static override examples = ['<%= config.bin %> listkeypairs', '<%= config.bin %> lk --json'];

  async run(): Promise<KeyPairSummary[]> {
    const { provider } = await openEc2(this.flags.config, this.flags.region);
    const keys = await listKeyPairs({ provider });
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
