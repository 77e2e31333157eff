import { GoneCommand } from '../cli/gone-command.js';

export default class DownloadImage extends GoneCommand {
  static override summary = 'Gone: downloading an instance-store AMI’s S3 parts (explains why, exit 2).';
  static override aliases = ['di'];
  protected readonly why =
    'it downloaded the S3 bundle parts of an instance-store AMI; EBS AMIs have no such files (their data is in EBS snapshots)';
  protected readonly instead = 'see an AMI with starcluster showimage AMI; copy one with aws ec2 copy-image';
}
