import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { systemClock, type Clock } from '../clock.js';
import type { ClusterContext } from '../model/context.js';
import type { ClusterTemplate } from '../config/types.js';
import { ConfigError, RemoteError, StarclusterError, throwIfAborted } from '../errors.js';
import { execChecked } from '../remote/types.js';
import type { StepReport } from '../steps.js';
import { detectOs, installPackages, type OsRelease } from './packages.js';
import { isQueuePlugin } from './plugin-loader.js';
import { onNodes, type NodeAccess, type SetupNode } from './session.js';
import * as slurm from './slurm.js';

/**
 * The batch queue on a cluster's nodes (DESIGN.md, "The queue"): Slurm with munge and OpenMPI,
 * as StarCluster set up SGE. Setup calls these with the nodes it works on; the scripts they run
 * are in ./slurm.ts.
 */

export interface QueueSettings {
  /** Not DISABLE_QUEUE, or StarCluster's SGE plugin asked for it. */
  enabled: boolean;
  /** MASTER_IS_EXEC_HOST (the [cluster] key, else the SGE plugin's setting); default True. */
  masterIsExecHost: boolean;
  /** The config names StarCluster's SGE plugin (`PLUGINS = sge`): it gets Slurm and a notice. */
  viaSgePlugin: boolean;
}

const FALSE = /^(false|no|off|0)$/i;

export function queueSettings(
  template: Pick<ClusterTemplate, 'disableQueue' | 'masterIsExecHost' | 'plugins'>,
): QueueSettings {
  const sge = template.plugins.find(isQueuePlugin);
  const fromPlugin = sge?.settings.master_is_exec_host;
  return {
    // StarCluster's documented way to configure SGE was DISABLE_QUEUE = True plus PLUGINS = sge.
    enabled: !template.disableQueue || Boolean(sge),
    masterIsExecHost: template.masterIsExecHost ?? (fromPlugin !== undefined ? !FALSE.test(fromPlugin.trim()) : true),
    viaSgePlugin: Boolean(sge),
  };
}

export interface QueueCluster {
  ctx: ClusterContext;
  access: NodeAccess;
  /** Every node that stays in the cluster (for teardown: without the leaving ones). */
  all: readonly SetupNode[];
  master: SetupNode;
  /** What setup already learnt of each node's OS (by alias). */
  os?: ReadonlyMap<string, OsRelease>;
}

type Report = (r: StepReport) => void;

/** The cluster's munge key: made here on first use (1 KiB of randomness), kept 0600 in its state folder. */
export async function mungeKey(stateDir: string): Promise<Buffer> {
  const path = join(stateDir, 'munge.key');
  try {
    const key = await readFile(path);
    if (key.length >= 32) return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = randomBytes(1024);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, key, { mode: 0o600 });
  await chmod(path, 0o600);
  return key;
}

export function execNodes(q: Pick<QueueCluster, 'ctx' | 'all' | 'master'>): SetupNode[] {
  const { masterIsExecHost } = queueSettings(q.ctx.template);
  return q.all.filter((n) => masterIsExecHost || n !== q.master);
}

/** Installs Slurm, munge and OpenMPI on `targets` and starts munged there with the cluster's key. */
export async function installQueue(
  q: QueueCluster,
  targets: readonly SetupNode[],
  report: Report,
  signal?: AbortSignal,
): Promise<void> {
  const exec = new Set(execNodes(q));
  let done = 0;
  report({ detail: 'installing slurm, munge, openmpi', current: 0, total: targets.length });
  await onNodes('installing Slurm', targets, async (n) => {
    const root = q.access.host(n, 'root');
    const os = q.os?.get(n.alias) ?? (await detectOs(root));
    try {
      await installPackages(root, slurm.queuePackages({ controller: n === q.master, exec: exec.has(n) }), {
        os,
        ...(signal ? { signal } : {}),
        onRetry: (reason) => report({ detail: `${n.alias}: ${reason}` }),
      });
    } catch (error) {
      if (StarclusterError.is(error) && error.code === 'PackageNotFound' && os.manager === 'dnf') {
        throw new ConfigError('QueueUnsupportedImage', `${n.alias} runs ${os.prettyName}: ${slurm.AL2023_NO_SLURM}`, {
          cause: error,
          details: error.details,
        });
      }
      throw error;
    }
    done += 1;
    report({ detail: `${n.alias} has slurm`, current: done, total: targets.length });
  });
  const key = await mungeKey(q.ctx.stateDir);
  await onNodes('starting munge', targets, async (n) => {
    const root = q.access.host(n, 'root');
    // Over SFTP's stdin, never on a command line.
    await root.writeFile(`${slurm.SLURM_PATHS.mungeKey}.new`, key, 0o400);
    await execChecked(root, slurm.mungeScript(), { timeoutMs: 60_000 });
  });
}

/**
 * Writes slurm.conf from what every exec node has on every node, then (re)starts the daemons in
 * the order Slurm needs: slurmctld first, then the slurmds; a daemon whose config changed is
 * restarted, one that is down is started, others are left alone. Waits until every exec node
 * has registered, and writes the MPI host file.
 */
export async function configureQueue(q: QueueCluster, report: Report): Promise<slurm.QueueNode[]> {
  const exec = execNodes(q);
  const found = await onNodes('reading CPUs and memory', exec, async (n) => {
    const out = (await execChecked(q.access.host(n, 'root'), slurm.NODE_RESOURCES_COMMAND)).stdout;
    const resources = slurm.parseNodeResources(out);
    if (!resources)
      throw new RemoteError('NodeResourcesUnknown', `cannot tell the CPUs and memory of ${n.alias}: ${out.trim()}`);
    return { hostname: n.hostname, address: n.privateIp, resources } satisfies slurm.QueueNode;
  });
  report({ detail: found.map((n) => `${n.hostname} ${n.resources.cpus} CPUs`).join(', ') });
  const conf = slurm.slurmConf({
    cluster: q.ctx.name,
    controller: { hostname: q.master.hostname, address: q.master.privateIp },
    execNodes: found,
  });
  const changed = new Set<SetupNode>();
  await onNodes('writing slurm.conf', q.all, async (n) => {
    const out = (await execChecked(q.access.host(n, 'root'), slurm.writeConfScript(conf))).stdout;
    if (out.includes(slurm.CONF_CHANGED)) changed.add(n);
  });
  report({ detail: 'starting slurmctld' });
  await execChecked(
    q.access.host(q.master, 'root'),
    slurm.slurmctldScript(changed.has(q.master) ? 'restart' : 'start'),
    { timeoutMs: 120_000 },
  );
  report({ detail: `starting slurmd on ${exec.length} node(s)` });
  await onNodes('starting slurmd', exec, (n) =>
    execChecked(q.access.host(n, 'root'), slurm.slurmdScript(changed.has(n) ? 'restart' : 'start'), {
      timeoutMs: 120_000,
    }),
  );
  if (!exec.includes(q.master)) {
    await execChecked(q.access.host(q.master, 'root'), slurm.stopDaemonScript('slurmd'));
  }
  await execChecked(q.access.host(q.master, 'root'), slurm.waitNodesScript(found.map((n) => n.hostname)), {
    timeoutMs: 180_000,
  });
  const hostfile = slurm.mpiHostfile(found);
  const holders = q.ctx.template.sharedFs === 'none' ? q.all : [q.master];
  await onNodes('writing the MPI host file', holders, (n) =>
    q.access.host(n, 'root').writeFile(slurm.MPI_HOSTFILE, hostfile, 0o644),
  );
  report({ detail: `${found.length} node(s) idle in partition ${slurm.PARTITION}` });
  return found;
}

export interface DrainOptions {
  /** `removenode -f`: requeue the jobs running there instead of waiting for them. */
  requeue: boolean;
  signal?: AbortSignal;
  /** How often to look at the queue while waiting (default 2 s). */
  pollMs?: number;
  clock?: Clock;
}

/**
 * Drains the leaving nodes: no new job starts there; running jobs finish (or are requeued), and
 * this returns once none runs there. Interrupted, it resumes the nodes (the cluster is as before).
 */
export async function drainNodes(
  q: Pick<QueueCluster, 'access' | 'master'>,
  leaving: readonly SetupNode[],
  options: DrainOptions,
  report: Report,
): Promise<void> {
  if (leaving.length === 0) return;
  const master = q.access.host(q.master, 'root');
  const names = leaving.map((n) => n.hostname);
  const drained = await execChecked(master, slurm.drainScript(names, options.requeue));
  if (drained.stdout.trim()) report({ detail: drained.stdout.trim() });
  try {
    for (;;) {
      throwIfAborted(options.signal);
      const jobs = (await execChecked(master, slurm.jobsOnNodesCommand(names))).stdout.trim();
      if (!jobs) break;
      const ids = jobs.split('\n');
      report({ detail: `waiting for ${ids.length} job(s) on ${names.join(', ')}: ${ids.slice(0, 5).join(' ')}` });
      await (options.clock ?? systemClock).sleep(options.pollMs ?? 2_000, options.signal);
    }
  } catch (error) {
    await master.exec(slurm.resumeScript(names)).catch(() => undefined);
    throw error;
  }
}

/** After draining: slurmd stops on the leaving nodes, the rest get a slurm.conf without them. */
export async function removeFromQueue(q: QueueCluster, leaving: readonly SetupNode[], report: Report): Promise<void> {
  // Best effort: a node being removed may already be unreachable.
  await Promise.allSettled(
    leaving.map((n) => q.access.host(n, 'root').exec(slurm.stopDaemonScript('slurmd'), { timeoutMs: 60_000 })),
  );
  await configureQueue(q, report);
}
