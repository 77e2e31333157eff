import { describe, expect, it } from 'vitest';
import { StarclusterError } from '../../../src/errors.js';
import { ManualClock } from '../../_helpers/clock.js';
import type { ExecResult } from '../../../src/remote/types.js';
import {
  classifyFailure,
  installPackages,
  packageNames,
  parseOsRelease,
  type OsRelease,
} from '../../../src/setup/packages.js';

// The apt side also runs for real on the fleet's Debian image (test/integration/fleet/stock-image.test.ts);
// dnf (Amazon Linux) cannot run here, so it is checked by the commands it issues.

const DEBIAN = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
`;
const UBUNTU = `PRETTY_NAME="Ubuntu 24.04.1 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
ID=ubuntu
ID_LIKE=debian
`;
const AL2023 = `NAME="Amazon Linux"
VERSION="2023"
ID="amzn"
ID_LIKE="fedora"
VERSION_ID="2023"
PLATFORM_ID="platform:al2023"
PRETTY_NAME="Amazon Linux 2023.6.20241212"
`;

type Answer = Partial<ExecResult> | ((command: string) => Partial<ExecResult> | undefined);

/** A host that records commands and answers the first matching rule (rules may be used up). */
class ScriptedHost {
  readonly alias = 'node001';
  readonly commands: string[] = [];
  constructor(private readonly rules: [RegExp, Answer, number?][]) {}
  exec(command: string): Promise<ExecResult> {
    this.commands.push(command);
    for (const rule of this.rules) {
      const [pattern, answer, times] = rule;
      if (!pattern.test(command) || times === 0) continue;
      if (times !== undefined) rule[2] = times - 1;
      const out = typeof answer === 'function' ? answer(command) : answer;
      if (out) return Promise.resolve({ stdout: '', stderr: '', code: 0, ...out });
    }
    return Promise.resolve({ stdout: '', stderr: '', code: 0 });
  }
  /** The install/update/config commands, each shortened to its verb line. */
  verbs(): string[] {
    return this.commands
      .map((c) => c.split('\n').at(-1)!)
      .filter((c) => /apt-get|dnf|dpkg --configure/.test(c) && !c.startsWith('for p'));
  }
}

describe('parseOsRelease', () => {
  it('tells apt from dnf families by ID and ID_LIKE', () => {
    expect(parseOsRelease(DEBIAN)).toMatchObject({ id: 'debian', versionId: '12', manager: 'apt' });
    expect(parseOsRelease(UBUNTU)).toMatchObject({ id: 'ubuntu', versionId: '24.04', manager: 'apt' });
    expect(parseOsRelease(AL2023)).toMatchObject({
      id: 'amzn',
      idLike: ['fedora'],
      versionId: '2023',
      manager: 'dnf',
      prettyName: 'Amazon Linux 2023.6.20241212',
    });
  });

  it('refuses a system it cannot set up, naming it', () => {
    let error: unknown;
    try {
      parseOsRelease('ID=alpine\nPRETTY_NAME="Alpine Linux v3.20"\n', 'master');
    } catch (e) {
      error = e;
    }
    expect(StarclusterError.is(error) && error.code).toBe('UnsupportedOs');
    expect((error as Error).message).toContain('master runs Alpine Linux v3.20');
  });
});

describe('packageNames', () => {
  it("maps setup's roles to each family's names and passes others through", () => {
    expect(packageNames('apt', ['nfs-server', 'nfs-client', 'sshfs', 'htop'])).toEqual([
      'nfs-kernel-server',
      'nfs-common',
      'sshfs',
      'htop',
    ]);
    // nfs-utils is both server and client on the dnf side: asked once.
    expect(packageNames('dnf', ['nfs-server', 'nfs-client', 'sshfs'])).toEqual(['nfs-utils', 'fuse-sshfs']);
  });
});

describe('installPackages with apt', () => {
  const os = parseOsRelease(DEBIAN);

  it('reads /etc/os-release, and does nothing more when everything is installed', async () => {
    const host = new ScriptedHost([[/os-release/, { stdout: DEBIAN }]]);
    const result = await installPackages(host, ['sshfs']);
    expect(result).toMatchObject({ installed: [], present: ['sshfs'], os: { id: 'debian' } });
    expect(host.commands).toHaveLength(2);
    expect(host.commands[1]).toContain('dpkg-query -W -f=\'${Status}\\n\' "$p"');
    expect(host.verbs()).toEqual([]);
  });

  it('on a stock image with no package lists: one update, then a noninteractive install of what is missing', async () => {
    const host = new ScriptedHost([
      [/^for p in/, { stdout: 'nfs-kernel-server\n' }],
      [/apt\/lists/, { code: 1 }],
    ]);
    const result = await installPackages(host, ['nfs-server', 'htop'], { os });
    expect(result).toMatchObject({ installed: ['nfs-kernel-server'], present: ['htop'] });
    expect(host.verbs()).toEqual([
      'apt-get -q -o DPkg::Lock::Timeout=120 -o Acquire::Retries=3 update',
      'apt-get -y -q -o DPkg::Lock::Timeout=120 -o Acquire::Retries=3 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install --no-install-recommends nfs-kernel-server',
    ]);
    const install = host.commands.find((c) => c.includes(' install '))!;
    expect(install).toContain('export DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a');
  });

  it('with lists present, installs without updating; stale lists (404) bring one update and a retry', async () => {
    const host = new ScriptedHost([
      [/^for p in/, { stdout: 'sshfs\n' }],
      [
        / install /,
        {
          code: 100,
          stderr:
            'E: Failed to fetch http://deb.debian.org/debian/pool/main/s/sshfs/sshfs_3.7.3-1.1_amd64.deb  404  Not Found [IP: 198.18.0.1 3142]',
        },
        1,
      ],
    ]);
    const result = await installPackages(host, ['sshfs'], { os, clock: new ManualClock() });
    expect(result.installed).toEqual(['sshfs']);
    expect(host.verbs().map((v) => v.split(' ').at(-1))).toEqual(['sshfs', 'update', 'sshfs']);
  });

  it('waits for a dpkg lock held by another process (cloud-init, unattended-upgrades), then installs', async () => {
    const clock = new ManualClock();
    const locked = {
      code: 100,
      stderr:
        'E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 812 (unattended-upgr)\nE: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?',
    };
    const host = new ScriptedHost([
      [/^for p in/, { stdout: 'sshfs\n' }],
      [/ install /, locked, 3],
    ]);
    const result = await installPackages(host, ['sshfs'], { os, clock });
    expect(result.installed).toEqual(['sshfs']);
    expect(clock.sleeps).toEqual([5000, 5000, 5000]);
    expect(host.verbs().filter((v) => v.includes(' install '))).toHaveLength(4);
  });

  it('gives up on a lock still held when the lock wait is over, naming what it was installing', async () => {
    const clock = new ManualClock();
    const host = new ScriptedHost([
      [/^for p in/, { stdout: 'sshfs\n' }],
      [/ install /, { code: 100, stderr: 'E: Could not get lock /var/lib/dpkg/lock-frontend' }],
    ]);
    const error = await installPackages(host, ['sshfs'], { os, clock, lockWaitMs: 12_000 }).catch((e: unknown) => e);
    expect(StarclusterError.is(error) && error.code).toBe('PackageLockTimeout');
    expect((error as Error).message).toBe(
      'node001: another package manager held the lock for too long while installing sshfs',
    );
    // Waited 5 s at a time until the 12 s were over: three waits, four tries.
    expect(clock.sleeps).toEqual([5000, 5000, 5000]);
    expect(host.verbs().filter((v) => v.includes(' install '))).toHaveLength(4);
  });

  it('retries transient mirror errors with backoff, refreshing the lists, and gives up after the attempts', async () => {
    const clock = new ManualClock();
    const host = new ScriptedHost([
      [/^for p in/, { stdout: 'sshfs\n' }],
      [
        / install /,
        {
          code: 100,
          stderr: "E: Failed to fetch http://deb.debian.org/...  Temporary failure resolving 'deb.debian.org'",
        },
      ],
    ]);
    const error = await installPackages(host, ['sshfs'], { os, attempts: 4, clock }).catch((e: unknown) => e);
    expect(StarclusterError.is(error) && error.code).toBe('PackageInstallFailed');
    expect((error as Error).message).toBe('installing sshfs on node001 failed (apt, exit 100)');
    expect((error as StarclusterError).details.join('\n')).toContain('Temporary failure resolving');
    expect(clock.sleeps).toEqual([2000, 4000, 8000]);
    expect(host.verbs().filter((v) => v.includes(' install '))).toHaveLength(4);
  });

  it('fails at once, naming it, for a package the distribution does not have (after one update)', async () => {
    const host = new ScriptedHost([
      [/^for p in/, { stdout: 'no-such-pkg\n' }],
      [/ install /, { code: 100, stderr: 'E: Unable to locate package no-such-pkg' }],
    ]);
    const error = await installPackages(host, ['no-such-pkg'], { os, clock: new ManualClock() }).catch(
      (e: unknown) => e,
    );
    expect(StarclusterError.is(error) && error.code).toBe('PackageNotFound');
    expect((error as Error).message).toBe('Debian GNU/Linux 12 (bookworm) on node001 has no package no-such-pkg (apt)');
    expect(host.verbs().map((v) => v.split(' ').at(-1))).toEqual(['no-such-pkg', 'update', 'no-such-pkg']);
  });

  it('finishes an interrupted dpkg run before installing', async () => {
    const host = new ScriptedHost([
      [/^for p in/, { stdout: 'sshfs\n' }],
      [
        / install /,
        {
          code: 100,
          stderr: "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem.",
        },
        1,
      ],
    ]);
    await installPackages(host, ['sshfs'], { os });
    expect(host.verbs().map((v) => v.split(' ').slice(0, 2).join(' '))).toEqual([
      'apt-get -y',
      'dpkg --configure',
      'apt-get -y',
    ]);
  });

  it('refuses anything that is not a package name (no shell through PACKAGES)', async () => {
    const host = new ScriptedHost([]);
    const error = await installPackages(host, ['htop; rm -rf /'], { os }).catch((e: unknown) => e);
    expect(StarclusterError.is(error) && error.code).toBe('PackageNameInvalid');
    expect(host.commands).toEqual([]);
  });
});

describe('installPackages with dnf (Amazon Linux 2023): the commands it issues', () => {
  const os: OsRelease = parseOsRelease(AL2023);

  it('queries with rpm and installs only what is missing, without weak dependencies', async () => {
    const host = new ScriptedHost([
      [/os-release/, { stdout: AL2023 }],
      [/^for p in/, { stdout: 'nfs-utils\n' }],
    ]);
    const result = await installPackages(host, ['nfs-server', 'nfs-client', 'tmux']);
    expect(result).toMatchObject({ installed: ['nfs-utils'], present: ['tmux'], os: { manager: 'dnf' } });
    expect(host.commands[1]).toBe('for p in nfs-utils tmux; do rpm -q --quiet --whatprovides "$p" || echo "$p"; done');
    expect(host.verbs()).toEqual(['dnf -y -q --setopt=install_weak_deps=False install nfs-utils']);
  });

  it('retries metadata download errors with backoff and fresh metadata', async () => {
    const clock = new ManualClock();
    const host = new ScriptedHost([
      [/^for p in/, { stdout: 'tmux\n' }],
      [
        / install /,
        {
          code: 1,
          stderr:
            "Error: Failed to download metadata for repo 'amazonlinux': Cannot download repomd.xml: Curl error (6)",
        },
        2,
      ],
    ]);
    await installPackages(host, ['tmux'], { os, clock });
    expect(clock.sleeps).toEqual([2000, 4000]);
    expect(host.verbs()).toEqual([
      'dnf -y -q --setopt=install_weak_deps=False install tmux',
      'dnf -y -q --setopt=install_weak_deps=False --refresh install tmux',
      'dnf -y -q --setopt=install_weak_deps=False --refresh install tmux',
    ]);
  });

  it('says Amazon Linux has no sshfs, with the fix', async () => {
    const host = new ScriptedHost([
      [/^for p in/, { stdout: 'fuse-sshfs\n' }],
      [
        / install /,
        { code: 1, stderr: 'No match for argument: fuse-sshfs\nError: Unable to find a match: fuse-sshfs' },
      ],
    ]);
    const error = await installPackages(host, ['sshfs'], { os }).catch((e: unknown) => e);
    expect(StarclusterError.is(error) && error.code).toBe('PackageNotFound');
    expect((error as StarclusterError).hint).toBe('Amazon Linux has no sshfs package: use SHARED_FS = nfs');
    expect(host.verbs()).toEqual([
      'dnf -y -q --setopt=install_weak_deps=False install fuse-sshfs',
      'dnf -y -q --setopt=install_weak_deps=False --refresh install fuse-sshfs',
    ]);
  });
});

describe('classifyFailure', () => {
  const r = (stderr: string): ExecResult => ({ code: 100, stdout: '', stderr });
  it('tells locks, missing packages, stale lists and mirror errors apart', () => {
    expect(
      classifyFailure('apt', r('E: Could not get lock /var/lib/apt/lists/lock. It is held by process 99 (apt-get)')),
    ).toBe('lock');
    expect(classifyFailure('apt', r("E: Package 'x' has no installation candidate"))).toBe('not-found');
    expect(classifyFailure('apt', r('E: Failed to fetch http://x/y.deb  404  Not Found'))).toBe('stale-lists');
    expect(classifyFailure('apt', r('E: Failed to fetch http://x/y.deb  Hash Sum mismatch'))).toBe('transient');
    expect(classifyFailure('apt', r('E: Sub-process /usr/bin/dpkg returned an error code (1)'))).toBe('fatal');
    expect(classifyFailure('dnf', r('Error: Unable to find a match: nope'))).toBe('not-found');
  });
});
