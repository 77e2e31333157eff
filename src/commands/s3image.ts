import { Flags } from '@oclif/core';
import { GoneCommand } from '../cli/gone-command.js';

export default class S3Image extends GoneCommand {
  static override summary = 'Gone: bundling instance-store AMIs to S3 (explains why, exit 2).';
  static override aliases = ['simg', 'createimage'];
  static override flags = {
    description: Flags.string({ char: 'd', description: 'description of the AMI (the command is gone)' }),
    'kernel-id': Flags.string({ char: 'k', description: 'kernel id (the command is gone)' }),
    'ramdisk-id': Flags.string({ char: 'R', description: 'ramdisk id (the command is gone)' }),
    'remove-image-files': Flags.boolean({ char: 'r', description: 'remove the bundle files (the command is gone)' }),
  };
  protected readonly why =
    'it bundled instance-store (S3-backed) AMIs with the EC2 AMI tools, an X.509 EC2_CERT and your AWS_USER_ID; current instance types boot from EBS, AWS no longer issues those certificates, and instance-store AMIs cannot be launched on them';
  protected readonly instead = 'make an EBS AMI from a running node: starcluster ebsimage INSTANCE NAME';
}
