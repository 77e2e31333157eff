import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { refuseVolumeHostFlags, volumeHostFlags } from '../cli/volume-host-flags.js';
import { DEFAULT_RESIZEFS, type ResizeVolumeResult } from '../cloud/account.js';
import { openAccount } from '../cluster/session.js';

export default class ResizeVolume extends BaseCommand<typeof ResizeVolume> {
  static override summary = 'Make a bigger copy of an EBS volume (the original is kept).';
  static override description =
    'Snapshots VOLUME, creates a new volume of SIZE GiB from the snapshot (in -z ZONE, default the same zone), ' +
    `then deletes the snapshot, as StarCluster did. The new volume is tagged starcluster:resizefs=CMD (default ${DEFAULT_RESIZEFS}): ` +
    'the cluster that next mounts it grows its filesystem, where StarCluster ran resize2fs on a volume host. ' +
    'Point [volume] VOLUME_ID at the new id. The volume-host flags (-k -H -d -s -i -I) are refused (exit 2).';
  static override aliases = ['res'];
  static override examples = ['<%= config.bin %> resizevolume vol-0123456789abcdef0 100'];
  static override args = {
    volume: Args.string({ required: true, description: 'volume id' }),
    size: Args.integer({ required: true, description: 'new size in GiB', min: 1 }),
  };
  static override flags = {
    zone: Flags.string({ char: 'z', description: 'make the new volume in this zone (same region)' }),
    'resizefs-cmd': Flags.string({
      char: 'r',
      description: `command that grows the filesystem on the next mount (default: ${DEFAULT_RESIZEFS})`,
    }),
    ...volumeHostFlags,
  };

  async run(): Promise<ResizeVolumeResult> {
    const f = this.flags;
    refuseVolumeHostFlags('resizevolume', f);
    const account = await openAccount(f.config, f.region);
    const r = await account.resizeVolume({
      volumeId: this.args.volume,
      sizeGb: this.args.size,
      ...(f.zone ? { zone: f.zone } : {}),
      ...(f['resizefs-cmd'] ? { resizefsCmd: f['resizefs-cmd'] } : {}),
      io: this.io,
      signal: this.signal,
    });
    this.io.log(
      `New volume ${r.volume.id} (${r.volume.sizeGb} GiB in ${r.volume.zone}) made from ${r.from}, which is kept; ` +
        'point VOLUME_ID at the new id.',
    );
    return r;
  }
}
