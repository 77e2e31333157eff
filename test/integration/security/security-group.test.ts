/**
 * The security group of a started cluster allows exactly: 22 from SSH_CIDR, all traffic from
 * inside the group, and the configured [permission] rules — nothing else (in particular no engine
 * or controller port). A [permission] with SOURCE_GROUP admits that group and no CIDR range.
 * Checked with boto3, not with our own EC2 code.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordingIoHost } from '../../_helpers/recording-io-host.js';
import { checkZeroLeak, describeLeaks, leakCount, LOCALSTACK_PYTHON } from '../../_helpers/zero-leak.js';
import { clusterName, ec2Fixture, localstackEndpoint, type Ec2Fixture } from '../faults/_cloud.js';

const run = promisify(execFile);
let endpoint: string;
let fx: Ec2Fixture;
/** A group of the user's (say a bastion's) that SOURCE_GROUP names; made and removed with boto3. */
const bastion = `sc-test-bastion-${process.pid}-${Math.floor(Math.random() * 1e6).toString(36)}`;
let bastionId: string;

function botoEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_DEFAULT_REGION: 'us-east-1',
  };
}

async function boto(script: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(LOCALSTACK_PYTHON, ['-c', script, ...args], { env: botoEnv(), timeout: 60_000 });
  return stdout.trim().split('\n').pop() ?? '';
}

beforeAll(async () => {
  endpoint = await localstackEndpoint();
  bastionId = await boto(
    'import sys, boto3; print(boto3.client("ec2").create_security_group(GroupName=sys.argv[1], Description="bastion")["GroupId"])',
    bastion,
  );
  fx = await ec2Fixture(endpoint, {
    size: 2,
    clusterLines: ['PERMISSIONS = www, dns, db', 'TAGS = team=astro, cost-center=cc42'],
    extra: [
      '[permission www]',
      'IP_PROTOCOL = tcp',
      'FROM_PORT = 8080',
      'TO_PORT = 8090',
      'CIDR_IP = 198.51.100.0/24',
      '[permission dns]',
      'IP_PROTOCOL = udp',
      'FROM_PORT = 53',
      'TO_PORT = 53',
      '[permission db]',
      'IP_PROTOCOL = tcp',
      'FROM_PORT = 5432',
      'TO_PORT = 5432',
      `SOURCE_GROUP = ${bastion}`,
    ].join('\n'),
  });
}, 300_000);

afterAll(async () => {
  await fx?.cleanup();
  if (bastionId)
    await boto('import sys, boto3; boto3.client("ec2").delete_security_group(GroupId=sys.argv[1])', bastionId);
});

/** Every ingress grant of the group as one line, e.g. `tcp 22-22 203.0.113.0/24` or `-1 all group:self`. */
async function ingressOf(groupName: string): Promise<{ id: string; grants: string[] }> {
  const script = String.raw`
import json, sys, boto3
g = boto3.client("ec2").describe_security_groups(Filters=[{"Name": "group-name", "Values": [sys.argv[1]]}])["SecurityGroups"]
assert len(g) == 1, f"{len(g)} groups named {sys.argv[1]}"
g = g[0]
out = []
for p in g.get("IpPermissions", []):
    proto = p.get("IpProtocol")
    ports = "all" if proto == "-1" else f"{p.get('FromPort')}-{p.get('ToPort')}"
    for r in p.get("IpRanges", []): out.append(f"{proto} {ports} {r['CidrIp']}")
    for r in p.get("Ipv6Ranges", []): out.append(f"{proto} {ports} {r['CidrIpv6']}")
    for r in p.get("UserIdGroupPairs", []):
        out.append(f"{proto} {ports} group:{'self' if r.get('GroupId') == g['GroupId'] else r.get('GroupId')}")
    for r in p.get("PrefixListIds", []): out.append(f"{proto} {ports} prefix:{r['PrefixListId']}")
print(json.dumps({"id": g["GroupId"], "grants": sorted(out)}))
`;
  return JSON.parse((await boto(script, groupName)) || '{}') as { id: string; grants: string[] };
}

describe('security group of a started cluster', () => {
  it('allows exactly 22 from SSH_CIDR, everything within the group, and the [permission] rules (SOURCE_GROUP: that group only)', async () => {
    const name = clusterName('sg');
    const provider = await fx.provider();
    const io = new RecordingIoHost();
    try {
      await fx.start(name, { io, provider });
      const { grants } = await ingressOf(`@sc-${name}`);
      console.log(`security group @sc-${name} ingress: ${grants.join('; ')}`);
      // "All traffic within the group" is one protocol -1 self rule, or StarCluster's tcp/udp/icmp triple.
      const self = grants.filter((g) => g.endsWith('group:self'));
      const others = grants.filter((g) => !g.endsWith('group:self'));
      // TAGS on every resource at creation.
      const made = JSON.parse(
        await boto(
          String.raw`
import json, sys, boto3
ec2 = boto3.client("ec2")
f = [{"Name": "tag:starcluster:cluster", "Values": [sys.argv[1]]}]
tags = lambda o: {t["Key"]: t["Value"] for t in o.get("Tags", [])}
out = []
for r in ec2.describe_instances(Filters=f + [{"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]:
    for i in r["Instances"]:
        out.append(["instance", tags(i).get("team"), tags(i).get("cost-center"), (i.get("IamInstanceProfile") or {}).get("Arn", "")])
for g in ec2.describe_security_groups(Filters=f)["SecurityGroups"]:
    out.append(["security-group", tags(g).get("team"), tags(g).get("cost-center"), ""])
print(json.dumps(out))
`,
          name,
        ),
      ) as [string, string, string, string][];
      console.log(`resources of ${name} with TAGS: ${JSON.stringify(made)}`);
      expect(made.filter((m) => m[0] === 'instance')).toHaveLength(2);
      expect(made.filter((m) => m[0] === 'security-group')).toHaveLength(1);
      for (const [kind, team, cc, profile] of made) {
        expect([kind, team, cc]).toEqual([kind, 'astro', 'cc42']);
        expect(profile).toBe('');
      }
      expect([
        ['-1 all group:self'],
        ['icmp -1--1 group:self', 'tcp 0-65535 group:self', 'udp 0-65535 group:self'],
      ]).toContainEqual(self);
      expect(others).toEqual(
        [
          'tcp 22-22 203.0.113.0/24',
          'tcp 8080-8090 198.51.100.0/24',
          'udp 53-53 0.0.0.0/0',
          `tcp 5432-5432 group:${bastionId}`,
        ].sort(),
      );
    } finally {
      await fx.terminate(name, { io, provider });
      const report = await checkZeroLeak(name, { endpoint, fleet: false });
      expect(leakCount(report), describeLeaks(report)).toBe(0);
    }
  }, 300_000);
});
