import type { Readable, Writable } from 'node:stream';
import ssh2, {
  type Client,
  type ClientChannel,
  type ExecOptions as ChannelOptions,
  type PseudoTtyOptions,
  type SFTPWrapper,
} from 'ssh2';
import type { StarclusterError } from '../errors.js';
import { AbortError, RemoteError } from '../errors.js';
import { checkHostKey, knownHostsName } from './known-hosts.js';
import { Semaphore } from './semaphore.js';
import { getTree, putTree } from './transfer.js';
import { shellQuote, type ExecOptions, type ExecResult, type RemoteHost, type TransferOptions } from './types.js';

export interface ConnectTarget {
  /** For messages: `master`, `node001`... */
  alias: string;
  address: string;
  port?: number;
  user: string;
  privateKey: Buffer | string;
  /** The cluster's pinned host keys (`~/.starcluster/clusters/NAME/known_hosts`). */
  knownHostsFile: string;
  /** The instance behind the address (recorded with the pinned key; a new instance may have a new key). */
  instanceId?: string;
  /** TCP connect + handshake + auth must finish within this (default 20 s). */
  connectTimeoutMs?: number;
  /** An ssh-agent socket (SSH_AUTH_SOCK): lets sessions forward the agent (`-A`). */
  agent?: string;
}

/** OpenSSH's default MaxSessions is 10: stay below it on one connection. */
const CHANNELS_PER_CONNECTION = 8;

/** Opens one authenticated SSH connection, verifying (or pinning) the host key. */
export function connect(target: ConnectTarget, signal?: AbortSignal): Promise<SshConnection> {
  const port = target.port ?? 22;
  const hostName = knownHostsName(target.address, port);
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortError());
      return;
    }
    const client = new ssh2.Client();
    let refused: unknown;
    let settled = false;
    const onAbort = (): void => finish(new AbortError());
    const finish = (error?: unknown): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (error === undefined) {
        resolve(new SshConnection(client, target));
        return;
      }
      client.end();
      client.destroy();
      reject(error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    client.on('ready', () => finish());
    client.on('error', (error: Error & { level?: string }) => {
      if (refused !== undefined) finish(refused);
      else finish(connectError(target, error));
    });
    client.on('close', () =>
      finish(refused ?? new RemoteError('SshClosed', `ssh to ${target.alias} (${target.address}) closed during login`)),
    );
    client.connect({
      host: target.address,
      port,
      username: target.user,
      privateKey: target.privateKey,
      readyTimeout: target.connectTimeoutMs ?? 20_000,
      // Only the sessions that ask for it (`-A`) forward the agent; the agent also offers its keys for login.
      ...(target.agent ? { agent: target.agent } : {}),
      keepaliveInterval: 15_000,
      keepaliveCountMax: 4,
      hostVerifier: (key: Buffer, verify: (valid: boolean) => void) => {
        checkHostKey(target.knownHostsFile, hostName, key, target.alias, target.instanceId).then(
          () => verify(true),
          (error: unknown) => {
            refused = error;
            verify(false);
          },
        );
      },
    });
  });
}

function connectError(target: ConnectTarget, error: Error & { level?: string; code?: string }): RemoteError {
  const where = `${target.alias} (${target.address})`;
  if (error.level === 'client-authentication') {
    return new RemoteError('SshAuthFailed', `ssh to ${where} as ${target.user} was refused: the key was not accepted`, {
      hint: 'check that KEY_LOCATION is the private key of the key pair the instance was launched with',
      cause: error,
    });
  }
  if (/timed out/i.test(error.message)) {
    return new RemoteError('SshTimeout', `ssh to ${where} timed out: ${error.message}`, { cause: error });
  }
  return new RemoteError('SshConnectFailed', `ssh to ${where} failed: ${error.code ?? error.message}`, {
    cause: error,
  });
}

/** One live SSH connection to one node as one user. */
export class SshConnection implements RemoteHost {
  readonly alias: string;
  readonly address: string;
  readonly user: string;
  private readonly channels = new Semaphore(CHANNELS_PER_CONNECTION);
  private sftpSession?: Promise<SFTPWrapper>;
  /** Remote port forwards on this connection: bound port → handler. */
  private inbound?: Map<number, (channel: ClientChannel) => void>;
  private closed = false;

  constructor(
    private readonly client: Client,
    target: ConnectTarget,
  ) {
    this.alias = target.alias;
    this.address = target.address;
    this.user = target.user;
    client.on('close', () => {
      this.closed = true;
    });
    client.on('error', () => {
      this.closed = true;
    });
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  close(): void {
    this.closed = true;
    this.client.end();
  }

  exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    return this.execRaw(command, options).then((r) => ({
      stdout: r.stdout.toString('utf8'),
      stderr: r.stderr.toString('utf8'),
      code: r.code,
    }));
  }

  /** `exec` with the output as bytes. */
  execRaw(command: string, options: ExecOptions = {}): Promise<{ stdout: Buffer; stderr: Buffer; code: number }> {
    const full = withEnv(command, options.env);
    return this.channels.use(
      () =>
        new Promise((resolve, reject) => {
          if (options.signal?.aborted) {
            reject(new AbortError());
            return;
          }
          this.client.exec(full, channelOptions({ agentForward: options.agentForward }), (error, stream) => {
            if (error) {
              reject(this.channelError(error, command));
              return;
            }
            const out: Buffer[] = [];
            const err: Buffer[] = [];
            let code: number | undefined;
            let finished = false;
            const fail = (error: StarclusterError): void => {
              // Settle now: a server may keep the channel open until the command ends by itself.
              if (finished) return;
              finished = true;
              if (timer) clearTimeout(timer);
              options.signal?.removeEventListener('abort', onAbort);
              stopChannel(stream);
              reject(error);
            };
            const timer =
              options.timeoutMs === undefined
                ? undefined
                : setTimeout(
                    () =>
                      fail(
                        new RemoteError(
                          'RemoteTimeout',
                          `command on ${this.alias} did not finish within ${Math.round((options.timeoutMs ?? 0) / 1000)}s: ${short(command)}`,
                        ),
                      ),
                    options.timeoutMs,
                  );
            const onAbort = (): void => fail(new AbortError());
            options.signal?.addEventListener('abort', onAbort, { once: true });
            stream.on('data', (chunk: Buffer) => out.push(chunk));
            stream.stderr.on('data', (chunk: Buffer) => err.push(chunk));
            stream.on('exit', (exitCode: number | null) => {
              code = exitCode ?? 255;
            });
            stream.on('close', () => {
              if (finished) return;
              finished = true;
              if (timer) clearTimeout(timer);
              options.signal?.removeEventListener('abort', onAbort);
              if (code === undefined && this.closed)
                reject(
                  new RemoteError(
                    'SshClosed',
                    `connection to ${this.alias} (${this.address}) closed while running: ${short(command)}`,
                  ),
                );
              else resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(err), code: code ?? 255 });
            });
            if (options.stdin !== undefined) stream.end(options.stdin);
            else stream.end();
          });
        }),
    );
  }

  async writeFile(remotePath: string, content: string | Buffer, mode = 0o644): Promise<void> {
    const temp = `${remotePath}.sc-tmp`;
    const q = shellQuote;
    const result = await this.exec(
      `umask 077 && cat > ${q(temp)} && chmod ${mode.toString(8)} ${q(temp)} && mv -f ${q(temp)} ${q(remotePath)}`,
      { stdin: content },
    );
    if (result.code !== 0) {
      throw new RemoteError(
        'RemoteWriteFailed',
        `cannot write ${remotePath} on ${this.alias}: ${result.stderr.trim()}`,
      );
    }
  }

  async readFile(remotePath: string): Promise<Buffer> {
    const result = await this.execRaw(`cat ${shellQuote(remotePath)}`);
    if (result.code !== 0) {
      throw new RemoteError(
        'RemoteReadFailed',
        `cannot read ${remotePath} on ${this.alias}: ${result.stderr.toString().trim()}`,
      );
    }
    return result.stdout;
  }

  private sftp(): Promise<SFTPWrapper> {
    this.sftpSession ??= new Promise((resolve, reject) => {
      this.client.sftp((error, sftp) => {
        if (error) {
          this.sftpSession = undefined;
          reject(this.channelError(error, 'sftp'));
        } else resolve(sftp);
      });
    });
    return this.sftpSession;
  }

  async put(localPath: string, remotePath: string, options: TransferOptions = {}): Promise<void> {
    await putTree(await this.sftp(), this.alias, localPath, remotePath, options);
  }

  async get(remotePath: string, localPath: string, options: TransferOptions = {}): Promise<void> {
    await getTree(await this.sftp(), this.alias, remotePath, localPath, options);
  }

  /** A channel to `host:port` as seen from this node (for tunnels). */
  forwardOut(host: string, port: number): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      this.client.forwardOut('127.0.0.1', 0, host, port, (error, channel) => {
        if (error)
          reject(
            new RemoteError('TunnelFailed', `${this.alias} cannot reach ${host}:${port}: ${error.message}`, {
              cause: error,
            }),
          );
        else resolve(channel);
      });
    });
  }

  /**
   * A remote port forward: the node listens on `host:port` (0 = a free port) and each connection
   * to it is handed to `onChannel`. Resolves with the bound port. See reverse-tunnel.ts.
   */
  forwardIn(host: string, port: number, onChannel: (channel: ClientChannel) => void): Promise<number> {
    if (!this.inbound) {
      this.inbound = new Map();
      const inbound = this.inbound;
      this.client.on('tcp connection', (info, accept, reject) => {
        const handler = inbound.get(info.destPort);
        if (handler) handler(accept());
        else reject();
      });
    }
    const inbound = this.inbound;
    return new Promise((resolve, reject) => {
      this.client.forwardIn(host, port, (error, bound) => {
        if (error) {
          reject(
            new RemoteError('TunnelFailed', `${this.alias} refused to listen on ${host}:${port}: ${error.message}`, {
              cause: error,
              hint: 'the node’s sshd must allow TCP forwarding (AllowTcpForwarding yes, the default)',
            }),
          );
          return;
        }
        const actual = bound || port;
        inbound.set(actual, onChannel);
        resolve(actual);
      });
    });
  }

  /** Stops a remote port forward made by `forwardIn`. */
  unforwardIn(host: string, port: number): Promise<void> {
    this.inbound?.delete(port);
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      try {
        this.client.unforwardIn(host, port, () => resolve());
      } catch {
        resolve(); // the connection is already gone: so is the listener
      }
    });
  }

  /**
   * An interactive session with a pty (a login shell, or `command`), wired to the given streams.
   * Resolves with the remote exit status.
   */
  interactive(io: InteractiveIo, command?: string, options: { agentForward?: boolean } = {}): Promise<number> {
    return new Promise((resolve, reject) => {
      const pty = { term: io.term ?? 'xterm-256color', rows: io.rows ?? 24, cols: io.cols ?? 80 };
      const onChannel = (error: Error | undefined, stream: ClientChannel): void => {
        if (error) {
          reject(this.channelError(error, command ?? 'shell'));
          return;
        }
        let code = 0;
        io.onResize?.((rows, cols) => stream.setWindow(rows, cols, 0, 0));
        io.input.pipe(stream);
        stream.pipe(io.output, { end: false });
        stream.stderr.pipe(io.errorOutput ?? io.output, { end: false });
        stream.on('exit', (exitCode: number | null) => {
          code = exitCode ?? 255;
        });
        stream.on('close', () => {
          io.input.unpipe(stream);
          resolve(code);
        });
      };
      if (command) this.client.exec(command, channelOptions({ pty, agentForward: options.agentForward }), onChannel);
      else this.client.shell(pty, channelOptions({ agentForward: options.agentForward }), onChannel);
    });
  }

  private channelError(error: Error, what: string): RemoteError {
    return new RemoteError(
      'SshChannelFailed',
      `cannot open a session on ${this.alias} (${this.address}) for ${short(what)}: ${error.message}`,
      {
        cause: error,
      },
    );
  }
}

/**
 * A channel's options. ssh2 forwards the agent per channel (`agentForward`, when the connection
 * has an `agent`), which its type definitions do not list.
 */
function channelOptions(options: { pty?: PseudoTtyOptions; agentForward?: boolean | undefined }): ChannelOptions {
  const out: ChannelOptions & { agentForward?: boolean } = {};
  if (options.pty) out.pty = options.pty;
  if (options.agentForward) out.agentForward = true;
  return out;
}

export interface InteractiveIo {
  input: Readable;
  output: Writable;
  errorOutput?: Writable;
  term?: string;
  rows?: number;
  cols?: number;
  /** Called once with a function to forward window size changes. */
  onResize?: (resize: (rows: number, cols: number) => void) => void;
}

function withEnv(command: string, env: Record<string, string> | undefined): string {
  if (!env || Object.keys(env).length === 0) return command;
  const exports = Object.entries(env).map(([k, v]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
      throw new RemoteError('BadEnvName', `environment variable name ${JSON.stringify(k)} is not valid`);
    return `export ${k}=${shellQuote(v)}`;
  });
  return `${exports.join('; ')}; ${command}`;
}

function stopChannel(stream: ClientChannel): void {
  try {
    stream.signal('KILL');
  } catch {
    // Not every server honours signals; closing the channel is what counts.
  }
  stream.close();
}

function short(command: string): string {
  const line = command.trim().split('\n')[0] ?? '';
  return line.length > 100 ? `${line.slice(0, 97)}...` : line;
}
