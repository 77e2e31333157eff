import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { createVolume, type VolumeSummary } from '../cluster/resources.js';
import { openEc2 } from '../cluster/session.js';

export default class CreateVolume extends BaseCommand<typeof CreateVolume> {
  static override summary = 'Create an EBS volume (formatted when a cluster first mounts it).';
  static override aliases = ['cv'];
  static override examples = ['<%= config.bin %> createvolume 50 us-east-1a -n data'];
  static override args = {
    size: Args.integer({ required: true, description: 'size in GiB', min: 1 }),
    zone: Args.string({ required: true, description: 'availability zone' }),
  };
  static override flags = {
    name: Flags.string({ char: 'n', description: 'Name tag' }),
    tag: Flags.string({ char: 't', description: 'tag as key=value (repeatable)', multiple: true }),
    snapshot: Flags.string({ char: 's', description: 'create from this snapshot' }),
  };

  async run(): Promise<VolumeSummary> {
    const { provider } = await openEc2(this.flags.config, this.flags.region);
    const tags = Object.fromEntries(
      (this.flags.tag ?? []).map((t) => [t.split('=')[0] ?? t, t.split('=').slice(1).join('=')]),
    );
    const v = await createVolume({
      provider,
      sizeGb: this.args.size,
      zone: this.args.zone,
      tags,
      ...(this.flags.name ? { name: this.flags.name } : {}),
      ...(this.flags.snapshot ? { snapshotId: this.flags.snapshot } : {}),
    });
    this.io.log(`Created volume ${v.id} (${v.sizeGb} GiB in ${v.zone}).`);
    return v;
  }
}
