import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { createProvider } from '../cloud/index.js';
import type { InstanceInfo } from '../cloud/account.js';
import { listInstances, renderInstances } from '../cluster/list.js';
import { loadConfigOrEmpty } from '../cluster/session.js';

export default class ListInstances extends BaseCommand<typeof ListInstances> {
  static override summary = 'List every instance in the region.';
  static override aliases = ['lsi'];
  static override examples = ['<%= config.bin %> listinstances', '<%= config.bin %> lsi -t --json'];
  static override flags = {
    'show-terminated': Flags.boolean({ char: 't', description: 'include terminated instances' }),
  };

  async run(): Promise<InstanceInfo[]> {
    const config = await loadConfigOrEmpty(this.flags.config);
    const provider = await createProvider(undefined, config, {
      kind: 'ec2',
      ...(this.flags.region ? { region: this.flags.region } : {}),
    });
    const instances = await listInstances({ config, provider, includeTerminated: this.flags['show-terminated'] });
    this.io.log(renderInstances(instances));
    return instances;
  }
}
