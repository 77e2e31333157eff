import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * An independent view of LocalStack: boto3 from localstack/.venv in a subprocess, so tests check
 * what our TypeScript client made with a different client. Uses AWS_ENDPOINT_URL and the fake
 * credentials the integration global setup exported.
 */
const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
export const LOCALSTACK_PYTHON = join(ROOT, 'localstack', '.venv', 'bin', 'python');

const PRELUDE = `
import json, os, sys, boto3
ec2 = boto3.client('ec2', endpoint_url=os.environ['AWS_ENDPOINT_URL'], region_name=os.environ.get('AWS_REGION', 'us-east-1'))
args = json.loads(sys.argv[1])
def tags(x): return {t['Key']: t['Value'] for t in x.get('Tags', [])}
`;

/** Runs a boto3 snippet that binds `out`; returns `out` parsed from JSON. */
export async function boto3<T>(body: string, args: unknown = {}): Promise<T> {
  const script = `${PRELUDE}\n${body}\nprint(json.dumps(out, default=str))`;
  const { stdout } = await run(LOCALSTACK_PYTHON, ['-c', script, JSON.stringify(args)], {
    env: process.env,
    maxBuffer: 32 << 20,
  });
  return JSON.parse(stdout.trim().split('\n').pop() ?? 'null') as T;
}

export interface Inventory {
  /** Instances tagged with the cluster that are not terminated: id, state, alias, role, type. */
  instances: {
    id: string;
    state: string;
    alias?: string;
    role?: string;
    type: string;
    name?: string;
    lifecycle: string;
  }[];
  securityGroups: { id: string; name: string; tags: Record<string, string>; ingress: unknown[] }[];
  placementGroups: string[];
  spotRequests: string[];
}

/** Everything in LocalStack that belongs to a cluster (by tag or by `@sc-NAME`), seen by boto3. */
export function inventory(cluster: string): Promise<Inventory> {
  return boto3<Inventory>(
    `
name = args['cluster']
res = ec2.describe_instances(Filters=[{'Name': 'tag:starcluster:cluster', 'Values': [name]}])
instances = []
for r in res['Reservations']:
    for i in r['Instances']:
        if i['State']['Name'] == 'terminated': continue
        t = tags(i)
        instances.append({'id': i['InstanceId'], 'state': i['State']['Name'], 'alias': t.get('starcluster:alias'),
                          'role': t.get('starcluster:role'), 'type': i['InstanceType'], 'name': t.get('Name'),
                          'lifecycle': i.get('InstanceLifecycle', 'on-demand')})
sgs = {}
for g in ec2.describe_security_groups(Filters=[{'Name': 'group-name', 'Values': ['@sc-' + name]}])['SecurityGroups'] + \\
         ec2.describe_security_groups(Filters=[{'Name': 'tag:starcluster:cluster', 'Values': [name]}])['SecurityGroups']:
    sgs[g['GroupId']] = {'id': g['GroupId'], 'name': g['GroupName'], 'tags': tags(g), 'ingress': g.get('IpPermissions', [])}
try:
    pgs = [p['GroupName'] for p in ec2.describe_placement_groups()['PlacementGroups']
           if p['GroupName'] == '@sc-' + name and p.get('State') not in ('deleted',)]
except ec2.exceptions.ClientError as e:
    # LocalStack's EC2 does not implement placement groups (501): there can be none.
    if e.response['ResponseMetadata']['HTTPStatusCode'] != 501: raise
    pgs = []
spots = [s['SpotInstanceRequestId'] for s in ec2.describe_spot_instance_requests(
    Filters=[{'Name': 'tag:starcluster:cluster', 'Values': [name]}])['SpotInstanceRequests'] if s['State'] in ('open', 'active')]
out = {'instances': instances, 'securityGroups': list(sgs.values()), 'placementGroups': pgs, 'spotRequests': spots}
`,
    { cluster },
  );
}

/** A key pair made by LocalStack (boto3), its private key written where the test says. */
export function createKeyPair(name: string): Promise<{ material: string; fingerprint: string }> {
  return boto3(
    `
k = ec2.create_key_pair(KeyName=args['name'])
out = {'material': k['KeyMaterial'], 'fingerprint': k['KeyFingerprint']}
`,
    { name },
  );
}

export function deleteKeyPair(name: string): Promise<null> {
  return boto3(`ec2.delete_key_pair(KeyName=args['name'])\nout = None`, { name });
}

/** An x86_64 AMI id LocalStack knows (the tests' instance types are x86: start checks the AMI fits). */
export function someImage(): Promise<string> {
  return boto3(
    `out = sorted(i['ImageId'] for i in ec2.describe_images(Filters=[{'Name': 'architecture', 'Values': ['x86_64']}])['Images'])[0]`,
  );
}
