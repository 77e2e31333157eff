import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../_helpers/ports.js';

/**
 * A real OpenSSH server on 127.0.0.1 and a random port, with its own host key and a client key
 * it trusts, for tests of the SSH layer. Needs root (sshd's privilege separation) and
 * /usr/sbin/sshd (`apt-get install openssh-server`); `sshdUnavailable()` says why not.
 */
export const SSHD = '/usr/sbin/sshd';

export function sshdUnavailable(): string | false {
  if (process.getuid?.() !== 0) return 'needs root: sshd runs with privilege separation';
  if (!existsSync(SSHD)) return `needs ${SSHD} (apt-get install openssh-server)`;
  return false;
}

export interface TestSshd {
  port: number;
  dir: string;
  /** Client private key (0600) the server trusts for root. */
  keyPath: string;
  /** Replaces the host key and restarts sshd on the same port (a "replaced" node). */
  rekey(): Promise<void>;
  stop(): Promise<void>;
}

export { freePort };

function keygen(path: string, comment: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
}

async function waitListening(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`test sshd did not listen on ${port}`);
}

export async function startSshd(): Promise<TestSshd> {
  const dir = await mkdtemp(join(tmpdir(), 'sc-sshd-'));
  const port = await freePort();
  const hostKey = join(dir, 'host_ed25519');
  const keyPath = join(dir, 'client_ed25519');
  keygen(hostKey, 'host');
  keygen(keyPath, 'client');
  await chmod(keyPath, 0o600);
  await writeFile(join(dir, 'authorized_keys'), await readFile(`${keyPath}.pub`));
  const config = join(dir, 'sshd_config');
  await writeFile(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM yes',
      'UseDNS no',
      'MaxSessions 20',
      'Subsystem sftp internal-sftp',
      '',
    ].join('\n'),
  );
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    execFileSync('mkdir', ['-p', '/run/sshd']);
    child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: 'ignore' });
    await waitListening(port);
  };
  const kill = async (): Promise<void> => {
    const running = child;
    if (!running || running.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill('SIGTERM');
    });
  };
  await launch();
  return {
    port,
    dir,
    keyPath,
    rekey: async () => {
      await kill();
      await rm(hostKey, { force: true });
      await rm(`${hostKey}.pub`, { force: true });
      keygen(hostKey, 'host2');
      await launch();
    },
    stop: async () => {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
