import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProvider } from '../../../src/cloud/index.js';
import type { Provider } from '../../../src/cloud/provider.js';
import { defaultTemplate, emptyConfig } from '../../../src/model/template.js';
import { renderPlan, startCluster } from '../../../src/cluster/start.js';
import { terminateCluster } from '../../../src/cluster/terminate.js';
import type { ClusterTemplate, StarclusterConfig } from '../../../src/config/types.js';
import { StarclusterError } from '../../../src/errors.js';
import { RecordingIoHost } from '../../_helpers/recording-io-host.js';
import { runCommand } from '../../_helpers/cli.js';
import { boto3, createKeyPair, deleteKeyPair, inventory } from '../../_helpers/localstack.js';

/**
 * Image aliases against LocalStack's EC2 and SSM, checked with boto3. LocalStack's SSM carries
 * Amazon's own /aws/service/ami-amazon-linux-latest/ parameters, pointing at AL2023 images its
 * EC2 knows (with their architectures), so `al2023` resolves exactly as on AWS. Other aliases
 * resolve once the fleet has written their parameters (localstack/fleet).
 */
const run = randomBytes(3).toString('hex');
const KEY = `sc-img-${run}`;
const AL2023 = '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-';
const OWN_PARAMETER = `/starcluster-it/${run}/golden`;
let dir: string;
let keyFile: string;
let provider: Provider;
let al2023: { x86_64: string; arm64: string };

function config(): StarclusterConfig {
  const c = emptyConfig(join(dir, 'config'));
  c.keys.set(KEY, { name: KEY, location: keyFile });
  return c;
}

function template(over: Partial<ClusterTemplate>): ClusterTemplate {
  return defaultTemplate({
    name: 'images',
    provider: 'ec2',
    keyname: KEY,
    key: { name: KEY, location: keyFile },
    clusterSize: 2,
    nodeInstanceType: 't3.micro',
    sshCidr: '198.51.100.0/24',
    ...over,
  });
}

function start(name: string, over: Partial<ClusterTemplate>, mode: 'create' | 'plan' = 'create') {
  return startCluster({
    name,
    template: template(over),
    config: config(),
    io: new RecordingIoHost(),
    provider,
    mode,
    skipSetup: true,
    skipEngines: true,
    stateDir: join(dir, 'state', name),
  });
}

/** What SSM says, and which key pairs exist, read by boto3. */
function ssmValue(name: string): Promise<string> {
  return boto3<string>(
    `ssm = boto3.client('ssm', endpoint_url=os.environ['AWS_ENDPOINT_URL'], region_name=os.environ.get('AWS_REGION', 'us-east-1'))
out = ssm.get_parameter(Name=args['name'])['Parameter']['Value']`,
    { name },
  );
}

const cli = (...args: string[]) => runCommand(args, { env: { STARCLUSTER_HOME: join(dir, 'home') } });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sc-img-'));
  keyFile = join(dir, 'key.pem');
  await writeFile(keyFile, (await createKeyPair(KEY)).material, { mode: 0o600 });
  provider = await createProvider(undefined, undefined, {
    kind: 'ec2',
    ec2Options: { waitTimeoutSeconds: 120, sgDeleteDelaysMs: [500, 1000, 2000, 4000, 8000] },
  });
  al2023 = { x86_64: await ssmValue(`${AL2023}x86_64`), arm64: await ssmValue(`${AL2023}arm64`) };
  await boto3(
    `ssm = boto3.client('ssm', endpoint_url=os.environ['AWS_ENDPOINT_URL'], region_name=os.environ.get('AWS_REGION', 'us-east-1'))
ssm.put_parameter(Name=args['name'], Value=args['value'], Type='String', Overwrite=True)
out = None`,
    { name: OWN_PARAMETER, value: al2023.arm64 },
  );
});

afterAll(async () => {
  await boto3(
    `ssm = boto3.client('ssm', endpoint_url=os.environ['AWS_ENDPOINT_URL'], region_name=os.environ.get('AWS_REGION', 'us-east-1'))
ssm.delete_parameter(Name=args['name'])
out = None`,
    { name: OWN_PARAMETER },
  ).catch(() => undefined);
  await deleteKeyPair(KEY).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe('image aliases on LocalStack', () => {
  it('resolves al2023 through SSM for each instance type architecture, and resolve:ssm: for your own parameter', async () => {
    expect(al2023.x86_64).toMatch(/^ami-/);
    expect(al2023.arm64).not.toBe(al2023.x86_64);
    const resolution = await provider.resolveImages?.([
      { image: 'al2023', instanceType: 't3.micro' },
      { image: 'al2023', instanceType: 'm7g.large' },
      { image: `resolve:ssm:${OWN_PARAMETER}`, instanceType: 'c7g.large' },
    ]);
    expect(resolution?.problems).toEqual([]);
    expect(resolution?.images.map((i) => [i.imageId, i.architecture, i.loginUser])).toEqual([
      [al2023.x86_64, 'x86_64', 'ec2-user'],
      [al2023.arm64, 'arm64', 'ec2-user'],
      // A name Amazon's images keep: the login user is known without an alias.
      [al2023.arm64, 'arm64', 'ec2-user'],
    ]);
  });

  it('launches what the alias resolves to, tags the login user, and --plan shows alias → id', async () => {
    const name = `img-${run}-a`;
    const plan = await start(name, { nodeImageId: 'al2023', masterInstanceType: 'm7g.large' }, 'plan');
    // The setup file exports AWS_REGION; the plan says where the region came from.
    expect(renderPlan(plan.plan)).toContain(`Plan for cluster ${name} (ec2, us-east-1 from $AWS_REGION):`);
    expect(plan.plan.actions.filter((a) => a.resource === 'instances').map((a) => a.detail)).toEqual([
      `1 × m7g.large al2023 → ${al2023.arm64} on-demand, login ec2-user`,
      `1 × t3.micro al2023 → ${al2023.x86_64} on-demand, login ec2-user`,
    ]);
    try {
      await start(name, { nodeImageId: 'al2023', masterInstanceType: 'm7g.large' });
      const seen = await boto3<{ alias: string; image: string; login: string }[]>(
        `res = ec2.describe_instances(Filters=[{'Name': 'tag:starcluster:cluster', 'Values': [args['name']]},
                                           {'Name': 'instance-state-name', 'Values': ['pending', 'running']}])
out = sorted([{'alias': tags(i)['starcluster:alias'], 'image': i['ImageId'], 'login': tags(i).get('starcluster:login-user')}
              for r in res['Reservations'] for i in r['Instances']], key=lambda x: x['alias'])`,
        { name },
      );
      expect(seen).toEqual([
        { alias: 'master', image: al2023.arm64, login: 'ec2-user' },
        { alias: 'node001', image: al2023.x86_64, login: 'ec2-user' },
      ]);
      expect((await provider.listNodes(name)).map((n) => n.loginUser)).toEqual(['ec2-user', 'ec2-user']);
    } finally {
      await terminateCluster({
        name,
        config: config(),
        io: new RecordingIoHost(),
        provider,
        confirm: true,
        skipHooks: true,
      });
    }
    expect((await inventory(name)).instances).toEqual([]);
  });

  it('refuses an x86_64 AMI on a Graviton type before creating anything (exit 3)', async () => {
    const name = `img-${run}-b`;
    const keysBefore = await boto3<string[]>(
      `out = sorted(k['KeyName'] for k in ec2.describe_key_pairs()['KeyPairs'])`,
    );
    const failure = await start(name, { nodeImageId: al2023.x86_64, nodeInstanceType: 'm7g.large' }).catch(
      (e: unknown) => e,
    );
    expect(StarclusterError.is(failure)).toBe(true);
    const error = failure as StarclusterError;
    expect([error.code, error.exitCode]).toEqual(['ArchitectureMismatch', 3]);
    expect(error.details.join('\n')).toContain(`AMI ${al2023.x86_64}`);
    expect(error.details.join('\n')).toMatch(/is x86_64, but instance type m7g\.large runs arm64: use an arm64 AMI/);
    expect(await inventory(name)).toEqual({ instances: [], securityGroups: [], placementGroups: [], spotRequests: [] });
    expect(await boto3<string[]>(`out = sorted(k['KeyName'] for k in ec2.describe_key_pairs()['KeyPairs'])`)).toEqual(
      keysBefore,
    );
  });

  it('refuses a paravirtual AMI on a type that boots only hvm (StarCluster’s own AMIs are paravirtual)', async () => {
    const name = `img-${run}-d`;
    const paravirtual = await boto3<string>(
      `out = sorted(i['ImageId'] for i in ec2.describe_images()['Images'] if i.get('VirtualizationType') == 'paravirtual' and i.get('Architecture') == 'x86_64')[0]`,
    );
    const failure = await start(name, { nodeImageId: paravirtual }).catch((e: unknown) => e);
    expect(StarclusterError.is(failure) && [failure.code, failure.exitCode]).toEqual(['VirtualizationMismatch', 3]);
    expect((failure as StarclusterError).details.join('\n')).toContain('but instance type t3.micro boots only hvm');
    expect(await inventory(name)).toEqual({ instances: [], securityGroups: [], placementGroups: [], spotRequests: [] });
  });

  it('listpublic --json lists every alias per architecture with the id it resolves to; start -v exits 3 on a mismatch', async () => {
    const configFile = join(dir, 'config');
    await writeFile(
      configFile,
      [
        '[global]',
        'DEFAULT_TEMPLATE = arm',
        `[key ${KEY}]`,
        `KEY_LOCATION = ${keyFile}`,
        '[cluster arm]',
        `KEYNAME = ${KEY}`,
        'CLUSTER_SIZE = 2',
        `NODE_IMAGE_ID = ${al2023.x86_64}`,
        'NODE_INSTANCE_TYPE = t4g.small',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const listed = await cli('listpublic', '--json', '--config', configFile);
    expect(listed.code, listed.out).toBe(0);
    const result = JSON.parse(listed.stdout) as {
      region: string;
      images: { alias: string; architecture: string; imageId?: string; parameter: string }[];
    };
    expect(result.images.map((i) => `${i.alias}/${i.architecture}`)).toEqual([
      'debian-12/x86_64',
      'debian-12/arm64',
      'ubuntu-24.04/x86_64',
      'ubuntu-24.04/arm64',
      'ubuntu-22.04/x86_64',
      'ubuntu-22.04/arm64',
      'al2023/x86_64',
      'al2023/arm64',
    ]);
    expect(result.images.filter((i) => i.alias === 'al2023').map((i) => i.imageId)).toEqual([
      al2023.x86_64,
      al2023.arm64,
    ]);

    const checked = await cli('start', `img-${run}-c`, '--validate-only', '--config', configFile);
    expect(checked.code, checked.out).toBe(3);
    expect(checked.out).toContain('instance type t4g.small runs arm64');
    expect(checked.out).toContain('or an image alias (debian-12, ubuntu-24.04, ubuntu-22.04, al2023)');
  });
});
