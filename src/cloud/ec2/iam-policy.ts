/**
 * The AWS API calls starcluster makes, in one table, and the least-privilege IAM policy derived
 * from it (`starcluster iam-policy`). A unit test reads the SDK commands, paginators and waiters the
 * code uses and fails when one of them is missing here, so the policy cannot fall behind the code.
 *
 * Scoping, as far as EC2 allows it (see the EC2 "actions, resources and condition keys" reference):
 * - reads (Describe*, GetConsoleOutput) cannot be scoped by resource: `*`;
 * - creating calls are allowed on `*` (RunInstances touches images, subnets and groups that are not
 *   ours), and tags may be written at creation (`ec2:CreateAction`) or on what already carries the
 *   cluster tag;
 * - calls that stop, change or delete a cluster's resources are allowed only on resources tagged
 *   `starcluster:cluster` (every one a cluster owns is tagged at creation); `removenode -k` moves
 *   a cluster-tagged instance to its VPC's default group (ModifyInstanceAttribute), which is not;
 * - key pairs and volumes the user manages with createkey/removekey and createvolume/removevolume
 *   need not carry the cluster tag: those calls are on `*`;
 * - SSM reads are limited to AWS's public parameters (image aliases such as debian-12);
 * - Service Quotas reads are limited to the two EC2 vCPU quotas start checks (quota.ts);
 * - the first spot launch of an account creates the EC2 Spot service-linked role, and nothing else;
 * - an IAM_PROFILE passes its role to EC2, and to nothing else.
 */
import { ON_DEMAND_STANDARD_QUOTA, SPOT_STANDARD_QUOTA } from './quota.js';

export type Scope =
  | 'read'
  | 'create'
  | 'tag'
  | 'cluster-tagged'
  | 'release'
  | 'account'
  | 'ssm-public'
  | 'quota-read'
  | 'spot-role'
  | 'pass-role';

export interface ApiCall {
  /** The IAM action, e.g. `ec2:RunInstances`. */
  action: string;
  scope: Scope;
  /** What starcluster calls it for (shown by `starcluster iam-policy --explain` and in the README). */
  why: string;
  /** AWS checks it on our behalf inside another call (RunInstances), not a call of our own code. */
  implicit?: true;
}

export const API_CALLS: readonly ApiCall[] = [
  { action: 'ec2:DescribeAvailabilityZones', scope: 'read', why: 'validate AVAILABILITY_ZONE; try other zones' },
  { action: 'ec2:DescribeImages', scope: 'read', why: 'validate AMIs; listimages, showimage' },
  { action: 'ec2:DescribeInstances', scope: 'read', why: 'find a cluster by its tags; wait for states' },
  { action: 'ec2:DescribeInstanceTypeOfferings', scope: 'read', why: 'the zones that offer an instance type' },
  { action: 'ec2:DescribeInstanceTypes', scope: 'read', why: 'validate instance types; cores, architecture' },
  { action: 'ec2:DescribeKeyPairs', scope: 'read', why: 'check the key pair and its fingerprint' },
  { action: 'ec2:DescribePlacementGroups', scope: 'read', why: 'find the cluster placement group' },
  { action: 'ec2:DescribeRegions', scope: 'read', why: 'listregions' },
  { action: 'ec2:DescribeSecurityGroups', scope: 'read', why: 'find @sc-NAME and SOURCE_GROUPs' },
  { action: 'ec2:DescribeSnapshots', scope: 'read', why: 'ebsimage: wait for its snapshot' },
  { action: 'ec2:DescribeSpotInstanceRequests', scope: 'read', why: 'find and cancel spot requests' },
  {
    action: 'ec2:DescribeSpotPriceHistory',
    scope: 'read',
    why: 'spothistory; spot nodes priced in the start plan, addnode and listclusters',
  },
  { action: 'ec2:DescribeSubnets', scope: 'read', why: 'validate SUBNET_ID; its VPC' },
  { action: 'ec2:DescribeVpcs', scope: 'read', why: 'the default VPC (none: say so); the VPC of @sc-NAME' },
  { action: 'ec2:DescribeVolumes', scope: 'read', why: 'validate and attach volumes; listvolumes' },
  { action: 'ec2:GetConsoleOutput', scope: 'read', why: 'showconsole' },
  { action: 'ec2:RunInstances', scope: 'create', why: 'launch nodes (tags at creation)' },
  { action: 'ec2:CreateSecurityGroup', scope: 'create', why: 'the security group @sc-NAME' },
  { action: 'ec2:CreatePlacementGroup', scope: 'create', why: 'the cluster placement group' },
  { action: 'ec2:CreateImage', scope: 'create', why: 'ebsimage: an AMI from a node' },
  { action: 'ec2:CreateSnapshot', scope: 'create', why: 'ebsimage: a snapshot of a volume' },
  { action: 'ec2:DeregisterImage', scope: 'account', why: 'ebsimage: undo a half-made image' },
  { action: 'ec2:DeleteSnapshot', scope: 'account', why: 'ebsimage: undo a half-made snapshot' },
  { action: 'ec2:CreateKeyPair', scope: 'account', why: 'createkey' },
  { action: 'ec2:ImportKeyPair', scope: 'account', why: 'import the key pair of KEY_LOCATION' },
  { action: 'ec2:DeleteKeyPair', scope: 'account', why: 'removekey' },
  { action: 'ec2:CreateVolume', scope: 'account', why: 'createvolume' },
  { action: 'ec2:DeleteVolume', scope: 'account', why: 'removevolume' },
  { action: 'ec2:AttachVolume', scope: 'account', why: 'attach a [volume] to the master' },
  { action: 'ec2:CreateTags', scope: 'tag', why: 'tags at creation; alias and Name of new nodes' },
  { action: 'ec2:AuthorizeSecurityGroupIngress', scope: 'cluster-tagged', why: "the group's rules" },
  { action: 'ec2:DeleteSecurityGroup', scope: 'cluster-tagged', why: 'terminate, rollback' },
  { action: 'ec2:DeletePlacementGroup', scope: 'cluster-tagged', why: 'terminate, rollback' },
  { action: 'ec2:TerminateInstances', scope: 'cluster-tagged', why: 'terminate, removenode, rollback' },
  { action: 'ec2:StopInstances', scope: 'cluster-tagged', why: 'stop' },
  { action: 'ec2:StartInstances', scope: 'cluster-tagged', why: 'restart a stopped cluster' },
  { action: 'ec2:RebootInstances', scope: 'cluster-tagged', why: 'restart' },
  { action: 'ec2:CancelSpotInstanceRequests', scope: 'cluster-tagged', why: 'terminate, rollback' },
  {
    action: 'ec2:ModifyInstanceAttribute',
    scope: 'release',
    why: "removenode -k: the kept instance leaves @sc-NAME for its VPC's default group",
  },
  { action: 'ssm:GetParameter', scope: 'ssm-public', why: 'image aliases (debian-12, al2023, …)' },
  {
    action: 'servicequotas:GetServiceQuota',
    scope: 'quota-read',
    why: "start: the account's vCPU quotas before launch (optional: without it, EC2 checks at launch)",
  },
  { action: 'iam:CreateServiceLinkedRole', scope: 'spot-role', why: "the account's first spot launch", implicit: true },
  {
    action: 'iam:PassRole',
    scope: 'pass-role',
    why: 'IAM_PROFILE: the instance profile given to nodes',
    implicit: true,
  },
];

/** `ec2:DescribeInstances` for a command, paginator or waiter the code uses (`DescribeInstancesCommand`, …). */
export function actionOfSdkName(service: 'ec2' | 'ssm' | 'servicequotas', name: string): string {
  // A waiter polls the Describe call of its resource (waitUntilInstanceRunning → DescribeInstances).
  const waiter = /^waitUntil(Instance|Image|Snapshot|Volume)[A-Z]/.exec(name);
  if (waiter) return name.endsWith('StatusOk') ? 'ec2:DescribeInstanceStatus' : `ec2:Describe${waiter[1]}s`;
  const base = name.replace(/^paginate/, '').replace(/Command$/, '');
  return `${service}:${base}`;
}

export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

/** The quotas start reads (on-demand and spot standard vCPUs). */
const VCPU_QUOTAS = [ON_DEMAND_STANDARD_QUOTA, SPOT_STANDARD_QUOTA];

const CLUSTER_TAGGED = { StringLike: { 'aws:ResourceTag/starcluster:cluster': '*' } };
const CREATING = [
  'CreateImage',
  'CreateSnapshot',
  'RunInstances',
  'CreateSecurityGroup',
  'CreatePlacementGroup',
  'CreateKeyPair',
  'ImportKeyPair',
  'CreateVolume',
];

/** The least-privilege policy for everything in API_CALLS, one statement per scope. */
export function iamPolicy(): PolicyDocument {
  const actions = (scope: Scope): string[] =>
    API_CALLS.filter((c) => c.scope === scope)
      .map((c) => c.action)
      .sort();
  const statements: PolicyStatement[] = [
    { Sid: 'StarclusterRead', Effect: 'Allow', Action: actions('read'), Resource: '*' },
    { Sid: 'StarclusterCreate', Effect: 'Allow', Action: actions('create'), Resource: '*' },
    { Sid: 'StarclusterKeysAndVolumes', Effect: 'Allow', Action: actions('account'), Resource: '*' },
    {
      Sid: 'StarclusterTagOnCreate',
      Effect: 'Allow',
      Action: actions('tag'),
      Resource: '*',
      Condition: { StringEquals: { 'ec2:CreateAction': CREATING } },
    },
    {
      Sid: 'StarclusterTagOwn',
      Effect: 'Allow',
      Action: actions('tag'),
      Resource: '*',
      Condition: CLUSTER_TAGGED,
    },
    {
      Sid: 'StarclusterChangeOwn',
      Effect: 'Allow',
      Action: actions('cluster-tagged'),
      Resource: '*',
      Condition: CLUSTER_TAGGED,
    },
    {
      // The instance must carry the cluster tag; the group it moves to (the VPC's default) need not.
      Sid: 'StarclusterReleaseOwn',
      Effect: 'Allow',
      Action: actions('release'),
      Resource: 'arn:aws:ec2:*:*:instance/*',
      Condition: CLUSTER_TAGGED,
    },
    {
      Sid: 'StarclusterReleaseToGroup',
      Effect: 'Allow',
      Action: actions('release'),
      Resource: 'arn:aws:ec2:*:*:security-group/*',
    },
    {
      Sid: 'StarclusterImageAliases',
      Effect: 'Allow',
      Action: actions('ssm-public'),
      Resource: 'arn:aws:ssm:*::parameter/aws/service/*',
    },
    {
      Sid: 'StarclusterVcpuQuotas',
      Effect: 'Allow',
      Action: actions('quota-read'),
      Resource: VCPU_QUOTAS.map((code) => `arn:aws:servicequotas:*:*:ec2/${code}`),
    },
    {
      Sid: 'StarclusterFirstSpotLaunch',
      Effect: 'Allow',
      Action: actions('spot-role'),
      Resource: 'arn:aws:iam::*:role/aws-service-role/spot.amazonaws.com/AWSServiceRoleForEC2Spot',
      Condition: { StringEquals: { 'iam:AWSServiceName': 'spot.amazonaws.com' } },
    },
    {
      Sid: 'StarclusterInstanceProfile',
      Effect: 'Allow',
      Action: actions('pass-role'),
      Resource: 'arn:aws:iam::*:role/*',
      Condition: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
    },
  ];
  return { Version: '2012-10-17', Statement: statements };
}
