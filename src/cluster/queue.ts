import { basename, posix } from 'node:path';
import type { NodeRecord, Provider } from '../cloud/provider.js';
import { RemoteError, StarclusterError, UsageError } from '../errors.js';
import type { IoHost } from '../io-host.js';
import { shellQuote } from '../remote/types.js';
import { findNode, openRunningCluster, putFiles, sshNode } from '../setup/access.js';
import { queueSettings } from '../setup/queue.js';
import { countJobs, parseQueueStatus, QUEUE_STATUS_COMMAND } from '../setup/slurm.js';

/** What `listclusters -s` says about a cluster's queue. */
export interface QueueInfo {
  /** `disabled`: DISABLE_QUEUE; `down`: slurmctld does not answer; `unreachable`: no SSH to the master. */
  state: 'up' | 'down' | 'disabled' | 'unreachable';
  running?: number;
  waiting?: number;
  /** Exec nodes the queue knows, and how many of them are idle. */
  nodes?: number;
  idle?: number;
  error?: string;
}

/** Connects to the master and reads its queue (15 s at most). Never throws: what failed is in the answer. */
export async function probeQueue(opts: {
  name: string;
  provider: Provider;
  configPath?: string;
  io: IoHost;
}): Promise<QueueInfo> {
  try {
    const ctx = await openRunningCluster({
      name: opts.name,
      io: opts.io,
      provider: opts.provider,
      ...(opts.configPath ? { configPath: opts.configPath } : {}),
    });
    if (!queueSettings(ctx.template).enabled) return { state: 'disabled' };
    const r = await sshNode({
      ctx,
      node: findNode(ctx, 'master'),
      command: QUEUE_STATUS_COMMAND,
      signal: AbortSignal.timeout(15_000),
    });
    const status = parseQueueStatus(r.stdout ?? '');
    if (!status.controllerUp) return { state: 'down' };
    return {
      state: 'up',
      ...countJobs(status),
      nodes: status.nodes.length,
      idle: status.nodes.filter((n) => n.responding && n.state === 'idle').length,
    };
  } catch (error) {
    return {
      state: 'unreachable',
      error: StarclusterError.is(error) || error instanceof Error ? error.message : String(error),
    };
  }
}

export function renderQueue(q: QueueInfo): string {
  if (q.state === 'up')
    return `queue: up, ${q.running ?? 0} running, ${q.waiting ?? 0} waiting (${q.idle ?? 0} of ${q.nodes ?? 0} nodes idle)`;
  if (q.state === 'disabled') return 'queue: none (DISABLE_QUEUE)';
  if (q.state === 'down') return 'queue: down (slurmctld does not answer on the master)';
  return `queue: unknown (${q.error ?? 'master unreachable'})`;
}

export interface SubmitOptions {
  name: string;
  script: string;
  /** Extra sbatch options, before the script. */
  sbatchArgs?: string[];
  configPath?: string;
  io: IoHost;
  provider?: Provider;
  signal?: AbortSignal;
}

export interface SubmitResult {
  name: string;
  jobId: string;
  /** Where the script went on the master (in the cluster user's shared home). */
  remotePath: string;
  user: string;
  node: NodeRecord['alias'];
}

/**
 * `qsub NAME SCRIPT`: copies the script into the cluster user's home on the master (shared with
 * every node) and submits it with sbatch from there, so its output lands beside it.
 */
export async function submitJob(opts: SubmitOptions): Promise<SubmitResult> {
  const ctx = await openRunningCluster({
    name: opts.name,
    io: opts.io,
    ...(opts.configPath ? { configPath: opts.configPath } : {}),
    ...(opts.provider ? { provider: opts.provider } : {}),
  });
  if (!queueSettings(ctx.template).enabled)
    throw new UsageError('QueueDisabled', `cluster ${opts.name} has no queue (DISABLE_QUEUE = True)`);
  const user = ctx.template.clusterUser;
  const node = findNode(ctx, 'master');
  const dir = 'jobs';
  const remotePath = posix.join(`/home/${user}`, dir, `${Date.now().toString(36)}-${basename(opts.script)}`);
  const signal = opts.signal ? { signal: opts.signal } : {};
  const mk = await sshNode({ ctx, node, user, command: `mkdir -p ~/${dir}`, ...signal });
  if (mk.code !== 0) throw new RemoteError('SubmitFailed', `cannot make ~/${dir} on the master: ${mk.stderr?.trim()}`);
  await putFiles({ ctx, node, user, sources: [opts.script], destination: remotePath, io: opts.io, ...signal });
  const args = (opts.sbatchArgs ?? []).map(shellQuote).join(' ');
  const r = await sshNode({
    ctx,
    node,
    user,
    command: `cd ~/${dir} && sbatch --parsable ${args} ${shellQuote(remotePath)}`,
    ...signal,
  });
  const jobId = (r.stdout ?? '').trim().split(';')[0] ?? '';
  if (r.code !== 0 || !/^\d+$/.test(jobId)) {
    throw new RemoteError('SubmitFailed', `sbatch refused ${opts.script} on ${opts.name}`, {
      details: (r.stderr || r.stdout || '').trim().split('\n').slice(-5),
    });
  }
  return { name: opts.name, jobId, remotePath, user, node: node.alias };
}
