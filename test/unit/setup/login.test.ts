import { describe, expect, it } from 'vitest';
import { RemoteError, StarclusterError } from '../../../src/errors.js';
import { ManualClock } from '../../_helpers/clock.js';
import type { CommandRunner, ExecResult } from '../../../src/remote/types.js';
import {
  enableRootScript,
  loginCandidates,
  refusedRootFor,
  waitForRoot,
  type LoginConnector,
} from '../../../src/setup/login.js';

// Root through the image's login user is checked here with a scripted node; the fleet's Debian
// image lets root in through our user data (disable_root: false), the path most users take.

const KEY = 'ssh-rsa AAAAB3NzaLOGINKEY starcluster-login';
const CLOUD_INIT_REFUSAL = 'Please login as the user "ec2-user" rather than the user "root".\n\n';

/** A node: which users' keys are accepted, what root's commands print, whether sudo works. */
class FakeNode implements LoginConnector {
  readonly log: string[] = [];
  rootEnabled = false;
  constructor(
    private readonly opts: {
      users: string[];
      rootMode: 'ok' | 'refused' | 'cloud-init' | 'down';
      sudo?: boolean;
      /** Refuse everything for the first N rounds (cloud-init still writing keys). */
      bootingRounds?: number;
    },
  ) {}
  private rounds = 0;
  connect(user: string): Promise<CommandRunner> {
    this.log.push(`connect ${user}`);
    if (user === 'root') this.rounds += 1;
    if (this.opts.rootMode === 'down')
      return Promise.reject(new RemoteError('SshConnectFailed', 'ssh to node001 failed: ECONNREFUSED'));
    const booting = this.rounds <= (this.opts.bootingRounds ?? 0);
    const accepted =
      !booting &&
      (user === 'root' ? this.rootEnabled || this.opts.rootMode !== 'refused' : this.opts.users.includes(user));
    if (!accepted) return Promise.reject(new RemoteError('SshAuthFailed', `ssh as ${user} was refused`));
    const exec = (command: string): Promise<ExecResult> => {
      this.log.push(`${user}: ${command.split('\n')[0]}`);
      if (user === 'root') {
        if (this.rootEnabled || this.opts.rootMode === 'ok')
          return Promise.resolve({ code: 0, stdout: '0\n', stderr: '' });
        return Promise.resolve({ code: 142, stdout: CLOUD_INIT_REFUSAL, stderr: '' });
      }
      if (command.startsWith('sudo -n')) {
        if (this.opts.sudo === false)
          return Promise.resolve({ code: 1, stdout: '', stderr: 'sudo: a password is required' });
        this.rootEnabled = true;
        return Promise.resolve({ code: 0, stdout: '', stderr: '' });
      }
      return Promise.resolve({ code: 0, stdout: '', stderr: '' });
    };
    return Promise.resolve({ exec });
  }
  forget(user: string): void {
    this.log.push(`forget ${user}`);
  }
}

const base = { alias: 'node001', loginKey: KEY, clock: new ManualClock() };

describe('waitForRoot', () => {
  it('uses root at once when our user data let it in (no login user tried)', async () => {
    const node = new FakeNode({ users: ['admin'], rootMode: 'ok' });
    await waitForRoot(node, { ...base, loginUsers: loginCandidates() });
    expect(node.log).toEqual(['connect root', 'root: id -u']);
  });

  it("root refused: finds the image's user, enables root through its sudo, then logs in as root", async () => {
    const node = new FakeNode({ users: ['ubuntu'], rootMode: 'refused' });
    const enabledBy: string[] = [];
    await waitForRoot(node, { ...base, loginUsers: loginCandidates(), onRootEnabled: (u) => enabledBy.push(u) });
    expect(enabledBy).toEqual(['ubuntu']);
    expect(node.log).toEqual([
      'connect root',
      'connect admin',
      'connect ubuntu',
      "ubuntu: sudo -n sh -c 'set -e",
      'forget root',
      'connect root',
      'root: id -u',
    ]);
  });

  it("cloud-init's disable_root refusal names the user to take, which goes first", async () => {
    const node = new FakeNode({ users: ['admin', 'ec2-user'], rootMode: 'cloud-init' });
    await waitForRoot(node, { ...base, loginUsers: loginCandidates('admin') });
    expect(node.log.slice(0, 5)).toEqual([
      'connect root',
      'root: id -u',
      'forget root',
      'connect ec2-user',
      "ec2-user: sudo -n sh -c 'set -e",
    ]);
    expect(node.log.at(-1)).toBe('root: id -u');
  });

  it('keeps trying while the node boots (keys not there yet)', async () => {
    const node = new FakeNode({ users: ['admin'], rootMode: 'ok', bootingRounds: 3 });
    await waitForRoot(node, { ...base, loginUsers: ['admin'] });
    expect(node.log.filter((l) => l === 'connect root')).toHaveLength(4);
  });

  it('fails with NoRootAccess when the login user has no passwordless sudo', async () => {
    const node = new FakeNode({ users: ['admin'], rootMode: 'refused', sudo: false });
    const error = await waitForRoot(node, { ...base, loginUsers: ['admin'] }).catch((e: unknown) => e);
    expect(StarclusterError.is(error) && error.code).toBe('NoRootAccess');
    expect((error as Error).message).toBe(
      'node001: admin logs in but cannot sudo without a password, so setup cannot get root',
    );
  });

  it('times out naming the node and the last error', async () => {
    const node = new FakeNode({ users: [], rootMode: 'down' });
    const clock = new ManualClock();
    const error = await waitForRoot(node, {
      ...base,
      loginUsers: ['admin'],
      timeoutMs: 10_000,
      clock,
    }).catch((e: unknown) => e);
    expect(StarclusterError.is(error) && error.code).toBe('SshTimeout');
    expect((error as Error).message).toBe(
      'node001 did not accept ssh as root within 10s after 10 attempts; last error: ssh to node001 failed: ECONNREFUSED',
    );
    // Backoff ×1.6 from 250 ms to at most 2 s, the last pause cut to what was left of the 10 s.
    expect(clock.sleeps.map(Math.round)).toEqual([250, 400, 640, 1024, 1638, 2000, 2000, 2000, 48]);
    expect(clock.now()).toBe(10_000);
  });
});

describe('login helpers', () => {
  it('puts the configured or known user first, then the usual ones, never root', () => {
    expect(loginCandidates('centos', undefined, 'root')).toEqual(['centos', 'admin', 'ubuntu', 'ec2-user']);
    expect(loginCandidates(undefined, 'ubuntu')).toEqual(['ubuntu', 'admin', 'ec2-user']);
  });

  it("reads the user from cloud-init's refusal", () => {
    expect(refusedRootFor(CLOUD_INIT_REFUSAL)).toBe('ec2-user');
    expect(refusedRootFor('Please login as the user \\"admin\\" rather than the user \\"root\\".')).toBe('admin');
    expect(refusedRootFor('Permission denied')).toBeUndefined();
  });

  it("authorizes the login key for root in place of cloud-init's command= entry, and lets sshd take root by key", () => {
    const script = enableRootScript(KEY);
    expect(script).toContain('grep -vF AAAAB3NzaLOGINKEY /root/.ssh/authorized_keys');
    expect(script).toContain(`echo '${KEY}'`);
    expect(script).toContain(
      "echo 'PermitRootLogin prohibit-password' > /etc/ssh/sshd_config.d/00-starcluster-root.conf",
    );
  });
});
