import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { useCleanup } from '../../_helpers/cleanup.js';
import { Client, generateClusterKeys, startController } from '../../../src/engines/index.js';
import { spawnEngine, waitFor } from './helpers.js';

const cleanup = useCleanup();

describe('engine death in the middle of a map', () => {
  it('a 2,000-task map completes with exactly 2,000 results, each task once, after an engine process is killed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sc-failover-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const keys = await generateClusterKeys(dir);
    const controller = await startController({ host: '127.0.0.1', keys, heartbeatMs: 300, hwm: 4 });
    cleanup.push(() => controller.close());
    const procs: ChildProcess[] = [];
    cleanup.push(() => procs.forEach((p) => p.kill('SIGKILL')));
    for (let i = 0; i < 2; i++) procs.push((await spawnEngine(controller.engineEndpoint, dir)).child);
    const client = await Client.connect({ endpoint: controller.clientEndpoint, keys });
    cleanup.push(() => client.close());
    await client.waitForEngines(2);

    const inputs = Array.from({ length: 2000 }, (_, i) => i);
    // each task takes ~1 ms on its engine, so the kill lands mid-map
    const ar = client.loadBalancedView().map((i: number) => {
      const until = Date.now() + 1;
      while (Date.now() < until);
      return i * 2;
    }, inputs);
    const onVictim = await waitFor(
      () => ar.progress >= 200 && ar.metadata.some((m) => m.engine === 1),
      60_000,
      '200 results',
    );
    expect(onVictim).toBe(true);
    procs[1]!.kill('SIGKILL');
    const results = await ar.get(120_000);

    expect(results).toHaveLength(2000);
    expect(results).toEqual(inputs.map((i) => i * 2));
    const ids = ar.metadata.map((m) => m.taskId);
    expect(new Set(ids).size).toBe(2000);
    expect(ar.metadata.every((m) => m.status === 'ok')).toBe(true);
    const stats = controller.stats();
    expect(stats.resubmitted).toBeGreaterThan(0); // the dead engine's tasks went elsewhere
    const victimPid = procs[1]!.pid;
    expect(controller.engines().some((e) => e.pid === victimPid)).toBe(false);
    expect(controller.engines().length).toBeGreaterThanOrEqual(1);
  }, 180_000);
});
