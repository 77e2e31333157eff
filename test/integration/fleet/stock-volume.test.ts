import { execFile } from 'node:child_process';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEngineState } from '../../../src/deploy/index.js';
import { clusterStateDir } from '../../../src/paths.js';
import { readPrivateKey, SshPool } from '../../../src/remote/index.js';
import type { RemoteHost } from '../../../src/remote/types.js';
import { boto3 } from '../../_helpers/localstack.js';
import { fleetEnv, fleetUnavailable, ROOT, runCli, type FleetEnv } from './fleet-env.js';

/**
 * A [volume] on the stock Debian 12 image, live: the fleet attaches a blank EBS volume as a Nitro
 * instance sees it (/dev/nvme1n1 and /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol…), setup
 * finds it by its volume id, formats it because it is blank, mounts it; the next cluster that mounts
 * the volume finds the filesystem and leaves it, data and all.
 */
const exec = promisify(execFile);
const skip = fleetUnavailable();
const NAME = `sv${process.pid}`;

describe.skipIf(skip)(`a [volume] on the stock Debian 12 image${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let env: FleetEnv;
  let configPath: string;
  let volumeId: string;
  let pool: SshPool | undefined;

  const cli = (args: string[]) => runCli(env, args, configPath);

  async function master(): Promise<RemoteHost> {
    const state = await readEngineState(clusterStateDir(NAME));
    pool ??= new SshPool({
      privateKey: await readPrivateKey(env.keyPath),
      knownHostsFile: join(clusterStateDir(NAME), 'known_hosts'),
    });
    return pool.host({ alias: 'master', address: state!.addresses!.master!, user: 'root' });
  }

  beforeAll(async () => {
    env = await fleetEnv();
    await exec(join(ROOT, 'localstack', 'fleet'), ['build-images'], { env: process.env, timeout: 900_000 });
    volumeId = await boto3<string>(
      `
zone = ec2.describe_subnets(SubnetIds=[args['subnet']])['Subnets'][0]['AvailabilityZone']
out = ec2.create_volume(AvailabilityZone=zone, Size=1, VolumeType='gp3',
    TagSpecifications=[{'ResourceType': 'volume', 'Tags': [{'Key': 'starcluster:test', 'Value': args['name']}]}])['VolumeId']
`,
      { subnet: env.subnet, name: NAME },
    );
    configPath = (await env.configFor(NAME, { NODE_IMAGE_ID: 'debian-12', CLUSTER_SIZE: '1' })).path;
    // The [cluster] section is the file's last: VOLUMES joins it, then the [volume] it names.
    await appendFile(configPath, `VOLUMES = data\n\n[volume data]\nVOLUME_ID = ${volumeId}\nMOUNT_PATH = /data\n`);
  }, 1_200_000);

  afterAll(async () => {
    pool?.close();
    if (!env) return;
    await cli(['terminate', '-c', NAME]);
    if (volumeId)
      await boto3(
        `
import time
for _ in range(60):
    if ec2.describe_volumes(VolumeIds=[args['id']])['Volumes'][0]['State'] == 'available': break
    time.sleep(1)
ec2.delete_volume(VolumeId=args['id'])
out = True
`,
        { id: volumeId },
      ).catch(() => undefined);
  }, 400_000);

  it('start finds the blank volume by its id, formats it once and mounts it by UUID', async () => {
    const started = await cli(['start', NAME]);
    expect(started.code, started.out.slice(-3000)).toBe(0);
    const host = await master();
    const serial = volumeId.replace('-', '');
    const seen = await host.exec(
      `readlink -f /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${serial}; findmnt -n -o SOURCE,FSTYPE /data; grep ' /data ' /etc/fstab | cut -d' ' -f1; blkid -s UUID -o value /dev/nvme1n1`,
    );
    const [device, mounted, fstab, uuid] = seen.stdout.trim().split('\n');
    expect(device).toBe('/dev/nvme1n1');
    expect(mounted).toMatch(/^\/dev\/nvme1n1\s+ext4$/);
    expect(fstab).toBe(`UUID=${uuid}`);
    await host.exec(`echo kept > /data/marker; sync`);
  }, 900_000);

  it('start again (resume) mounts it again without formatting it', async () => {
    const host = await master();
    await host.exec('sync; umount /data');
    const before = (await host.exec('blkid -s UUID -o value /dev/nvme1n1')).stdout.trim();
    const again = await cli(['start', NAME]);
    expect(again.code, again.out.slice(-3000)).toBe(0);
    const after = await host.exec('blkid -s UUID -o value /dev/nvme1n1; cat /data/marker; findmnt -n -o SOURCE /data');
    expect(after.stdout).toBe(`${before}\nkept\n/dev/nvme1n1\n`);
  }, 900_000);

  it('a new cluster on the same volume leaves its filesystem alone: same UUID, data still there', async () => {
    const before = (await (await master()).exec('blkid -s UUID -o value /dev/nvme1n1')).stdout.trim();
    pool?.close();
    pool = undefined;
    const gone = await cli(['terminate', '-c', NAME]);
    expect(gone.code, gone.out.slice(-3000)).toBe(0);
    await boto3(
      `
import time
for _ in range(120):
    if ec2.describe_volumes(VolumeIds=[args['id']])['Volumes'][0]['State'] == 'available': break
    time.sleep(1)
out = True
`,
      { id: volumeId },
    );
    const again = await cli(['start', NAME]);
    expect(again.code, again.out.slice(-3000)).toBe(0);
    const after = await (await master()).exec('blkid -s UUID -o value /dev/nvme1n1; cat /data/marker');
    expect(after.stdout).toBe(`${before}\nkept\n`);
  }, 900_000);
});
