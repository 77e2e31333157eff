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
