import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import type { EbsImageResult } from '../cloud/account.js';
import { openAccount } from '../cluster/session.js';
import { UsageError } from '../errors.js';

export default class EbsImage extends BaseCommand<typeof EbsImage> {
  static override summary =
    'Make an AMI from a running node (to save its software stack), and wait until it is available.';
  static override description =
    'CreateImage from an EBS-backed instance, tagged with the instance, its cluster and node ' +
    '(starcluster:image-of, starcluster:image-cluster, starcluster:image-node; its snapshots too). When the command ' +
    'returns, the image is available: use its id as NODE_IMAGE_ID or `start -n AMI` at once. EC2 reboots the ' +
    'instance for a consistent disk unless --no-reboot. Unlike StarCluster, keys, logs, /root and /tmp are not ' +
    'scrubbed on the running node first (that would break its cluster); a node started from the image gets ' +
    'new host keys from cloud-init. Ctrl-C while waiting deregisters the half-made image.';
  static override aliases = ['eimg'];
  static override examples = [
    '<%= config.bin %> ebsimage i-0123456789abcdef0 my-stack-2026-12',
    '<%= config.bin %> eimg i-0123456789abcdef0 my-stack -d "numpy + slurm" --no-reboot',
  ];
  static override args = {
    instance: Args.string({ required: true, description: 'instance id of the node to image' }),
    name: Args.string({ required: true, description: 'name of the new AMI' }),
  };
  static override flags = {
    description: Flags.string({ char: 'd', description: 'description of the AMI (default: Image created @ DATE)' }),
    'snapshot-description': Flags.string({
      char: 'D',
      description: 'description of its snapshots (a Description tag: EC2 writes their own description)',
    }),
    'no-reboot': Flags.boolean({ description: 'do not let EC2 reboot the instance before imaging it' }),
    'kernel-id': Flags.string({
      char: 'k',
      description: 'refused: a kernel id belongs to paravirtual AMIs, which EC2 no longer launches',
    }),
    'ramdisk-id': Flags.string({
      char: 'r',
      description: 'refused: a ramdisk id belongs to paravirtual AMIs, which EC2 no longer launches',
    }),
    'root-volume-size': Flags.integer({
      char: 's',
      description: 'refused: only for converting an instance-store (S3) instance, which do not exist here',
    }),
  };

  async run(): Promise<EbsImageResult> {
    const f = this.flags;
    for (const flag of ['kernel-id', 'ramdisk-id', 'root-volume-size'] as const)
      if (f[flag] !== undefined)
        throw new UsageError('FlagRefused', `ebsimage --${flag} is not supported: ${EbsImage.flags[flag].description}`);
    const account = await openAccount(f.config, f.region);
    const stamp = new Date().toISOString().slice(0, 16).replace(/[-:T]/g, '');
    const result = await account.ebsImage({
      instanceId: this.args.instance,
      name: this.args.name,
      description: f.description ?? `Image created @ ${stamp}`,
      ...(f['snapshot-description'] ? { snapshotDescription: f['snapshot-description'] } : {}),
      noReboot: f['no-reboot'],
      io: this.io,
      signal: this.signal,
    });
    this.io.log(`Your new AMI id is: ${result.imageId} (${result.state}); use it as NODE_IMAGE_ID.`);
    return result;
  }
}
