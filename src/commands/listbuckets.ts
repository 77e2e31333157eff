import { GoneCommand } from '../cli/gone-command.js';

export default class ListBuckets extends GoneCommand {
  static override summary = 'Gone: listing S3 buckets (explains why, exit 2).';
  static override aliases = ['lb'];
  protected readonly why =
    'StarCluster listed S3 buckets because instance-store AMIs lived there; nothing here uses S3';
  protected readonly instead = 'aws s3 ls';
}
