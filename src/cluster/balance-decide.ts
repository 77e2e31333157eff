import type { QueueJob, QueueStatus } from '../setup/slurm.js';
import { aliasNumber } from '../model/aliases.js';

/**
 * The load balancer's decision (StarCluster's `bal`, on Slurm's queue), as a pure function of
 * what the cluster and its queue look like now and what the balancer remembers. The loop that
 * feeds it and applies its decisions is in ./balance.ts.
 */

export interface BalancerParams {
  /** `-m`: most nodes, master included. */
  maxNodes: number;
  /** `-n`: fewest nodes, master included (at least 1: the master is never removed). */
  minNodes: number;
  /** `-a`: most nodes added in one iteration. */
  addPerIteration: number;
  /** `-w`: seconds the oldest waiting job may wait before nodes are added. */
  waitTimeS: number;
  /** `-k`: seconds a node must have been idle before it is removed. */
  idleTimeS: number;
  /** `-s`: seconds after a change during which no other change is made. */
  stabilizationS: number;
}

export interface BalancerNode {
  alias: string;
  /** Its name in the queue. */
  hostname: string;
  role: 'master' | 'node';
}

export interface BalancerView {
  /** This machine's clock (ms): stabilization and idle times are measured with it. */
  localNow: number;
  nodes: readonly BalancerNode[];
  /** The queue; its `now` (the master's clock) measures how long jobs have waited. */
  queue: QueueStatus;
}

export interface BalancerMemory {
  /** When the last add or remove finished (local clock, ms). */
  lastChange?: number;
  /** Since when each worker has been idle (local clock, ms). */
  idleSince: Record<string, number>;
}

export type Decision =
  | { action: 'add'; count: number; reason: string }
  | { action: 'remove'; aliases: string[]; reason: string }
  | { action: 'wait'; reason: string };

export interface QueueSummary {
  nodes: number;
  running: number;
  /** Jobs that more nodes would let start. */
  waiting: number;
  /** Pending for other reasons (held, dependencies, begin time). */
  blocked: number;
  oldestWaitS: number;
  cpusFree: number;
  cpusTotal: number;
}

/** Pending reasons more nodes cannot help with. */
const BLOCKED =
  /^(Dependency|DependencyNeverSatisfied|JobHeld|BeginTime|PartitionDown|PartitionInactive|PartitionTimeLimit|Invalid|Reservation|AssocGrp|AssocMax|QOS)/;

export function canUseMoreNodes(job: QueueJob): boolean {
  return job.state === 'PENDING' && !BLOCKED.test(job.reason);
}

export function summarise(view: BalancerView): QueueSummary {
  const waiting = view.queue.jobs.filter(canUseMoreNodes);
  const oldest = Math.min(...waiting.map((j) => j.submitted));
  const usable = view.queue.nodes.filter((n) => n.responding && (n.state === 'idle' || n.state === 'mixed'));
  return {
    nodes: view.nodes.length,
    running: view.queue.jobs.filter((j) => j.state === 'RUNNING' || j.state === 'COMPLETING').length,
    waiting: waiting.length,
    blocked: view.queue.jobs.filter((j) => j.state === 'PENDING').length - waiting.length,
    oldestWaitS: waiting.length ? Math.max(0, (view.queue.now - oldest) / 1000) : 0,
    cpusFree: usable.reduce((sum, n) => sum + Math.max(0, n.cpusTotal - n.cpusAllocated), 0),
    cpusTotal: view.queue.nodes.reduce((sum, n) => sum + n.cpusTotal, 0),
  };
}

/** Workers idle now: in the queue, responding, nothing allocated, no job listed on them. */
function idleWorkers(view: BalancerView): Set<string> {
  const busy = new Set<string>();
  for (const j of view.queue.jobs) {
    if (j.state === 'PENDING') continue;
    for (const n of expandHostlist(j.nodes)) busy.add(n);
  }
  const byHost = new Map(view.queue.nodes.map((n) => [n.hostname, n]));
  const idle = new Set<string>();
  for (const node of view.nodes) {
    if (node.role === 'master') continue;
    const q = byHost.get(node.hostname);
    if (q && q.responding && q.state === 'idle' && q.cpusAllocated === 0 && !busy.has(node.hostname)) {
      idle.add(node.alias);
    }
  }
  return idle;
}

/** Slurm's compressed host lists: `node[001-003,007],master` → each name. */
export function expandHostlist(list: string): string[] {
  const out: string[] = [];
  for (const part of list.match(/[^,[]+(\[[^\]]*\])?[^,]*/g) ?? []) {
    const m = /^(.*)\[([^\]]*)\](.*)$/.exec(part);
    if (!m) {
      if (part) out.push(part);
      continue;
    }
    const [, head = '', ranges = '', tail = ''] = m;
    for (const r of ranges.split(',')) {
      const [from = '', to] = r.split('-');
      if (to === undefined) out.push(`${head}${from}${tail}`);
      else
        for (let i = Number(from); i <= Number(to); i++)
          out.push(`${head}${String(i).padStart(from.length, '0')}${tail}`);
    }
  }
  return out;
}

/**
 * One iteration's decision. Adds when jobs that more nodes would start have waited longer than
 * `waitTimeS`, up to `maxNodes`, at most `addPerIteration` at a time, enough for their CPUs;
 * removes workers idle for longer than `idleTimeS` when nothing waits, down to `minNodes`,
 * never the master and never a node with a job. No change within `stabilizationS` of the last.
 */
export function decide(
  view: BalancerView,
  params: BalancerParams,
  memory: BalancerMemory,
): { decision: Decision; memory: BalancerMemory; summary: QueueSummary } {
  const summary = summarise(view);
  const idle = idleWorkers(view);
  const idleSince: Record<string, number> = {};
  for (const alias of idle) idleSince[alias] = memory.idleSince[alias] ?? view.localNow;
  const next: BalancerMemory = { ...memory, idleSince };
  const done = (decision: Decision): { decision: Decision; memory: BalancerMemory; summary: QueueSummary } => ({
    decision,
    memory: next,
    summary,
  });

  if (!view.queue.controllerUp) return done({ action: 'wait', reason: 'slurmctld does not answer' });
  const count = view.nodes.length;
  const min = Math.max(1, params.minNodes);
  const max = Math.max(min, params.maxNodes);
  if (count < min) {
    return done({ action: 'add', count: min - count, reason: `${count} node(s), fewer than the minimum ${min}` });
  }
  const sinceChange = memory.lastChange === undefined ? Infinity : (view.localNow - memory.lastChange) / 1000;
  const stable = sinceChange >= params.stabilizationS;

  if (summary.waiting > 0) {
    if (summary.oldestWaitS < params.waitTimeS) {
      return done({
        action: 'wait',
        reason: `${summary.waiting} job(s) waiting, the oldest ${Math.round(summary.oldestWaitS)}s (adds after ${params.waitTimeS}s)`,
      });
    }
    if (count >= max)
      return done({ action: 'wait', reason: `${summary.waiting} job(s) waiting; at the maximum ${max} nodes` });
    if (!stable) {
      return done({
        action: 'wait',
        reason: `stabilizing: ${Math.round(sinceChange)}s since the last change (${params.stabilizationS}s)`,
      });
    }
    const needCpus = view.queue.jobs.filter(canUseMoreNodes).reduce((s, j) => s + j.cpus, 0) - summary.cpusFree;
    const perNode = Math.max(1, ...view.queue.nodes.map((n) => n.cpusTotal));
    const wanted = Math.max(1, Math.ceil(needCpus / perNode));
    const n = Math.min(wanted, Math.max(1, params.addPerIteration), max - count);
    return done({
      action: 'add',
      count: n,
      reason: `${summary.waiting} job(s) waiting, the oldest ${Math.round(summary.oldestWaitS)}s; ${Math.max(0, needCpus)} CPU(s) short`,
    });
  }

  if (count > min && stable) {
    const due = [...idle]
      .filter((a) => (view.localNow - idleSince[a]!) / 1000 >= params.idleTimeS)
      .sort((a, b) => (aliasNumber(b) ?? 0) - (aliasNumber(a) ?? 0))
      .slice(0, count - min);
    if (due.length > 0) {
      return done({ action: 'remove', aliases: due, reason: `idle for ${params.idleTimeS}s or more, nothing waiting` });
    }
  }
  const reason =
    summary.running > 0
      ? `${summary.running} job(s) running, none waiting`
      : count > min
        ? stable
          ? `queue empty; ${idle.size} idle node(s), removed after ${params.idleTimeS}s idle`
          : `stabilizing: ${Math.round(sinceChange)}s since the last change (${params.stabilizationS}s)`
        : `queue empty; at the minimum ${min} node(s)`;
  return done({ action: 'wait', reason });
}
