import { Flags } from '@oclif/core';
import { UsageError } from '../errors.js';
import { sshNode, type SshNodeResult } from '../setup/access.js';
import type { InteractiveIo } from '../remote/connection.js';

/**
 * The terminal side of an interactive SSH session (sshmaster/sshnode/sshinstance): raw mode,
 * window size and resize events. Returns undefined when stdin is not a terminal.
 */
export function terminalSession(): { io: InteractiveIo; restore: () => void } | undefined {
  const { stdin, stdout, stderr } = process;
  if (!stdin.isTTY || !stdout.isTTY) return undefined;
  stdin.setRawMode(true);
  stdin.resume();
  let onResize: (() => void) | undefined;
  return {
    io: {
      input: stdin,
      output: stdout,
      errorOutput: stderr,
      term: process.env.TERM ?? 'xterm-256color',
      rows: stdout.rows,
      cols: stdout.columns,
      onResize: (resize) => {
        onResize = () => resize(stdout.rows, stdout.columns);
        stdout.on('resize', onResize);
      },
    },
    restore: () => {
      if (onResize) stdout.off('resize', onResize);
      stdin.setRawMode(false);
      stdin.pause();
    },
  };
}

/** StarCluster's ssh flags, shared by sshmaster, sshnode and sshinstance. */
export const sshFlags = {
  user: Flags.string({ char: 'u', description: 'log in as this user', default: 'root' }),
  'forward-x11': Flags.boolean({
    char: 'X',
    description: 'forward X11 to your DISPLAY (through OpenSSH’s ssh, which handles the X cookie)',
  }),
  'forward-agent': Flags.boolean({ char: 'A', description: 'forward your ssh-agent (SSH_AUTH_SOCK)' }),
  'pseudo-tty': Flags.boolean({ char: 't', description: 'give CMD a pseudo-terminal (for full-screen programs)' }),
};

export interface SshFlagValues {
  user: string;
  'forward-x11': boolean;
  'forward-agent': boolean;
  'pseudo-tty': boolean;
}

/** Shared by sshmaster/sshnode/sshinstance: a TTY session, or the command's output and status. */
export async function runSsh(
  json: boolean,
  flags: SshFlagValues,
  opts: Omit<Parameters<typeof sshNode>[0], 'tty' | 'user' | 'agentForward' | 'x11' | 'forcePty' | 'stdio'>,
): Promise<SshNodeResult> {
  if (json && flags['forward-x11'])
    throw new UsageError('X11WithJson', '-X opens a terminal session: it cannot be combined with --json');
  const wantsPty = !opts.command || flags['pseudo-tty'];
  const terminal = wantsPty && !json && !flags['forward-x11'] ? terminalSession() : undefined;
  // -t with a command off a terminal still gets a pty, wired to plain stdio (as ssh -tt).
  const plainPty =
    !terminal && !json && flags['pseudo-tty'] && opts.command
      ? { input: process.stdin, output: process.stdout, errorOutput: process.stderr }
      : undefined;
  const tty = terminal?.io ?? plainPty;
  let result: SshNodeResult;
  try {
    result = await sshNode({
      ...opts,
      user: flags.user,
      agentForward: flags['forward-agent'],
      x11: flags['forward-x11'],
      forcePty: flags['pseudo-tty'],
      stdio: 'inherit',
      ...(tty ? { tty } : {}),
    });
  } finally {
    terminal?.restore();
    if (plainPty) process.stdin.pause();
  }
  if (!tty && !flags['forward-x11'] && !json) {
    if (result.stdout) process.stdout.write(result.stdout);
    if (result.stderr) process.stderr.write(result.stderr);
  }
  // The remote status becomes ours (as ssh does); no error message: the command said what it had to.
  process.exitCode = result.code;
  return result;
}
