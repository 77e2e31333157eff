/**
 * The security group of a started cluster allows exactly: 22 from SSH_CIDR, all traffic from
 * inside the group, and the configured [permission] rules — nothing else (in particular no engine
 * or controller port). Checked with boto3, not with our own EC2 code.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster } from '../../../src/cluster/start.js';
import { terminateCluster } from '../../../src/cluster/terminate.js';
import { RecordingIoHost } from '../../_helpers/recording-io-host.js';
import { checkZeroLeak, describeLeaks, leakCount, LOCALSTACK_PYTHON } from '../../_helpers/zero-leak.js';
import { clusterName, ec2Fixture, localstackEndpoint, type Ec2Fixture } from '../faults/_cloud.js';

const run = promisify(execFile);
let endpoint: string;
let fx: Ec2Fixture;

beforeAll(async () => {
  endpoint = await localstackEndpoint();
  fx = await ec2Fixture(endpoint, {
    size: 2,
    clusterLines: ['PERMISSIONS = www, dns'],
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
    ].join('\n'),
  });
}, 300_000);

afterAll(async () => {
  await fx?.cleanup();
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
  const { stdout } = await run(LOCALSTACK_PYTHON, ['-c', script, groupName], {
    env: {
      ...process.env,
      AWS_ENDPOINT_URL: endpoint,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_DEFAULT_REGION: 'us-east-1',
    },
    timeout: 60_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { id: string; grants: string[] };
}

describe('security group of a started cluster', () => {
  it('allows exactly 22 from SSH_CIDR, everything within the group, and the [permission] rules', async () => {
    const name = clusterName('sg');
    const provider = await fx.provider();
    const io = new RecordingIoHost();
    try {
      await startCluster({
        name,
        template: fx.template,
        config: fx.config,
        io,
        provider,
        skipSetup: true,
        skipEngines: true,
        stateDir: `${fx.dir}/state-${name}`,
      });
      const { grants } = await ingressOf(`@sc-${name}`);
      console.log(`security group @sc-${name} ingress: ${grants.join('; ')}`);
      // "All traffic within the group" is one protocol -1 self rule, or StarCluster's tcp/udp/icmp triple.
      const self = grants.filter((g) => g.endsWith('group:self'));
      const others = grants.filter((g) => !g.endsWith('group:self'));
      expect([
        ['-1 all group:self'],
        ['icmp -1--1 group:self', 'tcp 0-65535 group:self', 'udp 0-65535 group:self'],
      ]).toContainEqual(self);
      expect(others).toEqual(
        ['tcp 22-22 203.0.113.0/24', 'tcp 8080-8090 198.51.100.0/24', 'udp 53-53 0.0.0.0/0'].sort(),
      );
    } finally {
      await terminateCluster({ name, config: fx.config, io, provider, confirm: true, skipHooks: true });
      const report = await checkZeroLeak(name, { endpoint, fleet: false });
      expect(leakCount(report), describeLeaks(report)).toBe(0);
    }
  }, 300_000);
});
