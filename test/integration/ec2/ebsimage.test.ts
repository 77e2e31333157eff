import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProvider } from '../../../src/cloud/index.js';
import type { Provider } from '../../../src/cloud/provider.js';
import { runCommand } from '../../_helpers/cli.js';
import { boto3, createKeyPair, deleteKeyPair, someImage } from '../../_helpers/localstack.js';
import { checkZeroLeak, describeLeaks, leakCount } from '../../_helpers/zero-leak.js';

/**
 * StarCluster users saved their software stack with `ebsimage` and started the next cluster from
 * it. Here, as a user runs it (the commands, a config file) on LocalStack: start -o → ebsimage of the
 * master → start -o of a second cluster with that AMI as NODE_IMAGE_ID (-n/-m) at once → terminate
 * both → removeimage; then nothing is left (zero-leak check with boto3, image and snapshots too).
 */
const run = randomBytes(3).toString('hex');
const KEY = `sc-eimg-${run}`;
const FIRST = `img-a-${run}`;
const SECOND = `img-b-${run}`;
let dir: string;
let configFile: string;
let provider: Provider;

/** StarCluster's order: the global -c FILE before the command (run in process: test/_helpers/cli.ts). */
const cli = (...args: string[]) =>
  runCommand(['-c', configFile, ...args], { env: { STARCLUSTER_HOME: join(dir, 'home') } });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sc-eimg-'));
  provider = await createProvider(undefined, undefined, { kind: 'ec2' });
  const keyFile = join(dir, 'key.pem');
  await writeFile(keyFile, (await createKeyPair(KEY)).material, { mode: 0o600 });
  configFile = join(dir, 'config');
  await writeFile(
    configFile,
    [
      '[global]',
      'DEFAULT_TEMPLATE = small',
      `[key ${KEY}]`,
      `KEY_LOCATION = ${keyFile}`,
      '[cluster small]',
      `KEYNAME = ${KEY}`,
      'CLUSTER_SIZE = 2',
      `NODE_IMAGE_ID = ${await someImage()}`,
      'NODE_INSTANCE_TYPE = t3.micro',
      'SSH_CIDR = 198.51.100.0/24',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
});

afterAll(async () => {
  await cli('terminate', FIRST, SECOND, '-c').catch(() => undefined);
  // Whatever a failed run left: images of FIRST's nodes and their snapshots.
  await boto3(
    `flt = [{'Name': 'tag:starcluster:image-cluster', 'Values': [args['name']]}]
for i in ec2.describe_images(Owners=['self'], Filters=flt)['Images']: ec2.deregister_image(ImageId=i['ImageId'])
for s in ec2.describe_snapshots(OwnerIds=['self'], Filters=flt)['Snapshots']: ec2.delete_snapshot(SnapshotId=s['SnapshotId'])
out = 0`,
    { name: FIRST },
  ).catch(() => undefined);
  await deleteKeyPair(KEY).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe('ebsimage', () => {
  it('makes an AMI of a node that the next start uses as NODE_IMAGE_ID at once; nothing leaks', async () => {
    expect((await cli('start', FIRST, '-o')).code).toBe(0);
    const listed = JSON.parse((await cli('listclusters', FIRST, '--json')).stdout) as {
      nodes: { alias: string; id: string }[];
    }[];
    const master = listed[0]?.nodes.find((n) => n.alias === 'master');
    expect(master?.id).toMatch(/^i-/);

    const made = await cli('ebsimage', master!.id, `stack-${run}`, '-d', 'my software stack', '--json');
    expect(made.code, made.out).toBe(0);
    const image = JSON.parse(made.stdout) as { imageId: string; state: string; cluster: string; node: string };
    expect(image).toMatchObject({ state: 'available', cluster: FIRST, node: 'master' });
    const seen = await boto3<{ state: string; description: string; tags: Record<string, string> }>(
      `i = ec2.describe_images(ImageIds=[args['id']])['Images'][0]
out = {'state': i['State'], 'description': i.get('Description'), 'tags': tags(i)}`,
      { id: image.imageId },
    );
    expect(seen).toMatchObject({
      state: 'available',
      description: 'my software stack',
      tags: {
        'starcluster:image-of': master!.id,
        'starcluster:image-cluster': FIRST,
        'starcluster:image-node': 'master',
      },
    });

    // The same name again is a usage error, not a second image.
    const again = await cli('ebsimage', master!.id, `stack-${run}`);
    expect(again.code, again.out).toBe(2);
    expect(again.out).toContain('already exists');

    // At once: a create-only start of a second cluster from the new AMI (validation checks it is available).
    const second = await cli('start', SECOND, '-o', '-n', image.imageId, '-m', image.imageId);
    expect(second.code, second.out).toBe(0);
    const images = await boto3<string[]>(
      `out = sorted({i['ImageId'] for r in ec2.describe_instances(Filters=[{'Name': 'tag:starcluster:cluster', 'Values': [args['name']]}, {'Name': 'instance-state-name', 'Values': ['pending', 'running']}])['Reservations'] for i in r['Instances']})`,
      { name: SECOND },
    );
    expect(images).toEqual([image.imageId]);

    // listclusters -s: SSH status per node (LocalStack boots nothing: every node is down).
    const ssh = JSON.parse((await cli('listclusters', SECOND, '-s', '--json')).stdout) as {
      nodes: { ssh?: string }[];
    }[];
    expect(ssh[0]?.nodes.map((n) => n.ssh)).toEqual(['down', 'down']);

    // stop takes several clusters (-f: no hooks on nodes that cannot answer); start -x brings one back
    // without launching anything.
    const stopped = await cli('stop', FIRST, SECOND, '-c', '-f', '--json');
    expect(stopped.code, stopped.out).toBe(0);
    expect((JSON.parse(stopped.stdout) as { stopped: string[] }[]).map((r) => r.stopped.length)).toEqual([2, 2]);
    const resumed = await cli('start', FIRST, '-x', '-o', '--json');
    expect(resumed.code, resumed.out).toBe(0);
    expect((JSON.parse(resumed.stdout) as { created: { instanceIds: string[] } }).created.instanceIds).toEqual([]);
    const states = await boto3<string[]>(
      `out = sorted(i['State']['Name'] for r in ec2.describe_instances(Filters=[{'Name': 'tag:starcluster:cluster', 'Values': [args['name']]}])['Reservations'] for i in r['Instances'] if i['State']['Name'] != 'terminated')`,
      { name: FIRST },
    );
    expect(states).toEqual(['running', 'running']);

    expect((await cli('terminate', FIRST, SECOND, '-c')).code).toBe(0);
    const pretend = JSON.parse((await cli('removeimage', image.imageId, '-p', '--json')).stdout) as {
      removed: boolean;
    };
    expect(pretend.removed).toBe(false);
    const removed = await cli('removeimage', image.imageId, '-c', '--json');
    expect(removed.code, removed.out).toBe(0);
    const left = await boto3<{ images: number; snapshots: string[] }>(
      `out = {'images': len(ec2.describe_images(Filters=[{'Name': 'tag:starcluster:image-of', 'Values': [args['master']]}])['Images']),
       'snapshots': [s['SnapshotId'] for s in ec2.describe_snapshots(Filters=[{'Name': 'tag:starcluster:image-of', 'Values': [args['master']]}])['Snapshots']]}`,
      { master: master!.id },
    );
    expect(left).toEqual({ images: 0, snapshots: [] });
    for (const name of [FIRST, SECOND]) {
      const report = await checkZeroLeak(name, { endpoint: process.env.AWS_ENDPOINT_URL ?? '' });
      expect(leakCount(report), describeLeaks(report)).toBe(0);
    }
  }, 900_000);

  it('refuses a missing instance (exit 4) and the paravirtual-era flags (exit 2)', async () => {
    const missing = await cli('ebsimage', 'i-0000000000000dead', `none-${run}`);
    expect(missing.code, missing.out).toBe(4);
    expect(missing.out).toContain('does not exist');
    const kernel = await cli('ebsimage', 'i-0000000000000dead', `none-${run}`, '-k', 'aki-1');
    expect(kernel.code, kernel.out).toBe(2);
    // start -x needs a cluster to bring back: it launches nothing.
    const none = await cli('start', `none-${run}`, '-x');
    expect(none.code, none.out).toBe(4);
    expect(none.out).toContain('-x launches none');
  }, 300_000);
});

describe('volumes, the StarCluster way', () => {
  it('createvolume tags the format command; -s (volume host) is a usage error, never an unexpected one', async () => {
    const vol = await provider.account().createVolume({
      sizeGb: 2,
      zone: 'us-east-1a',
      name: `fmt-${run}`,
      mkfsCmd: 'mkfs.xfs',
    });
    try {
      expect(vol.tags['starcluster:mkfs']).toBe('mkfs.xfs');
    } finally {
      await provider.account().removeVolumes([vol.id]);
    }
    const host = await cli('createvolume', '2', 'us-east-1a', '-s');
    expect(host.code, host.out).toBe(2);
    expect(host.out).toMatch(/no volume host/);
    expect(host.out).not.toContain('unexpected error');
  }, 300_000);

  it('resizevolume makes a bigger copy tagged to grow its filesystem, keeps the original, deletes the snapshot', async () => {
    const vol = await provider.account().createVolume({ sizeGb: 2, zone: 'us-east-1a', name: `rs-${run}` });
    let made: string | undefined;
    try {
      const r = await provider.account().resizeVolume({ volumeId: vol.id, sizeGb: 5 });
      made = r.volume.id;
      expect(r.volume).toMatchObject({ sizeGb: 5, zone: 'us-east-1a' });
      expect(r.volume.tags).toMatchObject({ 'starcluster:resizefs': 'resize2fs', 'starcluster:resized-from': vol.id });
      const seen = await boto3<{ sizes: number[]; snapshots: number }>(
        `out = {'sizes': sorted(v['Size'] for v in ec2.describe_volumes(VolumeIds=[args['a'], args['b']])['Volumes']),
         'snapshots': len(ec2.describe_snapshots(Filters=[{'Name': 'tag:starcluster:resize-of', 'Values': [args['a']]}])['Snapshots'])}`,
        { a: vol.id, b: made },
      );
      expect(seen).toEqual({ sizes: [2, 5], snapshots: 0 });
      await expect(provider.account().resizeVolume({ volumeId: vol.id, sizeGb: 1 })).rejects.toMatchObject({
        code: 'VolumeNotLarger',
      });
    } finally {
      await provider.account().removeVolumes([vol.id, ...(made ? [made] : [])]);
    }
  });

  it('listspots lists requests (open and active by default)', async () => {
    const spots = await provider.account().listSpots();
    expect(spots.every((s) => s.state === 'open' || s.state === 'active')).toBe(true);
  });
});
