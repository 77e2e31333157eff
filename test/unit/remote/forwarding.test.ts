import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPrivateKey, SshPool } from '../../../src/remote/index.js';
import { openSshArgs, runOpenSsh } from '../../../src/remote/openssh.js';
import { sshdUnavailable, startSshd, type TestSshd } from './sshd-fixture.js';

// sshmaster -A (ssh2's per-channel agent forwarding) and -X (through OpenSSH's ssh, checked
// against the cluster's pinned known_hosts) against a real sshd and a real ssh-agent.
const skip = sshdUnavailable() || (existsSync('/usr/bin/ssh-agent') ? false : 'needs ssh-agent (openssh-client)');

describe.skipIf(skip)(`ssh forwarding against a real sshd${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let sshd: TestSshd;
  let work: string;
  let agent: ChildProcess;
  let socket: string;
  let agentKeyFingerprint: string;

  beforeAll(async () => {
    sshd = await startSshd();
    work = await mkdtemp(join(tmpdir(), 'sc-fwd-'));
    socket = join(work, 'agent.sock');
    agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
    const key = join(work, 'agent_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'forwarded', '-f', key]);
    execFileSync('ssh-add', ['-q', key], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
    agentKeyFingerprint =
      execFileSync('ssh-keygen', ['-l', '-f', `${key}.pub`])
        .toString()
        .split(' ')[1] ?? '';
  });
  afterAll(async () => {
    agent?.kill('SIGTERM');
    await sshd?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('-A: a command sees the forwarded agent and its key; without -A it sees none', async () => {
    const pool = new SshPool({
      privateKey: await readPrivateKey(sshd.keyPath),
      knownHostsFile: join(work, 'known_hosts'),
      agent: socket,
    });
    try {
      const target = { alias: 'master', address: '127.0.0.1', port: sshd.port };
      // First without: sshd keeps forwarding on for a connection once one session asked for it.
      const plain = await pool.run(target, 'root', (c) => c.exec('ssh-add -l; echo "rc=$?"'));
      expect(plain.stdout).toContain('rc=2'); // "Could not open a connection to your authentication agent"
      const forwarded = await pool.run(target, 'root', (c) => c.exec('ssh-add -l', { agentForward: true }));
      expect(forwarded.code).toBe(0);
      expect(forwarded.stdout).toContain(agentKeyFingerprint);
    } finally {
      pool.close();
    }
  });

  it('-X goes through OpenSSH with the cluster key and pinned known_hosts only', async () => {
    const knownHosts = join(work, 'pinned_hosts');
    const pool = new SshPool({ privateKey: await readPrivateKey(sshd.keyPath), knownHostsFile: knownHosts });
    // Pin first, as sshNode does before handing over to ssh.
    await pool.run({ alias: 'master', address: '127.0.0.1', port: sshd.port }, 'root', (c) => c.exec('true'));
    pool.close();
    const base = {
      address: '127.0.0.1',
      port: sshd.port,
      user: 'root',
      keyFile: sshd.keyPath,
      stdio: 'ignore' as const,
      env: { ...process.env, DISPLAY: ':99' },
    };
    expect(openSshArgs({ ...base, knownHostsFile: knownHosts, x11: true, command: 'xclock' })).toEqual(
      expect.arrayContaining(['-X', `UserKnownHostsFile=${knownHosts}`, 'StrictHostKeyChecking=yes', '--', 'xclock']),
    );
    // The remote status comes back; OpenSSH accepts our known_hosts format.
    expect(await runOpenSsh({ ...base, knownHostsFile: knownHosts, x11: true, command: 'exit 7' })).toBe(7);
    // An unpinned host is refused (255), never trusted on first use by ssh itself.
    const empty = join(work, 'empty_hosts');
    await writeFile(empty, '');
    expect(await runOpenSsh({ ...base, knownHostsFile: empty, x11: true, command: 'exit 7' })).toBe(255);
    // No DISPLAY: a usage error before anything runs.
    expect(() =>
      runOpenSsh({ ...base, knownHostsFile: knownHosts, x11: true, env: { PATH: process.env.PATH ?? '' } }),
    ).toThrow(/DISPLAY is not set/);
  });
});
