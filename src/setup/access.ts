import { basename, posix } from 'node:path';
import { stat } from 'node:fs/promises';
import { createProvider } from '../cloud/index.js';
import { clusterContext, existingNodes, openCluster } from '../cloud/open.js';
import type { NodeRecord, Provider } from '../cloud/provider.js';
import type { ClusterContext } from '../model/context.js';
import { emptyConfig } from '../model/template.js';
import { loadConfig } from '../config/index.js';
import type { StarclusterConfig } from '../config/types.js';
import { CloudError, StarclusterError, UsageError } from '../errors.js';
import type { IoHost } from '../io-host.js';
import type { InteractiveIo } from '../remote/connection.js';
import { SshPool } from '../remote/pool.js';
import { runOpenSsh } from '../remote/openssh.js';
import type { StdioOptions } from 'node:child_process';
import { readPrivateKey } from '../remote/keys.js';
import type { ExecResult } from '../remote/types.js';
import { shellQuote } from '../shell.js';
import { knownHostsFile, privateKeyPath, toSetupNode } from './session.js';

/**
 * What the ssh/put/get/runplugin commands do: find a live cluster's nodes through the provider,
 * then reach one over SSH with the cluster's pinned known_hosts.
 */

export interface ClusterAccessOptions {
  name: string;
  configPath?: string;
  io: IoHost;
  env?: NodeJS.ProcessEnv;
  provider?: Provider;
}

async function configOrEmpty(path: string | undefined, env: NodeJS.ProcessEnv): Promise<StarclusterConfig> {
  try {
    return await loadConfig({ ...(path ? { path } : {}), env });
  } catch (error) {
    if (StarclusterError.is(error) && error.code === 'ConfigNotFound' && !path) return emptyConfig();
    throw error;
  }
}

/** The running cluster NAME as a ClusterContext (nodes from tags, template from the config or the group's tags). */
export async function openRunningCluster(opts: ClusterAccessOptions): Promise<ClusterContext> {
  const env = opts.env ?? process.env;
  const config = await configOrEmpty(opts.configPath, env);
  const cluster = await openCluster(opts.name, {
    config,
    io: opts.io,
    env,
    ...(opts.provider ? { provider: opts.provider } : {}),
  });
  existingNodes(cluster, { running: true });
  return cluster.ctx;
}

/** `master`, `node001`, `1` (StarCluster's numeric shorthand for node001), or an instance id. */
export function findNode(ctx: Pick<ClusterContext, 'name' | 'nodes'>, which = 'master'): NodeRecord {
  const wanted = /^\d+$/.test(which) ? (Number(which) === 0 ? 'master' : `node${which.padStart(3, '0')}`) : which;
  const node = ctx.nodes.find((n) => n.alias === wanted || n.id === wanted || `${ctx.name}-${n.alias}` === wanted);
  if (!node) {
    throw new UsageError('NodeNotFound', `cluster ${ctx.name} has no running node ${which}`, {
      hint: `nodes: ${ctx.nodes.map((n) => n.alias).join(', ')}`,
    });
  }
  return node;
}

async function poolFor(ctx: ClusterContext, agent?: string): Promise<SshPool> {
  return new SshPool({
    privateKey: await readPrivateKey(privateKeyPath(ctx)),
    knownHostsFile: knownHostsFile(ctx),
    ...(agent ? { agent } : {}),
  });
}

export interface SshNodeOptions {
  ctx: ClusterContext;
  node: NodeRecord;
  user?: string;
  /** Runs this and returns its output; without it, an interactive login shell on `tty`. */
  command?: string;
  tty?: InteractiveIo;
  signal?: AbortSignal;
  /** `-A`: forward the ssh-agent at SSH_AUTH_SOCK. */
  agentForward?: boolean;
  /** `-X`: forward X11, through OpenSSH's ssh (see src/remote/openssh.ts); `stdio` is its terminal. */
  x11?: boolean;
  stdio?: StdioOptions;
  /** With `x11`: force a pty for a command (`-t`). */
  forcePty?: boolean;
  env?: NodeJS.ProcessEnv;
}

export interface SshNodeResult extends Partial<ExecResult> {
  node: string;
  user: string;
  code: number;
}

/** `sshmaster`/`sshnode`/`sshinstance`: a command (output returned) or an interactive session with a pty. */
export async function sshNode(opts: SshNodeOptions): Promise<SshNodeResult> {
  const user = opts.user ?? 'root';
  const target = toSetupNode(opts.ctx, opts.node);
  const env = opts.env ?? process.env;
  const agent = opts.agentForward ? env.SSH_AUTH_SOCK : undefined;
  if (opts.agentForward && !agent)
    throw new UsageError(
      'NoSshAgent',
      '-A forwards your ssh-agent, but SSH_AUTH_SOCK is not set: start one (eval $(ssh-agent))',
    );
  const pool = await poolFor(opts.ctx, agent);
  try {
    // Connecting first also pins the host key on first contact, which OpenSSH (for -X) then checks.
    const connection = await pool.connection({
      alias: target.alias,
      address: target.address,
      instanceId: opts.node.id,
      user,
    });
    if (opts.x11) {
      const code = await runOpenSsh({
        address: target.address,
        user,
        keyFile: privateKeyPath(opts.ctx),
        knownHostsFile: knownHostsFile(opts.ctx),
        x11: true,
        agentForward: Boolean(opts.agentForward),
        forcePty: Boolean(opts.forcePty),
        ...(opts.command ? { command: opts.command } : {}),
        stdio: opts.stdio ?? 'inherit',
        env,
      });
      return { node: target.alias, user, code };
    }
    if (opts.tty) {
      const code = await connection.interactive(opts.tty, opts.command, { agentForward: Boolean(opts.agentForward) });
      return { node: target.alias, user, code };
    }
    if (!opts.command)
      throw new UsageError('NoTerminal', 'give a command to run, or run this from a terminal for a login shell');
    const result = await connection.exec(opts.command, {
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.agentForward ? { agentForward: true } : {}),
    });
    return { node: target.alias, user, ...result };
  } finally {
    pool.close();
  }
}

/** `sshinstance`: any instance by id, in any cluster (the key comes from the [key] named like its key pair). */
export async function openInstance(opts: {
  instanceId: string;
  configPath?: string;
  io: IoHost;
  env?: NodeJS.ProcessEnv;
}): Promise<{ ctx: ClusterContext; node: NodeRecord }> {
  const env = opts.env ?? process.env;
  const config = await configOrEmpty(opts.configPath, env);
  const provider = await createProvider(undefined, config, { kind: 'ec2', env });
  const node = (await provider.describeNodes([opts.instanceId])).find((n) => n.state === 'running');
  if (!node)
    throw new CloudError('InstanceNotFound', `instance ${opts.instanceId} is not running (or does not exist)`, {
      hint: 'see `starcluster listinstances`',
    });
  const name = node.cluster || opts.instanceId;
  const { ctx } = clusterContext(name, provider, [node], { config, io: opts.io, env });
  return { ctx, node };
}

export interface TransferOptions {
  ctx: ClusterContext;
  node: NodeRecord;
  user?: string;
  sources: string[];
  destination: string;
  io: IoHost;
  signal?: AbortSignal;
}

export interface TransferResult {
  node: string;
  files: string[];
  bytes: number;
}

/** `put`: local files or trees to the node. Several sources go into the destination directory. */
export async function putFiles(opts: TransferOptions): Promise<TransferResult> {
  return transfer(opts, 'put');
}

/** `get`: remote files or trees to this machine. Several sources go into the destination directory. */
export async function getFiles(opts: TransferOptions): Promise<TransferResult> {
  return transfer(opts, 'get');
}

async function transfer(opts: TransferOptions, direction: 'put' | 'get'): Promise<TransferResult> {
  const target = toSetupNode(opts.ctx, opts.node);
  const user = opts.user ?? 'root';
  const pool = await poolFor(opts.ctx);
  const id = `${direction}-${target.alias}`;
  const title = direction === 'put' ? `Uploading to ${target.alias}` : `Downloading from ${target.alias}`;
  let bytes = 0;
  try {
    const host = pool.host({ alias: target.alias, address: target.address, instanceId: opts.node.id, user });
    const many = opts.sources.length > 1;
    if (many) {
      const isDir =
        direction === 'put'
          ? (await host.exec(`test -d ${shellQuote(opts.destination)}`)).code === 0
          : await stat(opts.destination).then(
              (s) => s.isDirectory(),
              () => false,
            );
      if (!isDir)
        throw new UsageError(
          'DestinationNotDirectory',
          `${opts.destination} must be an existing directory when copying several files`,
        );
    }
    opts.io.progress({ id, state: 'start', title });
    for (const source of opts.sources) {
      const dest = many
        ? direction === 'put'
          ? posix.join(opts.destination, basename(source))
          : `${opts.destination}/${posix.basename(source)}`
        : opts.destination;
      let done = 0;
      const onProgress = (p: { totalTransferred: number; total: number; file: string }): void => {
        done = p.totalTransferred;
        opts.io.progress({
          id,
          state: 'update',
          title,
          detail: p.file,
          current: bytes + p.totalTransferred,
          total: bytes + p.total,
        });
      };
      if (direction === 'put')
        await host.put(source, dest, { onProgress, ...(opts.signal ? { signal: opts.signal } : {}) });
      else await host.get(source, dest, { onProgress, ...(opts.signal ? { signal: opts.signal } : {}) });
      bytes += done;
    }
    opts.io.progress({ id, state: 'done', title, detail: `${opts.sources.length} item(s), ${bytes} bytes` });
    return { node: target.alias, files: opts.sources, bytes };
  } catch (error) {
    opts.io.progress({ id, state: 'fail', title, detail: (error as Error).message });
    throw error;
  } finally {
    pool.close();
  }
}

/**
 * `listclusters -s`: for each running node, whether it answers SSH with the cluster's key and
 * pinned host key (within `timeoutMs`). Nodes that are not running are `down`.
 */
export async function sshStatus(ctx: ClusterContext, timeoutMs = 10_000): Promise<Record<string, 'up' | 'down'>> {
  const pool = new SshPool({
    privateKey: await readPrivateKey(privateKeyPath(ctx)),
    knownHostsFile: knownHostsFile(ctx),
    connectTimeoutMs: timeoutMs,
  });
  try {
    const entries = await Promise.all(
      ctx.nodes.map(async (node): Promise<[string, 'up' | 'down']> => {
        if (node.state !== 'running') return [node.alias, 'down'];
        const target = toSetupNode(ctx, node);
        const up = await pool
          .run({ alias: target.alias, address: target.address, instanceId: node.id }, 'root', async (c) =>
            c.exec('true').then((r) => r.code === 0),
          )
          .catch(() => false);
        return [node.alias, up ? 'up' : 'down'];
      }),
    );
    return Object.fromEntries(entries);
  } finally {
    pool.close();
  }
}
