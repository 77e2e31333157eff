import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { table } from '../cluster/summary.js';
import type { VolumeSummary } from '../cloud/account.js';
import { openAccount } from '../cluster/session.js';

export default class ListVolumes extends BaseCommand<typeof ListVolumes> {
  static override summary = 'List EBS volumes, with filters.';
  static override aliases = ['lv'];
  static override examples = [
    '<%= config.bin %> listvolumes',
    '<%= config.bin %> lv -z us-east-1a -S available --json',
  ];
  static override flags = {
    name: Flags.string({ char: 'n', description: 'Name tag' }),
    'show-deleted': Flags.boolean({ char: 'd', description: 'include volumes being deleted' }),
    'volume-id': Flags.string({ char: 'v', description: 'volume id' }),
    size: Flags.integer({ char: 's', description: 'size in GiB' }),
    status: Flags.string({ char: 'S', description: 'status (available, in-use, ...)' }),
    'attach-status': Flags.string({ char: 'a', description: 'attachment status' }),
    zone: Flags.string({ char: 'z', description: 'availability zone' }),
    'snapshot-id': Flags.string({ char: 'i', description: 'made from this snapshot' }),
    tag: Flags.string({ char: 't', description: 'tag as key=value (repeatable)', multiple: true }),
  };

  async run(): Promise<VolumeSummary[]> {
    const f = this.flags;
    const account = await openAccount(f.config, f.region);
    const volumes = await account.listVolumes({
      ...(f.name ? { name: f.name } : {}),
      showDeleted: f['show-deleted'],
      ...(f['volume-id'] ? { volumeId: f['volume-id'] } : {}),
      ...(f.size !== undefined ? { size: f.size } : {}),
      ...(f.status ? { status: f.status } : {}),
      ...(f['attach-status'] ? { attachStatus: f['attach-status'] } : {}),
      ...(f.zone ? { zone: f.zone } : {}),
      ...(f['snapshot-id'] ? { snapshotId: f['snapshot-id'] } : {}),
      ...(f.tag
        ? { tag: Object.fromEntries(f.tag.map((t) => [t.split('=')[0] ?? t, t.split('=').slice(1).join('=')])) }
        : {}),
    });
    this.io.log(
      volumes.length
        ? table(
            ['id', 'size', 'state', 'zone', 'attached to', 'name'],
            volumes.map((v) => [
              v.id,
              `${v.sizeGb} GiB`,
              v.state,
              v.zone,
              v.attachments.map((a) => `${a.instanceId} ${a.device}`).join(', ') || '-',
              v.tags.Name ?? '-',
            ]),
          )
        : 'No volumes.',
    );
    return volumes;
  }
}
