import { spawn, type StdioOptions } from 'node:child_process';
import { RemoteError, UsageError } from '../errors.js';

/**
 * X11 forwarding (`sshmaster -X`) through OpenSSH's own `ssh`: it owns what ssh2 does not, the X
 * cookie handling (an untrusted cookie for the remote side, the real one kept here) and the local
 * display connection. The host key is checked against the cluster's pinned known_hosts
 * (StrictHostKeyChecking=yes), with the cluster's key only.
 */
export interface OpenSshOptions {
  address: string;
  port?: number;
  user: string;
  keyFile: string;
  knownHostsFile: string;
  command?: string;
  x11?: boolean;
  agentForward?: boolean;
  /** Force a pty (`-t`) for a command. */
  forcePty?: boolean;
  /** The terminal's streams (the CLI passes 'inherit'). */
  stdio: StdioOptions;
  env?: NodeJS.ProcessEnv;
  /** Default `ssh` from PATH. */
  binary?: string;
}

export function openSshArgs(opts: Omit<OpenSshOptions, 'stdio'>): string[] {
  return [
    '-i',
    opts.keyFile,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    `UserKnownHostsFile=${opts.knownHostsFile}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-p',
    String(opts.port ?? 22),
    ...(opts.x11 ? ['-X'] : []),
    ...(opts.agentForward ? ['-A'] : []),
    ...(opts.forcePty ? ['-t'] : []),
    '-l',
    opts.user,
    opts.address,
    ...(opts.command ? ['--', opts.command] : []),
  ];
}

/** Runs `ssh` and resolves with its exit status. */
export function runOpenSsh(opts: OpenSshOptions): Promise<number> {
  const env = opts.env ?? process.env;
  if (opts.x11 && !env.DISPLAY)
    throw new UsageError('NoDisplay', '-X forwards X11 to your display, but DISPLAY is not set here');
  return new Promise((resolve, reject) => {
    const child = spawn(opts.binary ?? 'ssh', openSshArgs(opts), { stdio: opts.stdio, env });
    child.on('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'ENOENT'
          ? new UsageError(
              'NoOpenSsh',
              '-X needs OpenSSH’s ssh client on this machine (apt-get install openssh-client)',
            )
          : new RemoteError('OpenSshFailed', `ssh could not start: ${error.message}`, { cause: error }),
      ),
    );
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 255 : 0)));
  });
}
