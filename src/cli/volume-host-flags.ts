import { Flags } from '@oclif/core';
import { UsageError } from '../errors.js';

const WHY =
  'refused: there is no volume host here (StarCluster launched one to format or resize a volume); ' +
  'a cluster formats or grows the volume when it first mounts it';

/**
 * StarCluster's volume-host options of `createvolume` and `resizevolume`. They are in --help with
 * StarCluster's letters so a user's script fails clearly (exit 2) instead of on an unknown flag.
 */
export const volumeHostFlags = {
  keypair: Flags.string({ char: 'k', description: `keypair of the volume host (${WHY})` }),
  'host-instance': Flags.string({ char: 'H', description: `use this instance as volume host (${WHY})` }),
  'detach-volume': Flags.boolean({ char: 'd', description: `detach from the volume host after (${WHY})` }),
  'shutdown-volume-host': Flags.boolean({ char: 's', description: `shut the volume host down after (${WHY})` }),
  'image-id': Flags.string({ char: 'i', description: `AMI of the volume host (${WHY})` }),
  'instance-type': Flags.string({ char: 'I', description: `instance type of the volume host (${WHY})` }),
};

/** Throws a usage error (exit 2) naming the first volume-host flag given. */
export function refuseVolumeHostFlags(command: string, flags: Record<string, unknown>, extra: string[] = []): void {
  for (const name of [...Object.keys(volumeHostFlags), ...extra]) {
    const value = flags[name];
    if (value === undefined || value === false) continue;
    throw new UsageError(
      'NoVolumeHost',
      `${command} --${name}: there is no volume host in this StarCluster: the volume is ${
        command === 'resizevolume' ? 'grown' : 'formatted'
      } when a cluster first mounts it`,
      {
        hint:
          name === 'shutdown-volume-host' && command === 'createvolume'
            ? 'our createvolume used -s for a snapshot before: that is --snapshot-id now'
            : 'leave the flag out',
      },
    );
  }
}
