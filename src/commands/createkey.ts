import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import type { KeyPairSummary } from '../cloud/account.js';
import { openAccount } from '../cluster/session.js';

export default class CreateKey extends BaseCommand<typeof CreateKey> {
  static override summary = 'Create an EC2 key pair and save its private key (mode 0600), or import a public key.';
  static override aliases = ['ck'];
  static override examples = [
    '<%= config.bin %> createkey mykey -o ~/.ssh/mykey.rsa',
    '<%= config.bin %> createkey mykey -i ~/.ssh/id_rsa.pub',
  ];
  static override args = { name: Args.string({ required: true, description: 'key pair name' }) };
  static override flags = {
    'output-file': Flags.string({ char: 'o', description: 'file for the private key (must not exist)' }),
    'import-key': Flags.string({
      char: 'i',
      description: 'import this public key file instead',
      exclusive: ['output-file'],
    }),
  };

  async run(): Promise<KeyPairSummary & { file?: string; imported: boolean }> {
    const account = await openAccount(this.flags.config, this.flags.region);
    const result = await account.createKey({
      name: this.args.name,
      ...(this.flags['output-file'] ? { outputFile: this.flags['output-file'] } : {}),
      ...(this.flags['import-key'] ? { importPublicKeyFile: this.flags['import-key'] } : {}),
      io: this.io,
    });
    this.io.log(
      `${result.imported ? 'Imported' : 'Created'} key pair ${result.name} (fingerprint ${result.fingerprint})` +
        (result.file ? `; private key saved to ${result.file}` : ''),
    );
    return result;
  }
}
