import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Provider } from '../../../src/cloud/provider.js';
import { StarclusterError } from '../../../src/errors.js';
import { findVolumeDeviceScript, formatIfBlankScript, mountVolumeScript } from '../../../src/setup/scripts.js';
import { setupCluster } from '../../../src/setup/index.js';
import { context, defaultAnswers, record, RecordingAccess } from './recording-access.js';

const sh = (script: string, env: Record<string, string> = {}): { code: number; out: string; err: string } => {
  const r = spawnSync('sh', ['-c', script], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
};
const uuidOf = (file: string): string => sh(`blkid -p -s UUID -o value ${file}`).out.trim();

describe('format only if blank (the shell, run on image files here)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sc-vol-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const disk = (name: string): string => {
    const file = join(dir, name);
    execFileSync('truncate', ['-s', '16M', file]);
    return file;
  };

  it('formats a blank device once; a second run leaves the new filesystem as it is', () => {
    const dev = disk('blank.img');
    const first = sh(formatIfBlankScript(), { dev });
    expect(first).toMatchObject({ code: 0 });
    expect(first.out).toContain(`formatting blank ${dev} with mkfs.ext4`);
    expect(sh(`blkid -p -s TYPE -o value ${dev}`).out.trim()).toBe('ext4');
    const uuid = uuidOf(dev);
    const second = sh(formatIfBlankScript(), { dev });
    expect(second).toMatchObject({ code: 0, out: '' });
    expect(uuidOf(dev)).toBe(uuid);
  });

  it('never formats a device that has a filesystem, whatever mkfs is asked for', () => {
    const dev = disk('data.img');
    execFileSync('mkfs.ext2', ['-q', '-L', 'userdata', dev]);
    const uuid = uuidOf(dev);
    expect(sh(formatIfBlankScript('mkfs.ext4 -L other'), { dev })).toMatchObject({ code: 0, out: '' });
    expect(uuidOf(dev)).toBe(uuid);
    expect(sh(`blkid -p -s TYPE -o value ${dev}`).out.trim()).toBe('ext2');
  });

  it('never formats a device with a partition table but no filesystem', async () => {
    const dev = disk('parted.img');
    // An MBR with one Linux partition from sector 2048: what a user's fdisk leaves.
    const mbr = Buffer.alloc(512);
    mbr.set([0x00, 0x20, 0x21, 0x00, 0x83, 0xfe, 0xff, 0xff], 446);
    mbr.writeUInt32LE(2048, 454);
    mbr.writeUInt32LE(30_720, 458);
    mbr.set([0x55, 0xaa], 510);
    const image = await readFile(dev);
    mbr.copy(image, 0);
    await writeFile(dev, image);
    expect(sh(`blkid -p -s PTTYPE -o value ${dev}`).out.trim()).toBe('dos');
    expect(sh(formatIfBlankScript(), { dev })).toMatchObject({ code: 0, out: '' });
    expect(sh(`blkid -p -s PTTYPE -o value ${dev}`).out.trim()).toBe('dos');
  });

  it('fails rather than format a device it cannot see', () => {
    const r = sh(formatIfBlankScript(), { dev: join(dir, 'missing') });
    expect(r.code).toBe(1);
    expect(r.err).toContain('does not exist');
  });

  it('takes only a mkfs command with plain options (it comes from a volume tag)', () => {
    expect(() => formatIfBlankScript('mkfs.xfs -f -L data')).not.toThrow();
    expect(() => formatIfBlankScript('mkfs.ext4; rm -rf /')).toThrow(RangeError);
    expect(() => formatIfBlankScript('dd if=/dev/zero')).toThrow(RangeError);
  });
});

describe('device discovery by volume id', () => {
  it('looks for the Nitro NVMe name of the volume id, its serial, then the attach name and its xvd form', () => {
    const script = findVolumeDeviceScript('vol-0a1b2c3d4e5f67890', '/dev/sdz');
    expect(script).toContain('[ -b /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0a1b2c3d4e5f67890 ]');
    expect(script).toContain('= vol0a1b2c3d4e5f67890 ] || continue');
    expect(script).toContain('for d in /dev/sdz /dev/xvdz;');
    expect(findVolumeDeviceScript('vol-1', '/dev/sdy', 2)).toContain('*[0-9]) dev="${dev}p2" ;; *) dev="${dev}2"');
  });

  // Live: a loop device under the Nitro name, in a private mount namespace (its own /dev and /etc/fstab).
  const canLoop =
    process.getuid?.() === 0 &&
    ['/usr/bin/unshare', '/usr/sbin/losetup'].every((t) => existsSync(t)) &&
    existsSync('/dev/loop-control');
  it.skipIf(!canLoop)(
    'finds a Nitro volume by id, formats it because it is blank, mounts it by UUID; again: no format',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sc-nitro-'));
      const image = join(dir, 'ebs.img');
      execFileSync('truncate', ['-s', '32M', image]);
      const loop = execFileSync('losetup', ['-f', '--show', image], { encoding: 'utf8' }).trim();
      try {
        const [major, minor] = execFileSync('stat', ['-c', '%t %T', loop], { encoding: 'utf8' })
          .trim()
          .split(' ')
          .map((h) => parseInt(h, 16));
        await writeFile(join(dir, 'fstab'), '# the image\n');
        const mountScript = mountVolumeScript({
          volumeId: 'vol-0feed',
          device: '/dev/sdz',
          mountPath: join(dir, 'data'),
        });
        const inNamespace = (script: string): ReturnType<typeof sh> => {
          const r = spawnSync(
            'unshare',
            [
              '-m',
              'sh',
              '-c',
              [
                'set -e',
                'mount --make-rprivate /',
                'mount -t tmpfs dev /dev',
                'mknod /dev/null c 1 3; chmod 666 /dev/null',
                `mknod /dev/nvme1n1 b ${major} ${minor}`,
                'mkdir -p /dev/disk/by-id',
                'ln -s ../../nvme1n1 /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0feed',
                `mount --bind ${join(dir, 'fstab')} /etc/fstab`,
                'set +e',
                script,
              ].join('\n'),
            ],
            { encoding: 'utf8' },
          );
          return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
        };
        const first = inNamespace(`(${mountScript}) && echo MOUNTED && df -T ${join(dir, 'data')} | tail -1`);
        expect(first.err).toBe('');
        expect(first.out).toContain('formatting blank /dev/nvme1n1 with mkfs.ext4');
        expect(first.out).toMatch(/MOUNTED\n\/dev\/nvme1n1\s+ext4/);
        const uuid = uuidOf(image);
        expect(uuid).toMatch(/^[0-9a-f-]{36}$/);
        expect(await readFile(join(dir, 'fstab'), 'utf8')).toBe(
          `# the image\nUUID=${uuid} ${join(dir, 'data')} auto noauto,defaults,nofail 0 0 # starcluster volume ${join(dir, 'data')}\n`,
        );
        const again = inNamespace(`(${mountScript}) && echo MOUNTED`);
        expect(again.out).not.toContain('formatting');
        expect(uuidOf(image)).toBe(uuid);
      } finally {
        execFileSync('losetup', ['-d', loop]);
        await rm(dir, { recursive: true, force: true });
      }
    },
    60_000,
  );
});

describe('setup mounts [volume]s by volume id', () => {
  it('formats with the mkfs of createvolume -m (its tag), and refuses a tag that is not a mkfs command', async () => {
    const provider = (tags: Record<string, string>): Partial<Provider> => ({
      volumes: {
        attach: () => Promise.resolve(),
        waitAttached: () => Promise.resolve(),
        tags: () => Promise.resolve(tags),
      },
    });
    const nodes = [record('master', '10.0.0.4')];
    const volumes = [{ name: 'data', volumeId: 'vol-0abc', mountPath: '/data' }];
    const access = new RecordingAccess(defaultAnswers);
    await setupCluster(context(nodes, { volumes }, provider({ 'starcluster:mkfs': 'mkfs.xfs -f' })), undefined, {
      access,
    });
    const master = access.on('master').join('\n');
    expect(master).toContain('nvme-Amazon_Elastic_Block_Store_vol0abc');
    expect(master).toContain('mkfs.xfs -f -q "$dev" </dev/null');

    const bad = await setupCluster(
      context(nodes, { volumes }, provider({ 'starcluster:mkfs': 'mkfs.ext4; reboot' })),
      undefined,
      {
        access: new RecordingAccess(defaultAnswers),
      },
    ).catch((e: unknown) => e);
    expect(StarclusterError.is(bad) && bad.code).toBe('VolumeTagInvalid');
  });

  it('refuses VOLUMES on a provider that cannot attach volumes, saying so', async () => {
    const nodes = [record('master', '10.0.0.4')];
    const volumes = [{ name: 'data', volumeId: 'vol-0abc', mountPath: '/data' }];
    const error = await setupCluster(context(nodes, { volumes }, { kind: 'local' }), undefined, {
      access: new RecordingAccess(defaultAnswers),
    }).catch((e: unknown) => e);
    expect(StarclusterError.is(error) && error.code).toBe('NotSupportedByProvider');
    expect((error as Error).message).toContain('local provider cannot attach volumes');
  });
});
