import { randomBytes } from 'node:crypto';
import { generateKeyPairSync } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProvider } from '../../../src/cloud/index.js';
import type { Provider } from '../../../src/cloud/provider.js';
import type { ClusterTemplate, StarclusterConfig } from '../../../src/config/types.js';
import { StarclusterError } from '../../../src/errors.js';
import { restartCluster, stopCluster } from '../../../src/cluster/lifecycle.js';
import { listClusters, renderClusters } from '../../../src/cluster/list.js';
import { defaultTemplate, emptyConfig } from '../../../src/model/template.js';
import { addNodes, removeNodes, resizeCluster } from '../../../src/cluster/resize.js';
import { renderPlan, startCluster } from '../../../src/cluster/start.js';
import { terminateCluster } from '../../../src/cluster/terminate.js';
import { RecordingIoHost } from '../../_helpers/recording-io-host.js';
import { boto3, createKeyPair, deleteKeyPair, inventory, someImage } from '../../_helpers/localstack.js';

/**
 * The EC2 side of the cluster lifecycle against a real LocalStack, every outcome checked with
 * boto3 (an independent client). Node setup and engines are skipped: these tests are about what
 * exists in EC2 (the fleet tests cover SSH setup).
 */
const run = randomBytes(3).toString('hex');
const KEY = `sc-it-${run}`;
let dir: string;
let keyFile: string;
let image: string;
let provider: Provider;

function config(): StarclusterConfig {
  const c = emptyConfig(join(dir, 'config'));
  c.keys.set(KEY, { name: KEY, location: keyFile });
  return c;
}

function template(over: Partial<ClusterTemplate> = {}): ClusterTemplate {
  return defaultTemplate({
    name: 'ittemplate',
    provider: 'ec2',
    keyname: KEY,
    key: { name: KEY, location: keyFile },
    clusterSize: 3,
    nodeImageId: image,
    nodeInstanceType: 't3.micro',
    sshCidr: '198.51.100.0/24',
    ...over,
  });
}

function start(
  name: string,
  over: Partial<ClusterTemplate> = {},
  extra: Partial<Parameters<typeof startCluster>[0]> = {},
) {
  return startCluster({
    name,
    template: template(over),
    config: config(),
    io: new RecordingIoHost(),
    provider,
    skipSetup: true,
    skipEngines: true,
    stateDir: join(dir, 'state', name),
    ...extra,
  });
}

function terminate(name: string) {
  return terminateCluster({
    name,
    config: config(),
    io: new RecordingIoHost(),
    provider,
    confirm: true,
    skipHooks: true,
  });
}

const empty = { instances: [], securityGroups: [], placementGroups: [], spotRequests: [] };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sc-ec2-'));
  keyFile = join(dir, 'key.pem');
  const pair = await createKeyPair(KEY);
  await writeFile(keyFile, pair.material, { mode: 0o600 });
  image = await someImage();
  provider = await createProvider(undefined, undefined, {
    kind: 'ec2',
    ec2Options: { waitTimeoutSeconds: 120, sgDeleteDelaysMs: [500, 1000, 2000, 4000, 8000] },
  });
});

afterAll(async () => {
  await deleteKeyPair(KEY).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe('start → listclusters → terminate', () => {
  it('makes 3 tagged instances and one security group, lists them, then leaves nothing', async () => {
    const name = `it-${run}-a`;
    const result = await start(name);
    expect(result.nodes.map((n) => n.alias)).toEqual(['master', 'node001', 'node002']);
    expect(result.created.instanceIds).toHaveLength(3);

    const seen = await inventory(name);
    expect(seen.instances).toHaveLength(3);
    expect(seen.instances.every((i) => i.state === 'running')).toBe(true);
    expect(seen.instances.map((i) => i.name).sort()).toEqual([`${name}-master`, `${name}-node001`, `${name}-node002`]);
    expect(seen.instances.filter((i) => i.role === 'master').map((i) => i.alias)).toEqual(['master']);
    expect(seen.securityGroups).toHaveLength(1);
    const sg = seen.securityGroups[0];
    expect(sg?.name).toBe(`@sc-${name}`);
    expect(sg?.tags['starcluster:cluster']).toBe(name);
    // 22 from SSH_CIDR and all traffic within the group: nothing open to the world.
    const ingress = JSON.stringify(sg?.ingress);
    expect(ingress).toContain('198.51.100.0/24');
    expect(ingress).toContain(sg?.id ?? 'missing');
    expect(ingress).not.toContain('0.0.0.0/0');

    const clusters = await listClusters({ providers: [provider], names: [name] });
    expect(clusters).toHaveLength(1);
    expect(clusters[0]?.nodes.map((n) => `${n.alias}:${n.state}:${n.instanceType}`)).toEqual([
      'master:running:t3.micro',
      'node001:running:t3.micro',
      'node002:running:t3.micro',
    ]);
    expect(clusters[0]?.nodes.every((n) => n.privateIp)).toBe(true);
    expect(clusters[0]?.securityGroup?.name).toBe(`@sc-${name}`);

    // Cost so far: each running node's on-demand estimate (t3.micro $0.0104/h in us-east-1) × its time
    // since launch; two hours after the master's launch, from the same launch times LocalStack reports.
    const launched = clusters[0]?.nodes.map((n) => Date.parse(n.launchTime ?? '')) ?? [];
    const later = new Date(Math.max(...launched) + 2 * 3600_000);
    const [priced] = await listClusters({ providers: [provider], names: [name], now: later });
    const expected = launched.reduce((sum, t) => sum + (0.0104 * (later.getTime() - t)) / 3600_000, 0);
    expect(priced?.cost?.hourlyCostUsd).toBeCloseTo(3 * 0.0104, 6);
    expect(priced?.cost?.costSoFarUsd).toBeCloseTo(expected, 3);
    expect(renderClusters(priced ? [priced] : [])).toMatch(
      /cost: \$0\.06\d\d so far, \$0\.0312\/hour now \(on-demand estimate from a built-in price table\)/,
    );

    const gone = await terminate(name);
    expect(gone.terminated).toHaveLength(3);
    expect(gone.deletedSecurityGroups).toEqual([sg?.id]);
    expect(await inventory(name)).toEqual(empty);

    // Idempotent: a second terminate finds nothing and succeeds.
    expect((await terminate(name)).alreadyGone).toBe(true);
  });

  it('MAX_LIFETIME / IDLE_SHUTDOWN: nodes launch to terminate on shutdown; what self-terminated nodes leave, terminate removes', async () => {
    const name = `it-${run}-life`;
    const result = await start(name, { clusterSize: 2, maxLifetime: 120, idleShutdown: 30 });
    const ids = result.created.instanceIds;
    const behaviour = (instanceIds: string[]) =>
      boto3<string[]>(
        "out = [ec2.describe_instance_attribute(InstanceId=i, Attribute='instanceInitiatedShutdownBehavior')['InstanceInitiatedShutdownBehavior']['Value'] for i in args]",
        instanceIds,
      );
    expect(await behaviour(ids)).toEqual(['terminate', 'terminate']);
    // Without either setting, EC2's default (stop) is left alone.
    const plain = await start(`it-${run}-nolife`, { clusterSize: 1 });
    expect(await behaviour(plain.created.instanceIds)).toEqual(['stop']);
    await terminate(`it-${run}-nolife`);
    // The nodes power themselves off (EC2 terminates them): only the security group is left, by its tag.
    await boto3('ec2.terminate_instances(InstanceIds=args); out = None', ids);
    await boto3("ec2.get_waiter('instance_terminated').wait(InstanceIds=args); out = None", ids);
    const left = await listClusters({ providers: [provider], names: [name] });
    expect(left[0]?.nodes).toEqual([]);
    expect(left[0]?.securityGroup?.name).toBe(`@sc-${name}`);
    await terminate(name);
    expect(await inventory(name)).toEqual(empty);
  });

  it('resumes a half-made cluster: the security group and nodes are reused, missing nodes added', async () => {
    const name = `it-${run}-resume`;
    await start(name, { clusterSize: 2 });
    const before = await inventory(name);
    const again = await start(name, { clusterSize: 3 });
    expect(again.resumed).toBe(true);
    expect(again.created.securityGroupId).toBeUndefined();
    expect(again.created.instanceIds).toHaveLength(1);
    const after = await inventory(name);
    expect(after.securityGroups.map((g) => g.id)).toEqual(before.securityGroups.map((g) => g.id));
    expect(after.instances.map((i) => i.alias).sort()).toEqual(['master', 'node001', 'node002']);
    await terminate(name);
    expect(await inventory(name)).toEqual(empty);
  });

  it('grows and shrinks at the EC2 level with the next free aliases, removing the highest first', async () => {
    const name = `it-${run}-resize`;
    await start(name, { clusterSize: 2 });
    const io = new RecordingIoHost();
    const added = await addNodes({ name, config: config(), io, provider, count: 2, skipHooks: true });
    expect(added.added.map((n) => n.alias)).toEqual(['node002', 'node003']);
    const removed = await removeNodes({
      name,
      config: config(),
      io,
      provider,
      count: 1,
      confirm: true,
      skipHooks: true,
    });
    expect(removed.removed.map((n) => n.alias)).toEqual(['node003']);
    const shrunk = await resizeCluster({
      name,
      config: config(),
      io,
      provider,
      size: 2,
      confirm: true,
      skipHooks: true,
    });
    expect(shrunk.removed.map((n) => n.alias)).toEqual(['node002']);
    const left = await inventory(name);
    expect(
      left.instances
        .filter((i) => i.state !== 'shutting-down')
        .map((i) => i.alias)
        .sort(),
    ).toEqual(['master', 'node001']);
    await terminate(name);
    expect(await inventory(name)).toEqual(empty);
  });

  it('removenode -k: the kept instance leaves @sc-NAME for the VPC default group; terminate then succeeds and leaves it running', async () => {
    const name = `it-${run}-keep`;
    await start(name, { clusterSize: 3 });
    const kept = (await inventory(name)).instances.find((i) => i.alias === 'node002');
    const io = new RecordingIoHost();
    await removeNodes({
      name,
      config: config(),
      io,
      provider,
      aliases: ['node002'],
      keepInstances: true,
      confirm: true,
      skipHooks: true,
    });
    const look = () =>
      boto3<{ groups: string[]; cluster?: string; state: string; defaultGroup: string }>(
        `
i = ec2.describe_instances(InstanceIds=[args['id']])['Reservations'][0]['Instances'][0]
d = ec2.describe_security_groups(Filters=[{'Name': 'group-name', 'Values': ['default']}, {'Name': 'vpc-id', 'Values': [i['VpcId']]}])['SecurityGroups'][0]
out = {'groups': [g['GroupId'] for g in i['SecurityGroups']], 'cluster': tags(i).get('starcluster:cluster'),
       'state': i['State']['Name'], 'defaultGroup': d['GroupId']}
`,
        { id: kept?.id },
      );
    const moved = await look();
    expect(moved.groups).toEqual([moved.defaultGroup]);
    expect(moved.cluster).toBe(`removed-from-${name}`);
    const gone = await terminate(name);
    expect(gone.terminated).not.toContain(kept?.id);
    expect(gone.deletedSecurityGroups).toHaveLength(1);
    expect(await inventory(name)).toEqual(empty);
    expect((await look()).state).toBe('running');
    await boto3(`ec2.terminate_instances(InstanceIds=[args['id']])\nout = None`, { id: kept?.id });
  });

  it('stop keeps the nodes (stopped), start resumes them, restart reboots them', async () => {
    const name = `it-${run}-stop`;
    await start(name, { clusterSize: 2 });
    const io = new RecordingIoHost();
    const stopped = await stopCluster({ name, config: config(), io, provider, confirm: true, skipHooks: true });
    expect(stopped.stopped).toHaveLength(2);
    expect((await inventory(name)).instances.map((i) => i.state)).toEqual(['stopped', 'stopped']);
    const resumed = await start(name, { clusterSize: 2 });
    expect(resumed.resumed).toBe(true);
    expect(resumed.created.instanceIds).toEqual([]);
    expect((await inventory(name)).instances.map((i) => i.state)).toEqual(['running', 'running']);
    const rebooted = await restartCluster({ name, config: config(), io, provider, rebootOnly: true, skipHooks: true });
    expect(rebooted.rebooted).toHaveLength(2);
    await terminate(name);
    expect(await inventory(name)).toEqual(empty);
  });

  it('makes workers spot instances when SPOT_BID is set, keeping the master on-demand', async () => {
    const name = `it-${run}-spot`;
    await start(name, { clusterSize: 3, spotBid: 0.05 });
    const seen = await inventory(name);
    expect(seen.instances.map((i) => `${i.alias}:${i.lifecycle}`).sort()).toEqual([
      'master:on-demand',
      'node001:spot',
      'node002:spot',
    ]);
    await terminate(name);
    expect(await inventory(name)).toEqual(empty);
  });

  it('asks for a placement group for types that support one (LocalStack has none: it launches without)', async () => {
    const name = `it-${run}-pg`;
    const io = new RecordingIoHost();
    await start(name, { clusterSize: 2, nodeInstanceType: 'c5.large' }, { io });
    const pg = io.events.find((e) => e.id === 'placement-group' && e.state === 'done');
    expect(pg?.detail).toMatch(/no placement groups/);
    expect((await inventory(name)).instances).toHaveLength(2);
    await terminate(name);
    expect(await inventory(name)).toEqual(empty);
  });
});

describe('validation, plan and dry run create nothing', () => {
  async function failure(name: string, over: Partial<ClusterTemplate>): Promise<StarclusterError> {
    const error: unknown = await start(name, over).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!StarclusterError.is(error)) throw new Error(`expected a StarclusterError, got ${String(error)}`);
    expect(await inventory(name)).toEqual(empty);
    return error;
  }

  it('rejects an unknown instance type (exit 4)', async () => {
    const e = await failure(`it-${run}-badtype`, { nodeInstanceType: 'z9.imaginary' });
    expect(e.exitCode).toBe(4);
    expect(e.details.join('\n')).toMatch(/instance type z9\.imaginary is not offered/);
  });

  it('rejects a missing AMI (exit 4)', async () => {
    const e = await failure(`it-${run}-badami`, { nodeImageId: 'ami-0000dead' });
    expect(e.exitCode).toBe(4);
    expect(e.details.join('\n')).toMatch(/AMI ami-0000dead does not exist/);
  });

  it('rejects a missing key file (exit 3)', async () => {
    const e = await failure(`it-${run}-nokey`, { key: { name: KEY, location: join(dir, 'nope.pem') } });
    expect(e.exitCode).toBe(3);
    expect(e.details.join('\n')).toMatch(/nope\.pem does not exist/);
  });

  it('rejects a key file others can read (0644) (exit 3)', async () => {
    const open = join(dir, 'open.pem');
    await writeFile(open, 'x');
    await chmod(open, 0o644);
    const e = await failure(`it-${run}-mode`, { key: { name: KEY, location: open } });
    expect(e.exitCode).toBe(3);
    expect(e.details.join('\n')).toMatch(/mode 0644.*chmod 600/);
  });

  it('rejects a key file that is not the key pair’s (fingerprint mismatch) (exit 4)', async () => {
    const other = join(dir, 'other.pem');
    const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' });
    await writeFile(other, pem, { mode: 0o600 });
    const e = await failure(`it-${run}-fp`, { key: { name: KEY, location: other } });
    expect(e.exitCode).toBe(4);
    expect(e.code).toBe('KeyFingerprintMismatch');
  });

  it('rejects an unknown zone (exit 4)', async () => {
    const e = await failure(`it-${run}-zone`, { availabilityZone: 'us-east-1z' });
    expect(e.exitCode).toBe(4);
    expect(e.details.join('\n')).toMatch(/availability zone us-east-1z does not exist/);
  });

  it('reports every problem at once', async () => {
    const e = await failure(`it-${run}-many`, {
      nodeInstanceType: 'z9.imaginary',
      nodeImageId: 'ami-0000dead',
      availabilityZone: 'us-east-1z',
      key: { name: KEY, location: join(dir, 'nope.pem') },
    });
    expect(e.exitCode).toBe(3);
    expect(e.details).toHaveLength(4);
  });

  it('--plan lists the resources and an estimated cost; --dry-run asks EC2; neither creates anything', async () => {
    const name = `it-${run}-plan`;
    const plan = await start(name, { nodeInstanceType: 'm5.large' }, { mode: 'plan' });
    const text = renderPlan(plan.plan);
    expect(text).toContain(`create security-group @sc-${name}`);
    expect(text).toMatch(/create instances node001,node002: 2 × m5\.large/);
    expect(plan.plan.hourlyCostUsd).toBeCloseTo(3 * 0.096, 6);
    expect(text).toMatch(/Estimated cost: \$0\.2880\/hour .*estimate/);
    const dry = await start(name, {}, { mode: 'dry-run' });
    expect(dry.dryRun?.join('\n')).toMatch(/RunInstances 2 × t3\.micro .*would succeed/);
    expect(await inventory(name)).toEqual(empty);
  });
});

describe('an interrupted start', () => {
  // Abort when a step reports done: the next boundary sees the signal and rolls back.
  for (const step of ['validate', 'security-group', 'launch', 'wait-running']) {
    it(`leaves nothing that terminate does not remove (interrupted after ${step})`, async () => {
      const name = `it-${run}-int-${step}`;
      const controller = new AbortController();
      const io = new RecordingIoHost();
      const progress = io.progress.bind(io);
      io.progress = (event) => {
        progress(event);
        if (event.id === step && event.state === 'done') controller.abort();
      };
      const error: unknown = await startCluster({
        name,
        template: template({ clusterSize: 2 }),
        config: config(),
        io,
        provider,
        signal: controller.signal,
        skipSetup: true,
        skipEngines: true,
        stateDir: join(dir, 'state', name),
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(StarclusterError.is(error) && error.exitCode).toBe(130);
      // Rollback already removed what the run made; terminate finishes anything left.
      await terminate(name);
      expect(await inventory(name)).toEqual(empty);
    });
  }
});
