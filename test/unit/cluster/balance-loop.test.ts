import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalProvider } from '../../../src/cloud/local/index.js';
import type { ClusterRecord, NodeRecord } from '../../../src/cloud/provider.js';
import { loadBalance } from '../../../src/cluster/balance.js';
import type { QueueStatus } from '../../../src/setup/slurm.js';
import { ManualClock } from '../../_helpers/clock.js';
import { RecordingIoHost } from '../../_helpers/recording-io-host.js';

/**
 * The `loadbalance` loop on its clock: looks at the queue every interval, measures idle time on
 * this machine's clock and removes a worker once it has been idle long enough. On a ManualClock
 * the interval passes at once and the removal comes at exactly the look the idle time says.
 */
const T0 = Date.UTC(2026, 11, 5, 6, 0, 0);

function node(alias: string): NodeRecord {
  return {
    id: `local-c1-${alias}`,
    cluster: 'c1',
    alias,
    role: alias === 'master' ? 'master' : 'node',
    state: 'running',
    instanceType: 'local',
    privateIp: '127.0.0.1',
    tags: {},
  };
}

/** A cluster of processes whose nodes are a list in memory; terminate takes them off it. */
class ListedProvider extends LocalProvider {
  readonly terminated: string[] = [];
  nodes = [node('master'), node('node001')];
  override listNodes(): Promise<NodeRecord[]> {
    return Promise.resolve(this.nodes);
  }
  override describeNodes(ids: string[]): Promise<NodeRecord[]> {
    return Promise.resolve(this.nodes.filter((n) => ids.includes(n.id)));
  }
  override describeCluster(): Promise<ClusterRecord> {
    return Promise.resolve({});
  }
  override terminate(ids: string[]): Promise<void> {
    this.terminated.push(...ids);
    this.nodes = this.nodes.filter((n) => !ids.includes(n.id));
    return Promise.resolve();
  }
  override waitTerminated(): Promise<void> {
    return Promise.resolve();
  }
}

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('the loadbalance loop', () => {
  it('removes a worker at the first look after it has been idle IDLE_TIME, pausing the interval between looks', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sc-balance-'));
    const configPath = join(dir, 'config');
    await writeFile(configPath, '', { mode: 0o600 });
    const clock = new ManualClock(T0);
    const provider = new ListedProvider();
    // An empty queue on two idle nodes, as the master reports it.
    const readQueue = (): Promise<QueueStatus> =>
      Promise.resolve({
        now: clock.now(),
        controllerUp: true,
        nodes: provider.nodes.map((n) => ({
          hostname: n.alias,
          state: 'idle',
          responding: true,
          cpusAllocated: 0,
          cpusTotal: 2,
        })),
        jobs: [],
      });
    const result = await loadBalance({
      name: 'c1',
      configPath,
      io: new RecordingIoHost(),
      provider,
      stateDir: dir,
      params: { minNodes: 1, maxNodes: 2, idleTimeS: 120, stabilizationS: 0 },
      intervalS: 60,
      clock,
      readQueue,
      until: (entry) => entry.decision.action !== 'wait',
    });
    expect(result.decisions.map((d) => [d.time, d.decision.action])).toEqual([
      [new Date(T0).toISOString(), 'wait'],
      [new Date(T0 + 60_000).toISOString(), 'wait'],
      [new Date(T0 + 120_000).toISOString(), 'remove'],
    ]);
    expect(result.decisions[2]?.outcome).toEqual({ ok: true, nodes: ['node001'] });
    expect(clock.sleeps).toEqual([60_000, 60_000]);
    expect(provider.terminated).toEqual(['local-c1-node001']);
  });
});
