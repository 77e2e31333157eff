import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NodeVolumes } from '../../../src/cloud/provider.js';
import { StarclusterError } from '../../../src/errors.js';
import { shellQuote, type ExecResult } from '../../../src/remote/types.js';
import * as sh from '../../../src/setup/scripts.js';
import { setupAddedNodes, setupCluster, teardownNodes } from '../../../src/setup/index.js';
import { context, defaultAnswers, record, RecordingAccess } from './recording-access.js';

const three = (): ReturnType<typeof record>[] => [
  record('master', '10.0.0.4'),
  record('node001', '10.0.0.5'),
  record('node002', '10.0.0.6'),
];

describe('setupCluster (commands issued, recorded)', () => {
  it('sets names, /etc/hosts, the user, scratch and trust on every node, in order', async () => {
    const access = new RecordingAccess(defaultAnswers);
    const ctx = context(three(), { sharedFs: 'none' });
    await setupCluster(ctx, undefined, { access });
    expect(access.waited.sort()).toEqual(['master', 'node001', 'node002']);
    for (const node of ['master', 'node001', 'node002']) {
      const all = access.on(node).join('\n');
      expect(all).toContain(`echo ${node} > /etc/hostname`);
      expect(all).toContain('10.0.0.4 master\n10.0.0.5 node001\n10.0.0.6 node002');
      expect(all).toContain('useradd -o -u 1001 -g 1001');
      expect(all).toContain('ln -sfn /mnt/sgeadmin /scratch/sgeadmin');
      // Every node's host key, under its name and IP, for every user.
      expect(all).toContain('master,10.0.0.4 ssh-ed25519 AAAAHOSTKEYmaster');
      expect(all).toContain('node002,10.0.0.6 ssh-ed25519 AAAAHOSTKEYnode002');
      expect(all).toContain('ssh-ed25519 AAAACLUSTER starcluster-c1');
      expect(all).toContain("echo 'ssh-rsa AAAALOGIN starcluster-login' >> /home/sgeadmin/.ssh/authorized_keys");
    }
    const steps = ctx.io.events
      .filter((e) => e.state === 'done' || e.state === 'skip')
      .map((e) => `${e.state}:${e.id}`);
    expect(steps).toEqual([
      'done:setup-ssh',
      'done:setup-packages',
      'skip:setup-volumes',
      'done:setup-hosts',
      'done:setup-user',
      'done:setup-scratch',
      'done:setup-ssh-trust',
      'skip:setup-shared-fs',
      'skip:setup-userdata',
      'done:setup-queue',
      'skip:setup-autostop',
    ]);
  });

  it('uses the DNS prefix for hostnames and keeps the short alias in /etc/hosts', async () => {
    const access = new RecordingAccess(defaultAnswers);
    await setupCluster(context(three(), { dnsPrefix: true }), undefined, { access });
    const all = access.on('node001').join('\n');
    expect(all).toContain('echo c1-node001 > /etc/hostname');
    expect(all).toContain('10.0.0.5 c1-node001 node001');
  });

  // This kernel has no NFS server, so NFS is checked by the commands it issues; sshfs runs for real in the fleet.
  it('with SHARED_FS = nfs, the master exports /home and volume paths to each worker and workers mount them', async () => {
    const access = new RecordingAccess(defaultAnswers);
    const attached: string[] = [];
    const volumes: NodeVolumes = {
      attach: (v, i, d) => (attached.push(`attach ${v} ${i} ${d}`), Promise.resolve()),
      waitAttached: (v, i) => (attached.push(`wait ${v} ${i}`), Promise.resolve()),
      tags: () => Promise.resolve({}),
    };
    const ctx = context(
      three(),
      { sharedFs: 'nfs', volumes: [{ name: 'data', volumeId: 'vol-1', mountPath: '/data' }] },
      { volumes },
    );
    await setupCluster(ctx, undefined, { access });
    expect(attached).toEqual(['attach vol-1 i-master /dev/sdz', 'wait vol-1 i-master']);
    const master = access.on('master').join('\n');
    expect(master).toContain('mount "$dev" /data');
    expect(master).toContain('/home 10.0.0.5(async,no_root_squash,no_subtree_check,rw)');
    expect(master).toContain('/data 10.0.0.6(async,no_root_squash,no_subtree_check,rw)');
    expect(master).toContain('exportfs -ra');
    const worker = access.on('node001').join('\n');
    expect(worker).toContain('10.0.0.4:/home /home nfs vers=3,rw,exec,noauto');
    expect(worker).toContain("$2==p && index($3,t)==1 {f=1} END {exit !f}' /proc/mounts || mount /data");
    expect(master).not.toContain('10.0.0.4:/home');
  });

  it('installs what each node lacks before using it: NFS server on the master, client on the others, sshfs on workers', async () => {
    // A stock Debian image: nothing installed, no package lists. (The queue's packages: queue.test.ts.)
    const stock = (node: string, command: string): Partial<ExecResult> | undefined =>
      command.startsWith('for p in')
        ? {
            stdout: command
              .replace(/^for p in (.*?); do.*$/s, '$1')
              .split(' ')
              .join('\n'),
          }
        : command.includes('/var/lib/apt/lists')
          ? { code: 1 }
          : defaultAnswers(node, command);
    const installs = (access: RecordingAccess, node: string): string[] =>
      access
        .on(node)
        .flatMap((c) => c.split('\n'))
        .filter((l) => /^apt-get .*(install|update)/.test(l))
        .map((l) => l.replace(/^apt-get .* (install --no-install-recommends|update)/, '$1').trim());
    const nfs = new RecordingAccess(stock);
    await setupCluster(context(three(), { sharedFs: 'nfs', disableQueue: true }), undefined, { access: nfs });
    expect(installs(nfs, 'master')).toEqual(['update', 'install --no-install-recommends nfs-kernel-server']);
    expect(installs(nfs, 'node002')).toEqual(['update', 'install --no-install-recommends nfs-common']);
    const master = nfs.on('master');
    expect(master.findIndex((c) => c.includes('install --no-install-recommends'))).toBeLessThan(
      master.findIndex((c) => c.includes('exportfs -ra')),
    );
    const sshfs = new RecordingAccess(stock);
    await setupCluster(context(three(), { sharedFs: 'sshfs', disableQueue: true }), undefined, { access: sshfs });
    expect(installs(sshfs, 'master')).toEqual([]);
    expect(installs(sshfs, 'node001')).toEqual(['update', 'install --no-install-recommends sshfs']);
    // An image that has everything: one query per node, no apt.
    const ready = new RecordingAccess(defaultAnswers);
    await setupCluster(context(three(), { sharedFs: 'sshfs', disableQueue: true }), undefined, { access: ready });
    expect(installs(ready, 'node001')).toEqual([]);
  });

  it('names every node that failed, not just the first', async () => {
    const access = new RecordingAccess((node, command) =>
      node !== 'master' && command.includes('/etc/hostname')
        ? { code: 1, stderr: `disk full on ${node}` }
        : defaultAnswers(node, command),
    );
    const error = await setupCluster(context(three()), undefined, { access }).catch((e: unknown) => e);
    expect(StarclusterError.is(error) && error.code).toBe('SetupFailed');
    expect((error as Error).message).toMatch(
      /^setting hostnames failed on node001, node002: command failed on node001 \(exit 1\)/,
    );
  });
});

describe('added and removed nodes', () => {
  it('sets up only the new nodes, with the existing uid, and updates hosts everywhere', async () => {
    const access = new RecordingAccess((node, command) =>
      command.startsWith('id -u') ? { stdout: '1005\n1005\n' } : defaultAnswers(node, command),
    );
    const nodes = [...three(), record('node003', '10.0.0.7')];
    await setupAddedNodes(context(nodes, { sharedFs: 'sshfs' }), [nodes[3]!], undefined, { access });
    expect(access.waited).toEqual(['node003']);
    expect(access.on('node003').join('\n')).toContain('useradd -o -u 1005 -g 1005');
    expect(access.on('node001').join('\n')).not.toContain('useradd');
    expect(access.on('node001').join('\n')).toContain('10.0.0.7 node003');
    expect(access.on('node003').join('\n')).toContain('sshfs -o allow_other');
    expect(access.on('node001').join('\n')).not.toContain('sshfs -o');
  });

  it('unmounts shares on removed nodes and rewrites /etc/hosts without them', async () => {
    const access = new RecordingAccess(defaultAnswers);
    const nodes = three();
    await teardownNodes(context(nodes, { sharedFs: 'nfs' }), [nodes[2]!], { access });
    expect(access.on('node002').join('\n')).toContain('umount -l /home');
    const master = access.on('master').join('\n');
    expect(master).toContain('10.0.0.5 node001\n# starcluster: end');
    expect(master).not.toContain('10.0.0.6');
  });
});

describe('setup scripts run for real in a shell', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sc-scripts-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('replaces our block and keeps every other line, however often it runs', async () => {
    const file = join(dir, 'hosts');
    await writeFile(file, '127.0.0.1 localhost\n# mine\n');
    const run = (lines: string[]): void => {
      execFileSync('sh', ['-c', sh.replaceBlockScript(file, lines)]);
    };
    run(['10.0.0.4 master']);
    run(['10.0.0.4 master', '10.0.0.5 node001']);
    expect(await readFile(file, 'utf8')).toBe(
      '127.0.0.1 localhost\n# mine\n# starcluster: begin\n10.0.0.4 master\n10.0.0.5 node001\n# starcluster: end\n',
    );
  });

  it('tells a share already mounted from one that is not (a plain mount point is not enough)', () => {
    const status = (script: string): number => {
      try {
        execFileSync('sh', ['-c', script]);
        return 0;
      } catch (error) {
        return (error as { status: number }).status;
      }
    };
    expect(status(sh.mountedAs('/proc', 'proc'))).toBe(0);
    expect(status(sh.mountedAs('/proc', 'fuse.sshfs'))).toBe(1);
    expect(status(sh.mountedAs('/nonexistent', 'nfs'))).toBe(1);
  });

  it('quotes values with spaces and quotes for sh', () => {
    const value = `it's "a" $HOME b`;
    expect(execFileSync('sh', ['-c', `printf %s ${shellQuote(value)}`]).toString()).toBe(value);
  });
});
