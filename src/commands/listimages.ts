import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { table } from '../cluster/summary.js';
import type { ImageSummary } from '../cloud/account.js';
import { openAccount } from '../cluster/session.js';

export default class ListImages extends BaseCommand<typeof ListImages> {
  static override summary = 'List your AMIs (with -x, also those shared with you).';
  static override aliases = ['li'];
  static override examples = ['<%= config.bin %> listimages', '<%= config.bin %> li -x --json'];
  static override flags = {
    'show-shared': Flags.boolean({
      char: 'x',
      description: 'include AMIs others share with you',
      aliases: ['executable-by-me'],
    }),
  };

  async run(): Promise<ImageSummary[]> {
    const account = await openAccount(this.flags.config, this.flags.region);
    const images = await account.listImages({ shared: this.flags['show-shared'] });
    this.io.log(
      images.length
        ? table(
            ['id', 'name', 'state', 'arch', 'root'],
            images.map((i) => [i.id, i.name, i.state, i.architecture ?? '-', i.rootDeviceType ?? '-']),
          )
        : 'No images.',
    );
    return images;
  }
}
