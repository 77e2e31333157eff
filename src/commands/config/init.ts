import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { initConfig } from '../../config/index.js';
import type { ConfigInitResult } from '../../config/index.js';

export default class ConfigInit extends BaseCommand<typeof ConfigInit> {
  static override summary = 'Write a commented config file to start from.';
  static override description =
    'Writes the template (a `PROVIDER = local` cluster named "local", plus a commented EC2 example) to the ' +
    'config path: --config, else $STARCLUSTER_CONFIG, else ~/.starcluster/config. The folder is made 0700 and ' +
    'the file 0600. An existing file is kept unless --force.';
  static override examples = [
    '<%= config.bin %> config init',
    '<%= config.bin %> config init --config ./my.ini --force',
  ];
  static override flags = {
    force: Flags.boolean({ char: 'f', description: 'replace an existing config file' }),
  };

  async run(): Promise<ConfigInitResult> {
    const result = await initConfig({ path: this.flags.config, force: this.flags.force });
    this.io.log(`${result.overwritten ? 'replaced' : 'wrote'} ${result.path}`);
    this.io.log('next: `starcluster config validate`, then `starcluster start mycluster`');
    return result;
  }
}
