import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { refuseVolumeHostFlags, volumeHostFlags } from '../cli/volume-host-flags.js';
import { DEFAULT_MKFS, type VolumeSummary } from '../cloud/account.js';
import { openAccount } from '../cluster/session.js';

export default class CreateVolume extends BaseCommand<typeof CreateVolume> {
  static override summary = 'Create an EBS volume; it is formatted when a cluster first mounts it.';
  static override description =
    'StarCluster launched a host instance to attach and format the new volume. Here the volume is tagged ' +
    `starcluster:mkfs=MKFS_CMD (default ${DEFAULT_MKFS}) and formatted by the cluster that first mounts it while ` +
    'it is blank, so no instance is started. The volume-host flags (-k -H -d -s -i -I -b) are kept for ' +
    'StarCluster scripts and refused (exit 2).';
  static override aliases = ['cv'];
  static override examples = [
    '<%= config.bin %> createvolume 50 us-east-1a -n data',
    '<%= config.bin %> cv 100 us-east-1a -n scratch -m "mkfs.xfs -f"',
  ];
  static override args = {
    size: Args.integer({ required: true, description: 'size in GiB', min: 1 }),
    zone: Args.string({ required: true, description: 'availability zone' }),
  };
  static override flags = {
    name: Flags.string({ char: 'n', description: 'Name tag' }),
    tag: Flags.string({ char: 't', description: 'tag as key=value (repeatable)', multiple: true }),
    'mkfs-cmd': Flags.string({
      char: 'm',
      description: `command that formats the volume on first mount (default: ${DEFAULT_MKFS})`,
    }),
    'snapshot-id': Flags.string({ description: 'create from this snapshot (keeps its filesystem)' }),
    bid: Flags.string({ char: 'b', description: 'spot bid for the volume host (refused: no volume host here)' }),
    ...volumeHostFlags,
  };

  async run(): Promise<VolumeSummary> {
    const f = this.flags;
    refuseVolumeHostFlags('createvolume', f, ['bid']);
    const account = await openAccount(f.config, f.region);
    const tags = Object.fromEntries((f.tag ?? []).map((t) => [t.split('=')[0] ?? t, t.split('=').slice(1).join('=')]));
    const v = await account.createVolume({
      sizeGb: this.args.size,
      zone: this.args.zone,
      tags,
      ...(f.name ? { name: f.name } : {}),
      ...(f['snapshot-id'] ? { snapshotId: f['snapshot-id'] } : {}),
      ...(f['mkfs-cmd'] ? { mkfsCmd: f['mkfs-cmd'] } : {}),
    });
    this.io.log(
      `Created volume ${v.id} (${v.sizeGb} GiB in ${v.zone})` +
        (v.tags['starcluster:mkfs']
          ? `; a cluster formats it with ${v.tags['starcluster:mkfs']} when it first mounts it.`
          : '.'),
    );
    return v;
  }
}
