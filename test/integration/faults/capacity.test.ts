/**
 * What a real account answers that LocalStack never does, injected by the fault proxy's script in
 * front of LocalStack: EC2's eventual consistency right after RunInstances (CreateTags:
 * InvalidInstanceID.NotFound), no capacity in a zone or in any, a vCPU quota too small, a spot bid
 * too low. Each start either succeeds whole or fails saying what to do, and leaves nothing behind
 * (the independent boto3 leak check) — never a half-made cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster } from '../../../src/cluster/start.js';
import { terminateCluster } from '../../../src/cluster/terminate.js';
import { StarclusterError } from '../../../src/errors.js';
import { startFaultProxy, type FaultProxy, type ProxyCall, type ScriptedAnswer } from '../../_helpers/fault-proxy.js';
import { boto3, inventory } from '../../_helpers/localstack.js';
import { RecordingIoHost } from '../../_helpers/recording-io-host.js';
import { checkZeroLeak, describeLeaks, leakCount } from '../../_helpers/zero-leak.js';
import { clusterName, ec2Fixture, localstackEndpoint, type Ec2Fixture } from './_cloud.js';

let endpoint: string;
let fx: Ec2Fixture;
let proxy: FaultProxy;
let script: (call: ProxyCall) => ScriptedAnswer = () => undefined;
const tally: string[] = [];

beforeAll(async () => {
  endpoint = await localstackEndpoint();
  process.env.AWS_ENDPOINT_URL = endpoint;
  fx = await ec2Fixture(endpoint, { size: 3 });
  proxy = await startFaultProxy({
    target: endpoint,
    seed: 1,
    rates: { throttle: 0, serverError: 0, timeout: 0 },
    script: (call) => script(call),
  });
}, 300_000);

afterAll(async () => {
  await proxy?.close();
  await fx?.cleanup();
  console.log(`capacity and consistency faults: ${tally.join('; ')}`);
});

const err = (code: string, message = `${code} (injected)`): ScriptedAnswer => ({ error: { code, message } });

async function start(name: string, template = fx.template) {
  const io = new RecordingIoHost();
  return startCluster({
    name,
    template,
    config: fx.config,
    io,
    provider: await fx.provider(proxy.url),
    skipSetup: true,
    skipEngines: true,
    stateDir: `${fx.dir}/state-${name}`,
  }).then(
    (result) => ({ result, error: undefined, io }),
    (error: unknown) => ({ result: undefined, error, io }),
  );
}

/** terminate, then (after `between`, if given) the zero-leak check: the count of what leaked. */
async function cleanUp(name: string, between?: () => Promise<void>): Promise<number> {
  script = () => undefined;
  await terminateCluster({
    name,
    config: fx.config,
    io: new RecordingIoHost(),
    provider: await fx.provider(),
    confirm: true,
    skipHooks: true,
  });
  await between?.();
  const report = await checkZeroLeak(name, { endpoint, fleet: false });
  expect(leakCount(report), describeLeaks(report)).toBe(0);
  return leakCount(report);
}

describe('capacity, quotas and eventual consistency', () => {
  it('CreateTags right after RunInstances fails InvalidInstanceID.NotFound twice: retried, every node named', async () => {
    const name = clusterName('tags');
    let failures = 0;
    script = (c) =>
      c.action === 'CreateTags' && failures < 2 ? (failures++, err('InvalidInstanceID.NotFound')) : undefined;
    const { result, error } = await start(name);
    expect(error).toBeUndefined();
    expect(result?.nodes.map((n) => n.alias)).toEqual(['master', 'node001', 'node002']);
    const names = (await inventory(name)).instances.map((i) => i.name).sort();
    expect(names).toEqual([`${name}-master`, `${name}-node001`, `${name}-node002`]);
    tally.push(`CreateTags NotFound ×${failures}: started, all named, leaked ${await cleanUp(name)}`);
  }, 300_000);

  it('no capacity in the zone EC2 picks: the other zones are tried, all nodes land in one', async () => {
    const name = clusterName('cap');
    let refused = 0;
    // EC2's own pick (no zone asked) and us-east-1a have no capacity.
    script = (c) => {
      if (c.action !== 'RunInstances') return undefined;
      const zone = c.form.get('Placement.AvailabilityZone');
      return zone === null || zone === 'us-east-1a' ? (refused++, err('InsufficientInstanceCapacity')) : undefined;
    };
    const { result, error } = await start(name);
    expect(error).toBeUndefined();
    const zones = new Set(result?.nodes.map((n) => n.zone));
    expect(zones.size).toBe(1);
    expect([...zones][0]).not.toBe('us-east-1a');
    tally.push(
      `InsufficientInstanceCapacity ×${refused}: started in ${[...zones].join()}, leaked ${await cleanUp(name)}`,
    );
  }, 300_000);

  it('no capacity anywhere: fails saying what to do, after every zone, and leaves nothing', async () => {
    const name = clusterName('nocap');
    let refused = 0;
    script = (c) => (c.action === 'RunInstances' ? (refused++, err('InsufficientInstanceCapacity')) : undefined);
    const { error } = await start(name);
    expect(StarclusterError.is(error) && error.code).toBe('Ec2InsufficientInstanceCapacity');
    expect((error as Error).message).toMatch(/no spare capacity for 1 × t3\.micro.*tried every zone: us-east-1a/);
    expect((error as StarclusterError).hint).toMatch(/another zone.*another instance type/);
    tally.push(`InsufficientInstanceCapacity everywhere ×${refused}: failed clearly, leaked ${await cleanUp(name)}`);
  }, 300_000);

  it('vCPU quota hit by the nodes after the master launched: says so, and the master is rolled back', async () => {
    const name = clusterName('vcpu');
    let launches = 0;
    script = (c) => (c.action === 'RunInstances' && ++launches === 2 ? err('VcpuLimitExceeded') : undefined);
    const { error } = await start(name);
    expect(StarclusterError.is(error) && error.code).toBe('Ec2VcpuLimitExceeded');
    expect((error as Error).message).toMatch(/vCPU quota for t3\.micro's family is too small for 2 × t3\.micro/);
    expect((error as StarclusterError).hint).toMatch(/Service Quotas/);
    // The rollback itself removed the master: nothing is left even before terminate.
    const report = await checkZeroLeak(name, { endpoint, fleet: false });
    expect(report.instances.filter((i) => i.state !== 'terminated' && i.state !== 'shutting-down')).toEqual([]);
    tally.push(`VcpuLimitExceeded on launch 2 of 2: rolled back, leaked ${await cleanUp(name)}`);
  }, 300_000);

  it("the account's on-demand vCPU quota is too small: refused before anything is launched, saying what to do", async () => {
    const name = clusterName('quota');
    let runs = 0;
    const asked: unknown[] = [];
    // Service Quotas (which LocalStack lacks) answers as a new account's would: 2 vCPUs.
    script = (c) => {
      if (c.action === 'RunInstances') runs++;
      if (c.action !== 'GetServiceQuota') return undefined;
      asked.push(c.json?.QuotaCode);
      return { json: { Quota: { ServiceCode: 'ec2', QuotaCode: c.json?.QuotaCode, Value: 2 } } };
    };
    const { error } = await start(name);
    expect(StarclusterError.is(error) && error.code, String(error)).toBe('VcpuQuotaExceeded');
    const detail = (error as StarclusterError).details.join('\n');
    expect(detail).toMatch(
      /"Running On-Demand Standard \(A, C, D, H, I, M, R, T, Z\) instances" \(L-1216C47A\) in us-east-1 is 2 vCPUs/,
    );
    expect(detail).toMatch(/this launch needs 6 more \(1 × t3\.micro, 2 × t3\.micro\).*Service Quotas console/);
    expect(asked).toEqual(['L-1216C47A']);
    expect(runs).toBe(0);
    tally.push(`vCPU quota 2 (injected): refused before launch, RunInstances ${runs}, leaked ${await cleanUp(name)}`);
  }, 300_000);

  it('the spot vCPU quota is too small while on-demand fits: refused naming the spot quota', async () => {
    const name = clusterName('squota');
    let runs = 0;
    script = (c) => {
      if (c.action === 'RunInstances') runs++;
      if (c.action !== 'GetServiceQuota') return undefined;
      const value = c.json?.QuotaCode === 'L-34B43A08' ? 1 : 100_000;
      return { json: { Quota: { ServiceCode: 'ec2', QuotaCode: c.json?.QuotaCode, Value: value } } };
    };
    const { error, io } = await start(name, { ...fx.template, spotBid: 0.5 });
    expect(StarclusterError.is(error) && error.code, String(error)).toBe('VcpuQuotaExceeded');
    expect((error as StarclusterError).details.join('\n')).toMatch(
      /"All Standard \(A, C, D, H, I, M, R, T, Z\) Spot Instance Requests" \(L-34B43A08\) in us-east-1 is 1 vCPUs; \d+ are in use and this launch needs 4 more \(2 × t3\.micro\)/,
    );
    const notes = io.messages.filter((m) => m.code === 'SC_START_D0001').map((m) => m.message);
    expect(notes[0]).toMatch(/^vCPU quota L-1216C47A: 100000 vCPUs, \d+ in use, 2 wanted \(1 × t3\.micro\)$/);
    expect(runs).toBe(0);
    tally.push(`spot vCPU quota 1 (injected): refused before launch, leaked ${await cleanUp(name)}`);
  }, 300_000);

  for (const how of ['unavailable (LocalStack has no Service Quotas)', 'denied (AccessDeniedException)'] as const) {
    it(`Service Quotas ${how}: start goes ahead, and the debug log says why the quota was not checked`, async () => {
      const name = clusterName(how.startsWith('denied') ? 'qdeny' : 'qnone');
      let asked = 0;
      script = (c) => {
        if (c.action !== 'GetServiceQuota') return undefined;
        asked++;
        return how.startsWith('denied')
          ? err('AccessDeniedException', 'not authorized to perform: servicequotas:GetServiceQuota')
          : undefined;
      };
      const { result, error, io } = await start(name);
      expect(error).toBeUndefined();
      expect(result?.nodes).toHaveLength(3);
      const notes = io.messages.filter((m) => m.code === 'SC_START_D0001');
      expect(notes.map((m) => m.level)).toEqual(['debug']);
      expect(notes[0]?.message).toMatch(/^vCPU quota not checked \(Service Quotas GetServiceQuota L-1216C47A failed: /);
      if (how.startsWith('denied')) expect(notes[0]?.message).toContain('AccessDeniedException');
      expect(asked).toBe(1);
      tally.push(
        `Service Quotas ${how.split(' ')[0]}: started, logged (${notes[0]?.message.slice(0, 120)}), leaked ${await cleanUp(name)}`,
      );
    }, 300_000);
  }

  it('an account with no default VPC and no SUBNET_ID: refused before anything is made, naming subnets to use', async () => {
    const name = clusterName('novpc');
    let runs = 0;
    // DescribeVpcs answers as in an account whose default VPC was deleted.
    script = (c) => {
      if (c.action === 'RunInstances' || c.action === 'CreateSecurityGroup') runs++;
      return c.action === 'DescribeVpcs'
        ? {
            xml: '<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>novpc</requestId><vpcSet/></DescribeVpcsResponse>',
          }
        : undefined;
    };
    const { error } = await start(name);
    expect(StarclusterError.is(error) && error.code, String(error)).toBe('NoDefaultVpc');
    expect((error as StarclusterError).exitCode).toBe(3);
    const detail = (error as StarclusterError).details.join('\n');
    expect(detail).toMatch(
      /no default VPC in us-east-1 and SUBNET_ID is not set.*Subnets in us-east-1: subnet-\w+ \(vpc-\w+, us-east-1\w/,
    );
    expect(detail).toContain('aws ec2 create-default-vpc');
    expect(runs).toBe(0);
    tally.push(`no default VPC (injected): refused before anything was made, leaked ${await cleanUp(name)}`);
  }, 300_000);

  it("resume looks the security group up within the VPC: a same-named group in another VPC is not the cluster's", async () => {
    const name = clusterName('sgvpc');
    script = () => undefined;
    const foreign = await boto3<{ vpc: string; group: string }>(
      "v = ec2.create_vpc(CidrBlock='10.77.0.0/16')['Vpc']['VpcId']; g = ec2.create_security_group(GroupName=args, Description='not the cluster', VpcId=v)['GroupId']; out = {'vpc': v, 'group': g}",
      `@sc-${name}`,
    );
    const dropForeign = (): Promise<unknown> =>
      boto3(
        "for f, k in ((ec2.delete_security_group, {'GroupId': args['group']}), (ec2.delete_vpc, {'VpcId': args['vpc']})):\n  try: f(**k)\n  except Exception: pass\nout = None",
        foreign,
      );
    try {
      const { result, error } = await start(name);
      expect(error).toBeUndefined();
      const seen = await inventory(name);
      const own = seen.securityGroups.filter((g) => g.tags['starcluster:cluster'] === name);
      expect(own).toHaveLength(1);
      expect(own[0]?.id).not.toBe(foreign.group);
      expect(result?.created.securityGroupId).toBe(own[0]?.id);
      // terminate removes the cluster's own group and leaves the same-named one of the other VPC.
      let left: string[] = [];
      const leaked = await cleanUp(name, async () => {
        left = await boto3<string[]>(
          "out = [g['GroupId'] for g in ec2.describe_security_groups(Filters=[{'Name': 'group-name', 'Values': [args]}])['SecurityGroups']]",
          `@sc-${name}`,
        );
        await dropForeign();
      });
      expect(left).toEqual([foreign.group]);
      tally.push(`same-named group in another VPC: ignored, own group made, left alone by terminate, leaked ${leaked}`);
    } finally {
      await dropForeign();
    }
  }, 300_000);

  it('IAM_PROFILE goes to RunInstances as the instance profile (no access key goes to nodes)', async () => {
    const name = clusterName('prof');
    const seen: string[] = [];
    // LocalStack checks the profile against IAM, which this test does not run: the request is
    // inspected, then refused as EC2 would refuse an unknown profile.
    script = (c) => {
      if (c.action !== 'RunInstances') return undefined;
      seen.push(c.form.get('IamInstanceProfile.Name') ?? '(none)');
      seen.push(Buffer.from(c.form.get('UserData') ?? '', 'base64').toString('utf8'));
      return err('InvalidParameterValue', 'Value (sc-nodes) for parameter iamInstanceProfile.name is invalid');
    };
    const { error } = await start(name, { ...fx.template, iamProfile: 'sc-nodes' });
    expect(StarclusterError.is(error) && error.code).toBe('Ec2InvalidParameterValue');
    expect(seen[0]).toBe('sc-nodes');
    expect(seen[1]).not.toMatch(/AWS_SECRET_ACCESS_KEY|aws_secret_access_key|AKIA/);
    tally.push(`IAM_PROFILE: RunInstances carried it, no key in user data, leaked ${await cleanUp(name)}`);
  }, 300_000);

  it('PUBLIC_IPS = True in a subnet asks RunInstances for a public address per node', async () => {
    const name = clusterName('pubip');
    const subnet = await boto3<string>(
      "out = [s['SubnetId'] for s in ec2.describe_subnets(Filters=[{'Name': 'default-for-az', 'Values': ['true']}])['Subnets']][0]",
    );
    const seen: (string | null)[] = [];
    script = (c) => {
      if (c.action !== 'RunInstances') return undefined;
      seen.push(c.form.get('NetworkInterface.1.AssociatePublicIpAddress'), c.form.get('NetworkInterface.1.SubnetId'));
      return err('InvalidParameterValue', 'inspected by the test');
    };
    const { error } = await start(name, { ...fx.template, subnetId: subnet, publicIps: true });
    expect(StarclusterError.is(error) && error.code, String(error)).toBe('Ec2InvalidParameterValue');
    expect(seen.slice(0, 2)).toEqual(['true', subnet]);
    tally.push(`PUBLIC_IPS in ${subnet}: AssociatePublicIpAddress asked, leaked ${await cleanUp(name)}`);
  }, 300_000);

  it('a spot bid below the price: says how to see prices and what to change', async () => {
    const name = clusterName('spot');
    script = (c) =>
      c.action === 'RunInstances' && c.form.has('InstanceMarketOptions.MarketType')
        ? err('SpotMaxPriceTooLow')
        : undefined;
    const { error } = await start(name, { ...fx.template, spotBid: 0.001 });
    expect(StarclusterError.is(error) && error.code).toBe('Ec2SpotMaxPriceTooLow');
    expect((error as Error).message).toContain('the spot bid $0.001/hour is below the current spot price of t3.micro');
    expect((error as StarclusterError).hint).toContain('starcluster spothistory t3.micro');
    tally.push(`SpotMaxPriceTooLow: failed clearly, leaked ${await cleanUp(name)}`);
  }, 300_000);
});
