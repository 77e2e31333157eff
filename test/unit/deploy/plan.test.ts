import { describe, expect, it } from 'vitest';
import { nextEngineState, nodeProcesses, planProcesses, type PreparedRuntime } from '../../../src/deploy/plan.js';
import { archOf, parseProbe } from '../../../src/deploy/remote-commands.js';
import type { EngineState } from '../../../src/deploy/state.js';

const layout = (alias: string) => ({
  command: { controller: ['node', `/rt/${alias}/controller.mjs`], engine: ['node', `/rt/${alias}/engine.mjs`] },
  keys: { controller: '/keys/curve-controller.json', engine: '/keys/curve-engine.json' },
});

const remote = (aliases: string[], cores = 2): PreparedRuntime => ({
  provider: 'ec2',
  controller: { host: '10.0.0.10', clientPort: 41000, enginePort: 41001 },
  nodes: aliases.map((alias) => ({
    alias,
    cores,
    layout: layout(alias),
    node: alias === 'master' ? 'node' : '/opt/n',
  })),
  reach: {
    ssh: { address: '198.18.0.10', user: 'root', keyPath: '/k', knownHosts: '/kh' },
    addresses: Object.fromEntries(aliases.map((a, i) => [a, `198.18.0.${10 + i}`])),
    runAs: 'sgeadmin',
  },
});

const now = new Date('2026-12-05T02:00:00Z');

describe('the deploy plan (cluster state → processes per node)', () => {
  it('puts the controller on the master and ENGINES_PER_NODE engines (else one per core) on every node', () => {
    const prepared = remote(['master', 'node001'], 4);
    const state = nextEngineState(undefined, prepared, { adding: false, enginesPerNode: undefined, now });
    expect(state.engines).toEqual({ master: 4, node001: 4 });
    expect(state.startedAt).toBe(now.toISOString());
    expect(state.node).toEqual({ master: 'node', node001: '/opt/n' });
    const plan = planProcesses(state, prepared.nodes);
    expect(plan.get('master')!.map((p) => p.name)).toEqual([
      'controller',
      'engine-1',
      'engine-2',
      'engine-3',
      'engine-4',
    ]);
    expect(plan.get('node001')!.map((p) => p.name)).toEqual(['engine-1', 'engine-2', 'engine-3', 'engine-4']);
    expect(plan.get('master')![0]).toEqual({
      name: 'controller',
      argv: [
        'node',
        '/rt/master/controller.mjs',
        '--host',
        '10.0.0.10',
        '--port',
        '41000',
        '--engine-port',
        '41001',
        '--keys',
        '/keys/curve-controller.json',
      ],
      maxRestarts: 3,
    });
    expect(plan.get('node001')![0]).toEqual({
      name: 'engine-1',
      argv: [
        'node',
        '/rt/node001/engine.mjs',
        '--controller',
        'tcp://10.0.0.10:41001',
        '--keys',
        '/keys/curve-engine.json',
        '--node',
        'node001',
      ],
      maxRestarts: 5,
    });
    const fixed = nextEngineState(undefined, prepared, { adding: false, enginesPerNode: 1, now });
    expect(fixed.engines).toEqual({ master: 1, node001: 1 });
  });

  it('adding nodes keeps the other nodes, the start time and what the state records of them', () => {
    const first = nextEngineState(undefined, remote(['master', 'node001']), { adding: false, enginesPerNode: 2, now });
    const later = new Date('2026-12-05T03:00:00Z');
    const added = nextEngineState(first, remote(['node002']), { adding: true, enginesPerNode: 2, now: later });
    expect(added.engines).toEqual({ master: 2, node001: 2, node002: 2 });
    expect(added.startedAt).toBe(first.startedAt);
    expect(Object.keys(added.addresses!)).toEqual(['master', 'node001', 'node002']);
    expect(added.node).toEqual({ master: 'node', node001: '/opt/n', node002: '/opt/n' });
    // A new start replaces the nodes it does not name.
    const restarted = nextEngineState(first, remote(['master']), { adding: false, enginesPerNode: 2, now: later });
    expect(restarted.engines).toEqual({ master: 2 });
    expect(restarted.startedAt).toBe(first.startedAt);
  });

  it('a local runtime records no SSH reach and no Node per node', () => {
    const local: PreparedRuntime = {
      provider: 'local',
      controller: { host: '127.0.0.1', clientPort: 5000, enginePort: 5001 },
      nodes: [{ alias: 'master', cores: 1, layout: layout('master') }],
    };
    const state = nextEngineState(undefined, local, { adding: false, enginesPerNode: undefined, now });
    expect(state).toEqual<EngineState>({
      provider: 'local',
      host: '127.0.0.1',
      clientPort: 5000,
      enginePort: 5001,
      engines: { master: 1 },
      startedAt: now.toISOString(),
    });
    expect(nodeProcesses(state, 'node001', layout('node001'))).toEqual([]);
  });

  it('reads what a node is from its probe', () => {
    expect(parseProbe('aarch64\n8\n20.11.1\n')).toEqual({ arch: 'arm64', cores: 8, node: 'node' });
    expect(parseProbe('x86_64\n2\n12.22.9\n')).toEqual({ arch: 'x64', cores: 2, node: undefined });
    expect(parseProbe('x86_64\n\nnone\n')).toEqual({ arch: 'x64', cores: 1, node: undefined });
    expect(archOf('riscv64')).toBe('riscv64');
  });
});
