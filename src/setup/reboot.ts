import type { ClusterContext } from '../model/context.js';
import { RemoteError, StarclusterError } from '../errors.js';
import type { RemoteHost } from '../remote/types.js';
import { sshAccess, toSetupNode, type NodeAccess, type SetupNode } from './session.js';

export interface RebootWatchOptions {
  signal?: AbortSignal;
  /** How long a node may take to go down after the reboot call (default 10 minutes). */
  timeoutMs?: number;
  /** How long to try reaching a node before the reboot, to watch it (default 30 s). */
  reachMs?: number;
  /** How nodes are reached (default: SSH with the cluster's key and pinned known_hosts). */
  access?: NodeAccess;
}

/**
 * Reboots nodes and returns once each has gone down. RebootInstances returns at once and the
 * instance stays `running` throughout, so its state cannot tell when the reboot has happened; setup
 * run right after it reaches the old boot and is cut off halfway. So an SSH session is held on each
 * node first: a node's reboot has begun when its session ends. A node that cannot be reached before
 * the reboot (often why it is restarted) is rebooted unwatched. Returns the aliases of those.
 */
export async function rebootWatched(
  ctx: ClusterContext,
  ids: readonly string[],
  reboot: () => Promise<void>,
  options: RebootWatchOptions = {},
): Promise<string[]> {
  const access = options.access ?? (await sshAccess(ctx));
  try {
    const nodes = ctx.nodes.filter((n) => ids.includes(n.id)).map((n) => toSetupNode(ctx, n));
    const reached = await Promise.all(nodes.map((n) => reach(access, n, options)));
    const watched = nodes.flatMap((n, i) => (reached[i] ? [{ node: n, host: reached[i] }] : []));
    // Each session runs until its node goes down; settled here, checked once the reboot is asked.
    const sessions = watched.map(({ host }) =>
      host.exec('exec sleep 86400', { timeoutMs: options.timeoutMs ?? 600_000, ...signalOf(options) }).then(
        () => undefined,
        (error: unknown) => error,
      ),
    );
    await reboot();
    for (const [i, end] of (await Promise.all(sessions)).entries()) {
      if (!StarclusterError.is(end)) continue;
      if (end.code === 'Interrupted') throw end;
      if (end.code === 'RemoteTimeout')
        throw new RemoteError('RebootNotSeen', `${watched[i]!.node.alias} did not go down after the reboot call`, {
          hint: 'check the instance in the EC2 console (its system log), then `restart` again',
          cause: end,
        });
    }
    return nodes.filter((_, i) => !reached[i]).map((n) => n.alias);
  } finally {
    if (!options.access) access.close();
  }
}

async function reach(
  access: NodeAccess,
  node: SetupNode,
  options: RebootWatchOptions,
): Promise<RemoteHost | undefined> {
  const host = access.host(node, 'root');
  try {
    await host.exec('true', { timeoutMs: options.reachMs ?? 30_000, ...signalOf(options) });
    return host;
  } catch (error) {
    if (StarclusterError.is(error) && error.code === 'Interrupted') throw error;
    return undefined;
  }
}

function signalOf(options: RebootWatchOptions): { signal?: AbortSignal } {
  return options.signal ? { signal: options.signal } : {};
}
