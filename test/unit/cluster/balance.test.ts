import { describe, expect, it } from 'vitest';
import {
  decide,
  expandHostlist,
  type BalancerMemory,
  type BalancerParams,
  type BalancerView,
} from '../../../src/cluster/balance-decide.js';
import type { QueueJob, QueueNodeState } from '../../../src/setup/slurm.js';

const PARAMS: BalancerParams = {
  maxNodes: 4,
  minNodes: 1,
  addPerIteration: 2,
  waitTimeS: 60,
  idleTimeS: 300,
  stabilizationS: 120,
};
const T0 = 1_900_000_000_000;
const s = (seconds: number): number => T0 + seconds * 1000;

function qnode(hostname: string, state = 'idle', alloc = 0, total = 2, responding = true): QueueNodeState {
  return { hostname, state, responding, cpusAllocated: alloc, cpusTotal: total };
}
function job(id: string, state: string, submittedS: number, extra: Partial<QueueJob> = {}): QueueJob {
  return {
    id,
    state,
    submitted: s(submittedS),
    cpus: 1,
    reason: state === 'PENDING' ? 'Resources' : 'None',
    nodes: '',
    ...extra,
  };
}
function view(
  nowS: number,
  nodes: string[],
  queueNodes: QueueNodeState[],
  jobs: QueueJob[],
  controllerUp = true,
): BalancerView {
  return {
    localNow: s(nowS),
    nodes: nodes.map((alias) => ({ alias, hostname: alias, role: alias === 'master' ? 'master' : 'node' })),
    queue: { now: s(nowS), controllerUp, nodes: queueNodes, jobs },
  };
}
const fresh = (): BalancerMemory => ({ idleSince: {} });

describe('the load balancer decision', () => {
  it('waits while the oldest waiting job is younger than the wait time', () => {
    const v = view(
      30,
      ['master'],
      [qnode('master', 'allocated', 2)],
      [job('1', 'RUNNING', 0, { nodes: 'master' }), job('2', 'PENDING', 0)],
    );
    expect(decide(v, PARAMS, fresh()).decision).toEqual({
      action: 'wait',
      reason: '1 job(s) waiting, the oldest 30s (adds after 60s)',
    });
  });

  it('adds enough nodes for the waiting CPUs, at most -a per iteration and never past -m', () => {
    const jobs = [
      job('1', 'RUNNING', 0, { nodes: 'master', cpus: 2 }),
      ...Array.from({ length: 9 }, (_, i) => job(`w${i}`, 'PENDING', 0)),
    ];
    const v = view(90, ['master'], [qnode('master', 'allocated', 2)], jobs);
    const step = decide(v, PARAMS, fresh());
    expect(step.decision).toMatchObject({ action: 'add', count: 2 });
    expect(step.summary).toMatchObject({ nodes: 1, running: 1, waiting: 9, oldestWaitS: 90, cpusFree: 0 });
    // 3 nodes of 4: only one more fits.
    const three = view(
      90,
      ['master', 'node001', 'node002'],
      [qnode('master', 'allocated', 2), qnode('node001', 'allocated', 2), qnode('node002', 'allocated', 2)],
      jobs,
    );
    expect(decide(three, { ...PARAMS, addPerIteration: 5 }, fresh()).decision).toMatchObject({
      action: 'add',
      count: 1,
    });
    const four = view(90, ['master', 'node001', 'node002', 'node003'], [], jobs);
    expect(decide(four, PARAMS, fresh()).decision).toMatchObject({
      action: 'wait',
      reason: '9 job(s) waiting; at the maximum 4 nodes',
    });
  });

  it('makes no change within the stabilization time of the last one', () => {
    const v = view(200, ['master'], [qnode('master', 'allocated', 2)], [job('2', 'PENDING', 0)]);
    expect(decide(v, PARAMS, { idleSince: {}, lastChange: s(150) }).decision.reason).toMatch(/^stabilizing: 50s/);
    expect(decide(v, PARAMS, { idleSince: {}, lastChange: s(50) }).decision.action).toBe('add');
  });

  it('does not add for jobs more nodes cannot help (held, dependencies)', () => {
    const v = view(
      500,
      ['master'],
      [qnode('master')],
      [job('3', 'PENDING', 0, { reason: 'Dependency' }), job('4', 'PENDING', 0, { reason: 'JobHeldUser' })],
    );
    const step = decide(v, PARAMS, fresh());
    expect(step.decision.action).toBe('wait');
    expect(step.summary).toMatchObject({ waiting: 0, blocked: 2 });
  });

  it('removes workers idle longer than the idle time, highest first, down to -n; never the master', () => {
    const nodes = ['master', 'node001', 'node002', 'node003'];
    const qn = nodes.map((n) => qnode(n));
    let step = decide(view(0, nodes, qn, []), PARAMS, fresh());
    expect(step.decision.action).toBe('wait');
    expect(Object.keys(step.memory.idleSince).sort()).toEqual(['node001', 'node002', 'node003']);
    step = decide(view(299, nodes, qn, []), PARAMS, step.memory);
    expect(step.decision.action).toBe('wait');
    step = decide(view(300, nodes, qn, []), { ...PARAMS, minNodes: 2 }, step.memory);
    expect(step.decision).toMatchObject({ action: 'remove', aliases: ['node003', 'node002'] });
  });

  it('never removes a node with a job, nor any node while jobs wait', () => {
    const nodes = ['master', 'node001', 'node002'];
    let memory = fresh();
    const qn = [qnode('master'), qnode('node001', 'mixed', 1), qnode('node002', 'idle')];
    // A job listed on node002 (completing) keeps it even if the CPUs look free.
    const jobs = [job('5', 'RUNNING', 0, { nodes: 'node001' }), job('6', 'COMPLETING', 0, { nodes: 'node[002]' })];
    for (const t of [0, 1000]) memory = decide(view(t, nodes, qn, jobs), PARAMS, memory).memory;
    expect(decide(view(2000, nodes, qn, jobs), PARAMS, memory).decision.action).toBe('wait');
    // Idle, but a young job waits: no removal either.
    const idle = nodes.map((n) => qnode(n));
    memory = decide(view(0, nodes, idle, []), PARAMS, fresh()).memory;
    const waiting = decide(view(1000, nodes, idle, [job('7', 'PENDING', 990)]), PARAMS, memory);
    expect(waiting.decision.action).toBe('wait');
  });

  it('forgets a node that became busy: its idle time starts again', () => {
    const nodes = ['master', 'node001'];
    let memory = decide(view(0, nodes, [qnode('master'), qnode('node001')], []), PARAMS, fresh()).memory;
    memory = decide(
      view(
        200,
        nodes,
        [qnode('master'), qnode('node001', 'allocated', 2)],
        [job('8', 'RUNNING', 199, { nodes: 'node001' })],
      ),
      PARAMS,
      memory,
    ).memory;
    expect(memory.idleSince).toEqual({});
    memory = decide(view(250, nodes, [qnode('master'), qnode('node001')], []), PARAMS, memory).memory;
    expect(decide(view(500, nodes, [qnode('master'), qnode('node001')], []), PARAMS, memory).decision.action).toBe(
      'wait',
    );
    expect(decide(view(550, nodes, [qnode('master'), qnode('node001')], []), PARAMS, memory).decision).toMatchObject({
      action: 'remove',
      aliases: ['node001'],
    });
  });

  it('brings the cluster up to -n, and does nothing while slurmctld is down', () => {
    expect(
      decide(view(0, ['master'], [qnode('master')], []), { ...PARAMS, minNodes: 3 }, fresh()).decision,
    ).toMatchObject({
      action: 'add',
      count: 2,
    });
    expect(decide(view(0, ['master'], [], [], false), PARAMS, fresh()).decision).toEqual({
      action: 'wait',
      reason: 'slurmctld does not answer',
    });
  });

  it("expands Slurm's host lists", () => {
    expect(expandHostlist('node[001-003,007],master')).toEqual(['node001', 'node002', 'node003', 'node007', 'master']);
    expect(expandHostlist('')).toEqual([]);
    expect(expandHostlist('c1-node[9-10]')).toEqual(['c1-node9', 'c1-node10']);
  });
});
