import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProvider } from '../../../src/cloud/index.js';
import type { Provider } from '../../../src/cloud/provider.js';
import { fingerprintMatches, fingerprintsOfPrivateKey } from '../../../src/cloud/ec2/fingerprint.js';
import { StarclusterError } from '../../../src/errors.js';
import type { Account } from '../../../src/cloud/account.js';
import { nodeVolumes } from '../../../src/setup/volumes.js';
import { boto3, someImage } from '../../_helpers/localstack.js';

/** The account-level commands' library calls against LocalStack, checked with boto3. */
const run = randomBytes(3).toString('hex');
let dir: string;
let provider: Provider;
let account: Account;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sc-res-'));
  provider = await createProvider(undefined, undefined, { kind: 'ec2' });
  account = provider.account();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('key pairs', () => {
  it('createkey writes a 0600 private key whose fingerprint matches the pair; removekey deletes it', async () => {
    const name = `sc-res-${run}`;
    const file = join(dir, 'k', `${name}.pem`);
    const made = await account.createKey({ name, outputFile: file });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const fromBoto = await boto3<string[]>(
      `out = [k['KeyFingerprint'] for k in ec2.describe_key_pairs(KeyNames=[args['name']])['KeyPairs']]`,
      { name },
    );
    expect(fromBoto).toEqual([made.fingerprint]);
    expect(fingerprintMatches(made.fingerprint, fingerprintsOfPrivateKey(await readFile(file, 'utf8')))).toBe(true);
    expect((await account.listKeyPairs()).map((k) => k.name)).toContain(name);
    // Never overwrites a key file.
    await expect(account.createKey({ name: `${name}-2`, outputFile: file })).rejects.toMatchObject({
      code: 'KeyFileExists',
    });
    await account.removeKey(name);
    const left = await boto3<number>(
      `out = len([k for k in ec2.describe_key_pairs()['KeyPairs'] if k['KeyName'] == args['name']])`,
      { name },
    );
    expect(left).toBe(0);
  });
});

describe('volumes', () => {
  it('createvolume → listvolumes (filtered) → removevolume', async () => {
    const vol = await account.createVolume({ sizeGb: 3, zone: 'us-east-1a', name: `data-${run}` });
    expect(vol.id).toMatch(/^vol-/);
    const listed = await account.listVolumes({ name: `data-${run}` });
    expect(listed.map((v) => [v.id, v.sizeGb, v.zone])).toEqual([[vol.id, 3, 'us-east-1a']]);
    await account.removeVolumes([vol.id]);
    const left = await boto3<number>(
      `out = len([v for v in ec2.describe_volumes()['Volumes'] if v['VolumeId'] == args['id']])`,
      { id: vol.id },
    );
    expect(left).toBe(0);
  });

  it('attaches a volume to an instance and waits until EC2 reports it attached', async () => {
    const volumes = nodeVolumes(provider);
    const vol = await account.createVolume({ sizeGb: 2, zone: 'us-east-1a', name: `attach-${run}` });
    const [node] = await provider.launch({
      cluster: `sc-vol-${run}`,
      role: 'master',
      aliases: ['master'],
      instanceType: 't3.micro',
      imageId: await someImage(),
      zone: 'us-east-1a',
      clientToken: `sc-vol-${run}`,
    });
    try {
      await provider.waitRunning([node!.id]);
      await volumes.attach(vol.id, node!.id, '/dev/sdz');
      await volumes.waitAttached(vol.id, node!.id);
      const state = await boto3<string>(
        `out = ec2.describe_volumes(VolumeIds=[args['id']])['Volumes'][0]['Attachments'][0]['State']`,
        { id: vol.id },
      );
      expect(state).toBe('attached');
    } finally {
      await provider.terminate([node!.id]);
      await boto3(`ec2.detach_volume(VolumeId=args['id'], Force=True)\nout = 0`, { id: vol.id }).catch(() => 0);
      await account.removeVolumes([vol.id]).catch(() => undefined);
    }
  });

  it('refuses a zone that does not exist', async () => {
    const error: unknown = await account.createVolume({ sizeGb: 1, zone: 'us-east-1z' }).catch((e: unknown) => e);
    expect(StarclusterError.is(error) && error.code).toBe('UnknownZone');
  });
});

describe('regions, zones, images, spot prices', () => {
  it('lists what EC2 has', async () => {
    expect((await account.listRegions()).map((r) => r.name)).toContain('us-east-1');
    expect((await account.listZones()).map((z) => z.name)).toContain('us-east-1a');
    const id = await someImage();
    expect((await account.showImage(id)).id).toBe(id);
    await expect(account.showImage('ami-0000dead')).rejects.toMatchObject({ code: 'ImageNotFound' });
    const h = await account.spotHistory({ instanceType: 'm5.large', days: 30 });
    expect(h.instanceType).toBe('m5.large');
    // LocalStack answers with a price per zone: the figures are those prices' last, mean, max and min.
    const prices = h.points.map((p) => p.price);
    expect(prices.length).toBeGreaterThan(0);
    expect(h).toMatchObject({
      current: prices.at(-1),
      max: Math.max(...prices),
      min: Math.min(...prices),
      average: prices.reduce((a, b) => a + b, 0) / prices.length,
    });
    expect(h.points.map((p) => p.time)).toEqual(h.points.map((p) => p.time).sort());
  });
});
