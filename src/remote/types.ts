import { RemoteError } from '../errors.js';

/**
 * What setup code, plugins and commands need from a node, without knowing about ssh2. Tests use
 * the real implementation against fleet hosts, or a recording runner where no host can exist.
 */

export interface ExecOptions {
  /** Kill the command and fail with RemoteError `RemoteTimeout` after this long (default: none). */
  timeoutMs?: number;
  /** Exported before the command runs (values are shell-quoted). */
  env?: Record<string, string>;
  /** Written to the command's standard input, which is then closed. */
  stdin?: string | Buffer;
  signal?: AbortSignal;
  /** Forward the connection's ssh-agent to the command (the connection must have an `agent`). */
  agentForward?: boolean;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit status; 255 (ssh's convention) when the command died of a signal. */
  code: number;
}

/** Runs shell commands somewhere. */
export interface CommandRunner {
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
}

export interface TransferProgress {
  /** The file being copied (local path for put, remote path for get). */
  file: string;
  /** Bytes of this file done, and its size. */
  transferred: number;
  size: number;
  /** Bytes of the whole transfer done, and its size (known before the first byte moves). */
  totalTransferred: number;
  total: number;
}

export interface TransferOptions {
  onProgress?: (progress: TransferProgress) => void;
  signal?: AbortSignal;
}

/** One node reached over SSH as one user. */
export interface RemoteHost extends CommandRunner {
  /** `master`, `node001`... or the address when the alias is unknown. */
  readonly alias: string;
  readonly address: string;
  readonly user: string;
  /** Copies a local file or directory tree to `remotePath` (created; parents must exist). */
  put(localPath: string, remotePath: string, options?: TransferOptions): Promise<void>;
  /** Copies a remote file or directory tree to `localPath`. */
  get(remotePath: string, localPath: string, options?: TransferOptions): Promise<void>;
  /** Writes `content` to `remotePath` atomically enough for config files (temp file + rename). */
  writeFile(remotePath: string, content: string | Buffer, mode?: number): Promise<void>;
  readFile(remotePath: string): Promise<Buffer>;
}

/** Like `exec`, but a non-zero status is a RemoteError naming the host and the command. */
export async function execChecked(
  host: CommandRunner & { alias?: string },
  command: string,
  options?: ExecOptions,
): Promise<ExecResult> {
  const result = await host.exec(command, options);
  if (result.code !== 0) {
    const where = host.alias ?? 'remote host';
    const tail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-5).join('\n');
    throw new RemoteError(
      'RemoteCommandFailed',
      `command failed on ${where} (exit ${result.code}): ${firstLine(command)}`,
      {
        details: tail ? tail.split('\n') : [],
      },
    );
  }
  return result;
}

function firstLine(command: string): string {
  const line = command.trim().split('\n')[0] ?? '';
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}

export { shellQuote } from '../shell.js';
