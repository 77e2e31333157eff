import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../../src/cloud/local/entry.js';
import { createLocalProvider, localNodeDir, readNodeStatus, writeDesired } from '../../../src/cloud/local/index.js';
import type { LaunchSpec } from '../../../src/cloud/provider.js';

// Real supervisor processes on this machine, under a throwaway STARCLUSTER_HOME.
const home = await mkdtemp(join(tmpdir(), 'sc-local-'));
const env = { ...process.env, STARCLUSTER_HOME: home };
const provider = createLocalProvider({ env });
afterAll(async () => {
  for (const cluster of await provider.listClusters()) {
    await provider.terminate((await provider.listNodes(cluster)).map((n) => n.id));
  }
  await rm(home, { recursive: true, force: true });
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, tries = 200): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('local provider', () => {
  it('launches nodes as supervised processes, restarts crashed children, terminates everything', async () => {
    const master = await provider.launch({
      cluster: 'alpha',
      role: 'master',
      aliases: ['master'],
      instanceType: 'local',
      imageId: 'local',
      clientToken: 'tok-master',
    });
    const nodesRequest: LaunchSpec = {
      cluster: 'alpha',
      role: 'node',
      aliases: ['node001'],
      instanceType: 'local',
      imageId: 'local',
      clientToken: 'tok-nodes',
    };
    const nodes = await provider.launch(nodesRequest);
    expect(master.map((n) => n.id)).toEqual(['local-alpha-master']);
    // Same token: same nodes, nothing new.
    const again = await provider.launch(nodesRequest);
    expect(again.map((n) => n.id)).toEqual(nodes.map((n) => n.id));

    const running = await provider.waitRunning(['local-alpha-master', 'local-alpha-node001']);
    expect(running.map((n) => [n.alias, n.state, n.privateIp])).toEqual([
      ['master', 'running', '127.0.0.1'],
      ['node001', 'running', '127.0.0.1'],
    ]);
    expect(await provider.listClusters()).toEqual(['alpha']);
    expect((await provider.listNodes('alpha')).map((n) => n.tags['starcluster:role'])).toEqual(['master', 'node']);

    const stateDir = join(home, 'clusters', 'alpha');
    await writeDesired(stateDir, 'node001', {
      processes: [{ name: 'sleeper', argv: [process.execPath, '-e', 'setInterval(() => {}, 1000)'], maxRestarts: 2 }],
    });
    const first = await until('sleeper to start', async () => {
      const s = await readNodeStatus(stateDir, 'node001');
      return s?.children.find((c) => c.name === 'sleeper' && c.state === 'running' && c.pid)?.pid;
    });
    process.kill(first, 'SIGKILL');
    const second = await until('sleeper to be restarted', async () => {
      const s = await readNodeStatus(stateDir, 'node001');
      const c = s?.children.find((x) => x.name === 'sleeper');
      return c?.state === 'running' && c.pid && c.pid !== first ? c : undefined;
    });
    expect(second.restarts).toBe(1);
    const supervisorPid = JSON.parse(await readFile(join(stateDir, 'local.json'), 'utf8')).nodes[1].supervisorPid;

    await provider.terminate(['local-alpha-master', 'local-alpha-node001', 'local-alpha-gone']);
    expect(isAlive(second.pid)).toBe(false);
    expect(isAlive(supervisorPid)).toBe(false);
    expect(existsSync(join(stateDir, 'local.json'))).toBe(false);
    expect(await provider.listClusters()).toEqual([]);
    expect(await provider.listNodes('alpha')).toEqual([]);
  });

  it('reports a node whose supervisor died as stopped, and terminate still cleans it up', async () => {
    await provider.launch({
      cluster: 'beta',
      role: 'master',
      aliases: ['master'],
      instanceType: 'local',
      imageId: 'local',
      clientToken: 't1',
    });
    await provider.waitRunning(['local-beta-master']);
    const pid = JSON.parse(await readFile(join(home, 'clusters', 'beta', 'local.json'), 'utf8')).nodes[0].supervisorPid;
    process.kill(pid, 'SIGKILL');
    await until('supervisor to die', async () => (isAlive(pid) ? undefined : true));
    expect((await provider.listNodes('beta')).map((n) => n.state)).toEqual(['stopped']);
    await provider.terminate(['local-beta-master']);
    expect(await provider.listClusters()).toEqual([]);
  });

  it('keeps its children running while desired.json is unreadable, then follows the next good one', async () => {
    await provider.launch({
      cluster: 'gamma',
      role: 'master',
      aliases: ['master'],
      instanceType: 'local',
      imageId: 'local',
      clientToken: 'g1',
    });
    await provider.waitRunning(['local-gamma-master']);
    const stateDir = join(home, 'clusters', 'gamma');
    const sleeper = { name: 'sleeper', argv: [process.execPath, '-e', 'setInterval(() => {}, 1000)'] };
    await writeDesired(stateDir, 'master', { processes: [sleeper] });
    const pid = await until('sleeper to start', async () => {
      const s = await readNodeStatus(stateDir, 'master');
      return s?.children.find((c) => c.name === 'sleeper' && c.state === 'running')?.pid;
    });
    // Half-written (as a writer that is not atomic, or a file the supervisor may not read, leaves it).
    await writeFile(join(localNodeDir(stateDir, 'master'), 'desired.json'), '{"processes": [');
    const error = await until('the supervisor to report the bad file', async () => {
      return (await readNodeStatus(stateDir, 'master'))?.desiredError;
    });
    expect(error).toMatch(/desired\.json is not JSON/);
    expect(isAlive(pid)).toBe(true);
    await writeDesired(stateDir, 'master', { processes: [sleeper, { ...sleeper, name: 'second' }] });
    const status = await until('second to start', async () => {
      const s = await readNodeStatus(stateDir, 'master');
      return s?.children.some((c) => c.name === 'second' && c.state === 'running') ? s : undefined;
    });
    expect(status.desiredError).toBeUndefined();
    expect(status.children.find((c) => c.name === 'sleeper')?.pid).toBe(pid);
    await provider.terminate(['local-gamma-master']);
    expect(isAlive(pid)).toBe(false);
  });
});
