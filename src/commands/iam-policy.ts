import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { table } from '../cluster/summary.js';
import { API_CALLS, iamPolicy, type PolicyDocument } from '../cloud/ec2/iam-policy.js';

export default class IamPolicy extends BaseCommand<typeof IamPolicy> {
  static override summary = 'Print the least-privilege IAM policy starcluster needs.';
  static override description =
    'The policy allows exactly the AWS calls starcluster makes (derived from one table that a test keeps in ' +
    'step with the code): EC2 reads, the calls that create a cluster, changes and deletions only on resources ' +
    'tagged starcluster:cluster, SSM reads of AWS public parameters for image aliases, the EC2 Spot ' +
    "service-linked role for an account's first spot launch, and passing an IAM_PROFILE's role to EC2. " +
    'Attach it to the IAM user or role whose credentials starcluster uses; nodes never get access keys.';
  static override examples = [
    '<%= config.bin %> iam-policy > starcluster-policy.json',
    'aws iam create-policy --policy-name starcluster --policy-document file://starcluster-policy.json',
    '<%= config.bin %> iam-policy --explain',
  ];
  static override flags = {
    explain: Flags.boolean({ description: 'list each action with what starcluster calls it for' }),
  };

  async run(): Promise<PolicyDocument> {
    const policy = iamPolicy();
    if (this.flags.explain)
      this.io.log(
        table(
          ['action', 'scope', 'what for'],
          API_CALLS.map((c) => [c.action, c.scope, c.why]),
        ),
      );
    else this.io.log(JSON.stringify(policy, null, 2));
    return policy;
  }
}
