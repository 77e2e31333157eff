import { Args } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import type { ImageSummary } from '../cloud/account.js';
import { openAccount } from '../cluster/session.js';

export default class ShowImage extends BaseCommand<typeof ShowImage> {
  static override summary = 'Show an AMI’s details.';
  static override aliases = ['shimg'];
  static override examples = ['<%= config.bin %> showimage ami-12345678'];
  static override args = { image: Args.string({ required: true, description: 'AMI id' }) };

  async run(): Promise<ImageSummary> {
    const account = await openAccount(this.flags.config, this.flags.region);
    const image = await account.showImage(this.args.image);
    for (const [k, v] of Object.entries(image)) this.io.log(`${k}: ${String(v)}`);
    return image;
  }
}
