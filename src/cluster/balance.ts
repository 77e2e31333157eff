import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Provider } from '../cloud/provider.js';
import { systemClock, type Clock } from '../clock.js';
import type { StarclusterConfig } from '../config/types.js';
import { RemoteError, StarclusterError, UsageError } from '../errors.js';
import type { IoHost } from '../io-host.js';
import { findNode, openRunningCluster, sshNode } from '../setup/access.js';
import { queueSettings } from '../setup/queue.js';
import { toSetupNode } from '../setup/session.js';
import { parseQueueStatus, QUEUE_STATUS_COMMAND, type QueueStatus } from '../setup/slurm.js';
import {
  decide,
  type BalancerMemory,
  type BalancerParams,
  type Decision,
  type QueueSummary,
} from './balance-decide.js';
import { addNodes, removeNodes } from './resize.js';

export { decide, expandHostlist, type BalancerParams, type Decision } from './balance-decide.js';

/**
 * `loadbalance NAME` (StarCluster's `bal`): watches the cluster's Slurm queue from this machine,
 * adds nodes when jobs wait, removes idle ones, until interrupted. A change in progress is never
 * cut short by Ctrl-C: the loop stops after it, so the cluster is always whole (nodes set up and
 * in the queue, or drained and gone).
 */

export interface LoadBalanceOptions {
  name: string;
  config?: StarclusterConfig;
  configPath?: string;
  io: IoHost;
  /** Stops the loop (after the change in progress, if any). */
  signal?: AbortSignal;
  /** Missing ones take StarCluster's defaults ({@link BALANCER_DEFAULTS}; max nodes: the template's CLUSTER_SIZE). */
  params: Partial<BalancerParams>;
  /** `-i`: seconds between looks at the queue (default 60). */
  intervalS?: number;
  /** `-d`/`-D`: the queue over time as CSV, one line per look, in this file. */
  dumpFile?: string;
  /** `-p`/`-P`: a figure of nodes and jobs over time (loadbalance.svg) in this folder when it stops. */
  plotDir?: string;
  provider?: Provider;
  stateDir?: string;
  /** Stop after this many iterations (tests). */
  maxIterations?: number;
  /** Stop when this says so, after an iteration (tests: "shrunk back and empty"). */
  until?: (entry: BalancerLogEntry) => boolean;
  /** Whose time the pauses between looks, idle times and stabilization are measured in (default the wall clock). */
  clock?: Clock;
  /** Reads the queue as the master sees it (default: {@link queueStatus}, one SSH command). */
  readQueue?: (ctx: Awaited<ReturnType<typeof openRunningCluster>>) => Promise<QueueStatus>;
}

export interface BalancerLogEntry {
  time: string;
  summary: QueueSummary;
  decision: Decision;
  /** What applying the decision did: the aliases added or removed, or why it failed. */
  outcome?: { ok: boolean; nodes?: string[]; error?: string };
}

export interface LoadBalanceResult {
  name: string;
  params: BalancerParams;
  iterations: number;
  decisions: BalancerLogEntry[];
  /** The files written with --plot/--dump. */
  files: string[];
}

const CSV_HEADER = 'time,nodes,running,waiting,blocked,oldest_wait_s,cpus_free,cpus_total,action,count,detail\n';

/** StarCluster's balancer defaults (kill-after now means minutes idle: billing is per second). */
export const BALANCER_DEFAULTS = {
  minNodes: 1,
  addPerIteration: 1,
  waitTimeS: 900,
  idleTimeS: 45 * 60,
  stabilizationS: 180,
  intervalS: 60,
} as const;

export async function loadBalance(opts: LoadBalanceOptions): Promise<LoadBalanceResult> {
  const open = (): ReturnType<typeof openRunningCluster> =>
    openRunningCluster({
      name: opts.name,
      io: opts.io,
      ...(opts.configPath ? { configPath: opts.configPath } : {}),
      ...(opts.provider ? { provider: opts.provider } : {}),
    });
  const first = await open();
  if (!queueSettings(first.template).enabled) {
    throw new UsageError('QueueDisabled', `cluster ${opts.name} has no queue to balance (DISABLE_QUEUE = True)`);
  }
  const given = Object.fromEntries(Object.entries(opts.params).filter(([, v]) => v !== undefined));
  const params: BalancerParams = {
    ...BALANCER_DEFAULTS,
    maxNodes: Math.max(first.template.clusterSize, first.nodes.length),
    ...given,
  };
  const intervalS = opts.intervalS ?? BALANCER_DEFAULTS.intervalS;
  const clock = opts.clock ?? systemClock;
  if (params.minNodes < 1) throw new UsageError('BalancerMin', 'the minimum is at least 1 node: the master stays');
  if (params.maxNodes < params.minNodes)
    throw new UsageError('BalancerMax', `max nodes ${params.maxNodes} is below min nodes ${params.minNodes}`);
  const files: string[] = [];
  let csv: string | undefined;
  if (opts.dumpFile) {
    await mkdir(dirname(opts.dumpFile), { recursive: true });
    csv = opts.dumpFile;
    await writeFile(csv, CSV_HEADER);
    files.push(csv);
  }
  const decisions: BalancerLogEntry[] = [];
  let memory: BalancerMemory = { idleSince: {} };
  let iterations = 0;
  const title = `Load balancing ${opts.name}`;
  opts.io.progress({ id: 'loadbalance', state: 'start', title });
  try {
    while (!opts.signal?.aborted) {
      iterations += 1;
      const ctx = await open();
      const status = await (opts.readQueue ?? queueStatus)(ctx);
      const nodes = ctx.nodes.map((n) => ({ alias: n.alias, hostname: toSetupNode(ctx, n).hostname, role: n.role }));
      const step = decide({ localNow: clock.now(), nodes, queue: status }, params, memory);
      memory = step.memory;
      const entry: BalancerLogEntry = {
        time: new Date(clock.now()).toISOString(),
        summary: step.summary,
        decision: step.decision,
      };
      const s = step.summary;
      const line = `${s.nodes} node(s) (min ${params.minNodes}, max ${params.maxNodes}), ${s.running} running, ${s.waiting} waiting${s.waiting ? ` (oldest ${Math.round(s.oldestWaitS)}s)` : ''}`;
      opts.io.progress({ id: 'loadbalance', state: 'update', title, detail: `${line}: ${describe(step.decision)}` });
      if (step.decision.action !== 'wait') {
        opts.io.notify({
          level: 'info',
          code: 'SC_BALANCE_I0001',
          message: `${describe(step.decision)} (${step.decision.reason})`,
          data: entry,
        });
        // Not interruptible: a half-made change would leave the cluster and its queue apart.
        entry.outcome = await apply(opts, step.decision);
        memory = { ...memory, lastChange: clock.now() };
      }
      decisions.push(entry);
      if (csv) await appendFile(csv, csvLine(entry));
      if (opts.maxIterations !== undefined && iterations >= opts.maxIterations) break;
      if (opts.until?.(entry)) break;
      // An interrupted pause ends the loop (the while's test), not the run.
      await clock.sleep(intervalS * 1000, opts.signal).catch(() => undefined);
    }
    opts.io.progress({ id: 'loadbalance', state: 'done', title, detail: `${iterations} iteration(s)` });
  } catch (error) {
    opts.io.progress({ id: 'loadbalance', state: 'fail', title, detail: (error as Error).message });
    throw error;
  } finally {
    if (opts.plotDir && decisions.length > 0) {
      try {
        // vega and resvg load only when -p/-P asks for a figure (src/plots is below src/cluster: nothing is dodged).
        // eslint-disable-next-line no-restricted-syntax -- lazy-loading a heavy renderer, not a layering dodge
        const { queueFigure } = await import('../plots/queue.js');
        const figure = await queueFigure(decisions.map((d) => ({ time: d.time, ...d.summary })));
        await mkdir(opts.plotDir, { recursive: true });
        const svg = join(opts.plotDir, 'loadbalance.svg');
        await writeFile(svg, figure.svg);
        files.push(svg);
      } catch (error) {
        opts.io.notify({ level: 'warn', code: 'SC_BALANCE_W0002', message: `no plot: ${(error as Error).message}` });
      }
    }
  }
  return { name: opts.name, params, iterations, decisions, files };
}

/** The queue as the master sees it (one SSH command). */
export async function queueStatus(ctx: Awaited<ReturnType<typeof openRunningCluster>>): Promise<QueueStatus> {
  const r = await sshNode({ ctx, node: findNode(ctx, 'master'), command: QUEUE_STATUS_COMMAND });
  if (r.code !== 0) {
    throw new RemoteError('QueueStatusFailed', `cannot read the queue on ${ctx.name}'s master (exit ${r.code})`, {
      details: (r.stderr ?? '').trim().split('\n').slice(-5),
    });
  }
  return parseQueueStatus(r.stdout ?? '');
}

async function apply(opts: LoadBalanceOptions, decision: Decision): Promise<BalancerLogEntry['outcome']> {
  const common = {
    name: opts.name,
    io: opts.io,
    ...(opts.config ? { config: opts.config } : {}),
    ...(opts.provider ? { provider: opts.provider } : {}),
    ...(opts.stateDir ? { stateDir: opts.stateDir } : {}),
  };
  try {
    if (decision.action === 'add') {
      const r = await addNodes({ ...common, count: decision.count });
      return { ok: true, nodes: r.added.map((n) => n.alias) };
    }
    if (decision.action === 'remove') {
      const r = await removeNodes({ ...common, aliases: decision.aliases, confirm: true });
      return { ok: true, nodes: r.removed.map((n) => n.alias) };
    }
    return undefined;
  } catch (error) {
    // The change rolled itself back (add) or left the nodes drained (remove); the next look decides again.
    const message = StarclusterError.is(error) || error instanceof Error ? error.message : String(error);
    opts.io.notify({ level: 'warn', code: 'SC_BALANCE_W0001', message: `${describe(decision)} failed: ${message}` });
    return { ok: false, error: message };
  }
}

function describe(d: Decision): string {
  if (d.action === 'add') return `adding ${d.count} node(s)`;
  if (d.action === 'remove') return `removing ${d.aliases.join(', ')}`;
  return d.reason;
}

function csvLine(e: BalancerLogEntry): string {
  const s = e.summary;
  const count =
    e.decision.action === 'add' ? e.decision.count : e.decision.action === 'remove' ? e.decision.aliases.length : 0;
  const detail = `"${e.decision.reason.replace(/"/g, '""')}"`;
  return `${[e.time, s.nodes, s.running, s.waiting, s.blocked, Math.round(s.oldestWaitS), s.cpusFree, s.cpusTotal, e.decision.action, count, detail].join(',')}\n`;
}
