import { connect, type ConnectTarget, type SshConnection } from './connection.js';
import { Semaphore } from './semaphore.js';
import type { ExecOptions, ExecResult, RemoteHost, TransferOptions } from './types.js';
import { waitForSsh, type WaitForSshOptions } from './wait.js';

export interface SshPoolOptions {
  privateKey: Buffer | string;
  /** The cluster's pinned host keys. */
  knownHostsFile: string;
  /** Login user when a target names none (default root, as StarCluster). */
  user?: string;
  /** Operations (commands, transfers, logins) in flight at once across all nodes (default 16). */
  concurrency?: number;
  connectTimeoutMs?: number;
  /** ssh-agent socket for agent forwarding (`sshmaster -A`). */
  agent?: string;
}

export interface HostTarget {
  alias: string;
  address: string;
  /** Instance id, pinned with the host key (see checkHostKey). */
  instanceId?: string;
  port?: number;
  user?: string;
}

/**
 * Connections to a cluster's nodes, one per node and user, opened on first use and reused.
 * Everything done through it is bounded by one semaphore, so 100 nodes never mean 100 handshakes
 * at once. `close()` ends every connection (a process with open connections does not exit).
 */
export class SshPool {
  private readonly limit: Semaphore;
  private readonly connections = new Map<string, Promise<SshConnection>>();

  constructor(private readonly options: SshPoolOptions) {
    this.limit = new Semaphore(options.concurrency ?? 16);
  }

  /** A RemoteHost for `target`; connecting happens on first use. */
  host(target: HostTarget): RemoteHost {
    return new PooledHost(this, target, target.user ?? this.options.user ?? 'root');
  }

  /** Waits (with backoff, up to a total timeout) until `target` accepts SSH; the connection is kept. */
  async waitFor(target: HostTarget, options: WaitForSshOptions = {}): Promise<RemoteHost> {
    const user = target.user ?? this.options.user ?? 'root';
    const key = keyOf(target, user);
    const existing = this.connections.get(key);
    if (
      !existing ||
      !(await existing.then(
        (c) => c.isOpen,
        () => false,
      ))
    ) {
      const pending = this.limit.use(() => waitForSsh(this.connectTarget(target, user), options));
      this.connections.set(key, pending);
      pending.catch(() => this.connections.delete(key));
      await pending;
    }
    return new PooledHost(this, target, user);
  }

  /** Runs `work` with a connection to `target`, inside the pool's concurrency bound. */
  run<T>(target: HostTarget, user: string, work: (connection: SshConnection) => Promise<T>): Promise<T> {
    return this.limit.use(async () => work(await this.connection(target, user)));
  }

  /** The live connection to `target` as `user`, opened if needed (outside the bound: for long sessions). */
  async connection(target: HostTarget, user = target.user ?? this.options.user ?? 'root'): Promise<SshConnection> {
    const key = keyOf(target, user);
    const existing = this.connections.get(key);
    if (existing) {
      const open = await existing.then(
        (c) => (c.isOpen ? c : undefined),
        () => undefined,
      );
      if (open) return open;
    }
    const pending = connect(this.connectTarget(target, user));
    this.connections.set(key, pending);
    pending.catch(() => this.connections.delete(key));
    return pending;
  }

  /** Closes and drops the connection to `target` as `user` (the next use connects again). */
  forget(target: HostTarget, user = target.user ?? this.options.user ?? 'root'): void {
    const key = keyOf(target, user);
    const pending = this.connections.get(key);
    this.connections.delete(key);
    pending?.then(
      (c) => c.close(),
      () => undefined,
    );
  }

  close(): void {
    for (const pending of this.connections.values())
      pending.then(
        (c) => c.close(),
        () => undefined,
      );
    this.connections.clear();
  }

  private connectTarget(target: HostTarget, user: string): ConnectTarget {
    return {
      alias: target.alias,
      address: target.address,
      port: target.port,
      ...(target.instanceId ? { instanceId: target.instanceId } : {}),
      user,
      privateKey: this.options.privateKey,
      knownHostsFile: this.options.knownHostsFile,
      connectTimeoutMs: this.options.connectTimeoutMs,
      ...(this.options.agent ? { agent: this.options.agent } : {}),
    };
  }
}

function keyOf(target: HostTarget, user: string): string {
  return `${user}@${target.address}:${target.port ?? 22}`;
}

class PooledHost implements RemoteHost {
  readonly alias: string;
  readonly address: string;

  constructor(
    private readonly pool: SshPool,
    private readonly target: HostTarget,
    readonly user: string,
  ) {
    this.alias = target.alias;
    this.address = target.address;
  }

  exec(command: string, options?: ExecOptions): Promise<ExecResult> {
    return this.pool.run(this.target, this.user, (c) => c.exec(command, options));
  }
  put(localPath: string, remotePath: string, options?: TransferOptions): Promise<void> {
    return this.pool.run(this.target, this.user, (c) => c.put(localPath, remotePath, options));
  }
  get(remotePath: string, localPath: string, options?: TransferOptions): Promise<void> {
    return this.pool.run(this.target, this.user, (c) => c.get(remotePath, localPath, options));
  }
  writeFile(remotePath: string, content: string | Buffer, mode?: number): Promise<void> {
    return this.pool.run(this.target, this.user, (c) => c.writeFile(remotePath, content, mode));
  }
  readFile(remotePath: string): Promise<Buffer> {
    return this.pool.run(this.target, this.user, (c) => c.readFile(remotePath));
  }
}
