import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SshConnection } from '../../../src/remote/index.js';
import { boto3 } from '../../_helpers/localstack.js';
import { fleetEnv, fleetUnavailable, ROOT, type FleetEnv } from './fleet-env.js';

// The fleet's stock images, as a user of the official Debian 12 AMI meets them: the AMI id comes
// from AWS's public SSM parameter, the host runs the image's own userland set up by cloud-init from
// the instance's user data, the login user is `admin` with the key pair's key and sudo, root is
// refused unless user data allows it, and packages come only through the fleet's caching proxy.
const run = promisify(execFile);
const skip = fleetUnavailable();
const DEBIAN_PARAM = '/aws/service/debian/release/12/latest/amd64';
const AL2023_PARAM = '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';

interface Launched {
  id: string;
  ip: string;
}

interface ProxyStats {
  fetched: number;
  served: number;
  fetchedDebs: number;
  servedDebs: number;
}

describe.skipIf(skip)(`fleet stock images: Debian 12${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let env: FleetEnv;
  let debianAmi: string;
  let plain: Launched;
  let rootAllowed: Launched;
  const connections: SshConnection[] = [];

  async function launch(imageId: string, userData?: string): Promise<Launched> {
    return boto3<Launched>(
      `
kw = dict(ImageId=args['image'], MinCount=1, MaxCount=1, KeyName=args['key'], SubnetId=args['subnet'],
          InstanceType='t3.micro', TagSpecifications=[{'ResourceType': 'instance', 'Tags': [{'Key': 'starcluster:test', 'Value': 'images'}]}])
if args.get('userData'): kw['UserData'] = args['userData']
i = ec2.run_instances(**kw)['Instances'][0]
out = {'id': i['InstanceId'], 'ip': i['PrivateIpAddress']}
`,
      { image: imageId, key: env.keyName, subnet: env.subnet, userData },
    );
  }

  async function login(host: Launched, user: string): Promise<SshConnection> {
    const conn = await env.login(host, user, 'images-known-hosts');
    connections.push(conn);
    return conn;
  }

  async function proxyStats(): Promise<ProxyStats> {
    const { stdout } = await run(join(ROOT, 'localstack', 'fleet'), ['proxy-stats'], { env: process.env });
    return JSON.parse(stdout) as ProxyStats;
  }

  beforeAll(async () => {
    env = await fleetEnv();
    // The fleet builds its stock images in the background on a machine's first start (minutes; then cached).
    await run(join(ROOT, 'localstack', 'fleet'), ['build-images'], { env: process.env, timeout: 900_000 });
    debianAmi = await boto3<string>(
      `
ssm = boto3.client('ssm', endpoint_url=os.environ['AWS_ENDPOINT_URL'], region_name=os.environ.get('AWS_REGION', 'us-east-1'))
out = ssm.get_parameter(Name=args['name'])['Parameter']['Value']
`,
      { name: DEBIAN_PARAM },
    );
    // Both at once: the fleet boots them side by side.
    [plain, rootAllowed] = await Promise.all([
      launch(debianAmi),
      // As the product's own user data: ssh_pwauth makes cloud-init restart ssh while the host runs.
      launch(debianAmi, '#cloud-config\ndisable_root: false\nssh_pwauth: false\n'),
    ]);
  }, 900_000);

  afterAll(async () => {
    for (const c of connections) c.close();
    if (env) {
      await boto3(
        `
ids = [i['InstanceId'] for r in ec2.describe_instances(Filters=[{'Name': 'tag:starcluster:test', 'Values': ['images']},
       {'Name': 'instance-state-name', 'Values': ['pending', 'running']}])['Reservations'] for i in r['Instances']]
if ids: ec2.terminate_instances(InstanceIds=ids)
for v in ec2.describe_volumes(Filters=[{'Name': 'tag:starcluster:test', 'Values': ['images']}])['Volumes']:
    for a in v.get('Attachments', []):
        ec2.detach_volume(VolumeId=v['VolumeId'], InstanceId=a['InstanceId'], Device=a['Device'])
    ec2.delete_volume(VolumeId=v['VolumeId'])
out = ids
`,
      ).catch(() => undefined);
    }
  }, 120_000);

  it('is registered as AWS registers it: SSM parameter → AMI with a real-style name, x86_64, /dev/xvda', async () => {
    const image = await boto3<{ name: string; arch: string; root: string; tags: Record<string, string> }>(
      `
i = ec2.describe_images(ImageIds=[args['id']])['Images'][0]
out = {'name': i['Name'], 'arch': i['Architecture'], 'root': i['RootDeviceName'], 'tags': tags(i)}
`,
      { id: debianAmi },
    );
    expect(image.name).toMatch(/^debian-12-amd64-\d{8}-\d+$/);
    expect(image).toMatchObject({
      arch: 'x86_64',
      root: '/dev/xvda',
      tags: { 'starcluster:fleet-image': 'debian-12' },
    });
  });

  it('logs in as admin with the key pair: Debian 12 of its own, sudo, cloud-init done, no Node.js or sshfs', async () => {
    const admin = await login(plain, 'admin');
    const status = await admin.exec('cloud-init status --wait', { timeoutMs: 120_000 });
    expect(status.stdout).toMatch(/status: done/);
    const facts = await admin.exec(
      '. /etc/os-release; echo "$VERSION_CODENAME"; id -un; sudo -n true && echo sudo-ok; ' +
        'command -v node nodejs sshfs mount.nfs slurmd || echo none-of-them; hostname',
    );
    expect(facts).toMatchObject({ code: 0 });
    expect(facts.stdout.split('\n')).toEqual([
      'bookworm',
      'admin',
      'sudo-ok',
      'none-of-them',
      `ip-${plain.ip.replaceAll('.', '-')}`,
      '',
    ]);
  }, 300_000);

  it('has no way out but the package proxy: no default route; apt installs through the gateway', async () => {
    const admin = await login(plain, 'admin');
    const routes = await admin.exec('ip route');
    expect(routes.stdout).not.toMatch(/^default/m);
    const proxy = await admin.exec('apt-config dump Acquire::http::Proxy');
    expect(proxy.stdout).toMatch(/Acquire::http::Proxy "http:\/\/198\.1[89]\.\d+\.\d+:3142"/);
    const install = await admin.exec(
      'sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q hello && hello',
      { timeoutMs: 240_000 },
    );
    expect(install.stdout, install.stderr).toMatch(/Hello, world!/);
  }, 300_000);

  it('refuses root without user data, as the AMI does', async () => {
    const root = await login(plain, 'root');
    const attempt = await root.exec('id -u', { timeoutMs: 60_000 });
    expect(attempt.code).toBe(142);
    expect(attempt.stdout).toMatch(/Please login as the user "admin" rather than the user "root"/);
  }, 120_000);

  it('lets root in when user data says disable_root: false; a second install is served from the cache', async () => {
    const root = await login(rootAllowed, 'root');
    expect(await root.exec('cloud-init status --wait >/dev/null; id -u')).toMatchObject({ code: 0, stdout: '0\n' });
    // sshd was restarted by cloud-init (ssh_pwauth): the host lives on and takes new logins.
    const again = await login(rootAllowed, 'root');
    expect(await again.exec('id -u')).toMatchObject({ code: 0, stdout: '0\n' });
    const before = await proxyStats();
    const install = await root.exec(
      'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q hello && hello',
      { timeoutMs: 240_000 },
    );
    expect(install.stdout, install.stderr).toMatch(/Hello, world!/);
    const after = await proxyStats();
    // Warm: the package came from apt-cacher-ng's cache; nothing was downloaded again.
    expect(after.servedDebs).toBeGreaterThan(before.servedDebs);
    expect(after.fetchedDebs).toBe(before.fetchedDebs);
  }, 300_000);

  it('shows an attached EBS volume as EC2 does on Nitro: blank, found by its volume id, formattable', async () => {
    const volumeId = await boto3<string>(
      `
i = ec2.describe_instances(InstanceIds=[args['id']])['Reservations'][0]['Instances'][0]
v = ec2.create_volume(Size=1, AvailabilityZone=i['Placement']['AvailabilityZone'],
                      TagSpecifications=[{'ResourceType': 'volume', 'Tags': [{'Key': 'starcluster:test', 'Value': 'images'}]}])
ec2.attach_volume(VolumeId=v['VolumeId'], InstanceId=args['id'], Device='/dev/sdf')
out = v['VolumeId']
`,
      { id: plain.id },
    );
    const device = `/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${volumeId.replace('-', '')}`;
    const admin = await login(plain, 'admin');
    // The fleet attaches it on its next pass (bounded: 60 s). `readlink -e` answers only once the link and
    // what it names exist (`-f` would echo the by-id path itself while /dev/disk/by-id is there).
    let seen = '';
    for (let i = 0; i < 120 && !seen; i++) {
      seen = (await admin.exec(`readlink -e ${device} || true`)).stdout.trim();
      if (!seen) await sleep(500);
    }
    expect(seen).toBe('/dev/nvme1n1');
    expect((await admin.exec(`sudo blkid ${device}`)).code).toBe(2); // no filesystem yet
    const made = await admin.exec(`sudo mkfs.ext4 -q ${device} && sudo blkid -o value -s TYPE ${device}`);
    expect(made).toMatchObject({ code: 0, stdout: 'ext4\n' });
    await boto3(
      `
ec2.detach_volume(VolumeId=args['vol'], InstanceId=args['id'], Device='/dev/sdf')
out = None
`,
      { vol: volumeId, id: plain.id },
    );
  }, 120_000);

  it('an image the fleet only registers (Amazon Linux 2023) fails clearly in the fleet log', async () => {
    const ami = await boto3<string>(
      `
ssm = boto3.client('ssm', endpoint_url=os.environ['AWS_ENDPOINT_URL'], region_name=os.environ.get('AWS_REGION', 'us-east-1'))
out = ssm.get_parameter(Name=args['name'])['Parameter']['Value']
`,
      { name: AL2023_PARAM },
    );
    const host = await launch(ami);
    const logFile = join(ROOT, 'localstack', '.state', 'fleet', 'reconciler.log');
    let line: string | undefined;
    // The reconciler sees it on its next pass (bounded: 60 s).
    for (let i = 0; i < 120 && !line; i++) {
      line = (await readFile(logFile, 'utf8')).split('\n').find((l) => l.includes(`host ${host.id}: cannot boot`));
      if (!line) await sleep(500);
    }
    expect(line).toMatch(/al2023 x86_64\): the fleet registers this image for validation only/);
    expect((await env.hosts('-')).map((h) => h.id)).not.toContain(host.id);
  }, 120_000);
});
