import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import type { RemoveImageResult } from '../cloud/account.js';
import { openAccount } from '../cluster/session.js';

export default class RemoveImage extends BaseCommand<typeof RemoveImage> {
  static override summary = 'Deregister an AMI you own and delete its snapshots.';
  static override description =
    'StarCluster also deleted an instance-store AMI’s files in S3; EBS AMIs keep their data in snapshots, ' +
    'which are deleted unless -k.';
  static override aliases = ['ri'];
  static override examples = [
    '<%= config.bin %> removeimage ami-0123456789abcdef0 -c',
    '<%= config.bin %> ri ami-0123 -p',
  ];
  static override args = { image: Args.string({ required: true, description: 'AMI id' }) };
  static override flags = {
    pretend: Flags.boolean({ char: 'p', description: 'only say what would be removed' }),
    confirm: Flags.boolean({ char: 'c', description: 'do not ask for confirmation' }),
    'keep-image-data': Flags.boolean({ char: 'k', description: 'deregister only; keep the snapshots' }),
  };

  protected override assumeYes(): boolean {
    return Boolean(this.flags.confirm);
  }

  async run(): Promise<RemoveImageResult> {
    const account = await openAccount(this.flags.config, this.flags.region);
    const r = await account.removeImage({
      imageId: this.args.image,
      pretend: this.flags.pretend,
      keepImageData: this.flags['keep-image-data'],
      confirm: this.flags.confirm,
      io: this.io,
    });
    const snaps = r.snapshotIds.length ? ` and snapshot(s) ${r.snapshotIds.join(', ')}` : '';
    if (r.pretend) this.io.log(`Would deregister ${r.imageId} (${r.name})${snaps}.`);
    else if (r.declined) this.io.log(`${r.imageId} was not removed.`);
    else this.io.log(`Deregistered ${r.imageId} (${r.name})${snaps ? `; deleted${snaps.slice(4)}` : ''}.`);
    return r;
  }
}
