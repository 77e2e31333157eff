import { GoneCommand } from '../cli/gone-command.js';

export default class ShowBucket extends GoneCommand {
  static override summary = 'Gone: listing an S3 bucket’s keys (explains why, exit 2).';
  static override aliases = ['sb'];
  protected readonly why =
    'StarCluster showed S3 buckets because instance-store AMIs lived there; nothing here uses S3';
  protected readonly instead = 'aws s3 ls s3://BUCKET';
}
