import { describe, expect, it } from 'vitest';
import { useCleanup } from '../../_helpers/cleanup.js';
import {
  Client,
  newClusterKeys,
  startController,
  startEngine,
  type ClusterKeys,
  type ControllerHandle,
} from '../../../src/engines/index.js';
import { StarclusterError } from '../../../src/errors.js';
import { waitFor } from './helpers.js';

const cleanup = useCleanup();

const HB = 200;

/** A controller on fixed ports, as a supervisor restarts it: same host, ports and cluster keys. */
async function controllerOn(keys: ClusterKeys, ports?: { port: number; enginePort: number }) {
  const c = await startController({ host: '127.0.0.1', keys, heartbeatMs: HB, ...ports });
  cleanup.push(() => c.close());
  return c;
}

function portsOf(c: ControllerHandle): { port: number; enginePort: number } {
  const port = (endpoint: string): number => Number(endpoint.slice(endpoint.lastIndexOf(':') + 1));
  return { port: port(c.clientEndpoint), enginePort: port(c.engineEndpoint) };
}

async function restart(c: ControllerHandle, keys: ClusterKeys): Promise<ControllerHandle> {
  const ports = portsOf(c);
  await c.close(); // not stopEngines: the engines live on and re-register with the new controller
  // In one process the closed sockets free their ports a moment later (a restarted process binds at once).
  for (let attempt = 0; ; attempt++) {
    try {
      return await controllerOn(keys, ports);
    } catch (error) {
      if (attempt >= 50 || !(StarclusterError.is(error) && error.code === 'ControllerBindFailed')) throw error;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

describe('a controller restart (same ports and keys)', () => {
  it('a map running across it completes with every result exactly once; engines re-register with their ids', async () => {
    const keys = newClusterKeys();
    const first = await controllerOn(keys);
    for (let i = 0; i < 2; i++) {
      const e = await startEngine({ controller: first.engineEndpoint, keys, heart: 'main' });
      cleanup.push(() => e.close());
    }
    const client = await Client.connect({ endpoint: first.clientEndpoint, keys, lanes: 'off' });
    cleanup.push(() => client.close());
    await client.waitForEngines(2);
    const ids = client.ids;
    const n = 300;
    const ar = client.loadBalancedView().map(
      (x: number) => new Promise<number>((resolve) => setTimeout(() => resolve(x * x), 10)),
      Array.from({ length: n }, (_, i) => i),
    );
    await waitFor(() => ar.progress >= 20, 20_000, 'the first results');
    const second = await restart(first, keys);
    expect(second.epoch).not.toBe(first.epoch);
    const values = await ar.get(60_000);
    expect(values).toEqual(Array.from({ length: n }, (_, i) => i * i));
    expect(client.controllerRestarts).toBe(1);
    expect(second.engines()).toHaveLength(2);
    await waitFor(() => client.ids.length === 2, 10_000, 'the client to see both engines again');
    expect(client.ids).toEqual(ids); // each engine got its id back from the new controller
    expect(await client.loadBalancedView().apply((x: number) => x + 1, 41)).toBe(42);
  }, 90_000);

  it('a direct task pending across it fails ControllerRestarted; lanes reopen on the new ids', async () => {
    const keys = newClusterKeys();
    const first = await controllerOn(keys);
    const e = await startEngine({ controller: first.engineEndpoint, keys, heart: 'main' });
    cleanup.push(() => e.close());
    const client = await Client.connect({ endpoint: first.clientEndpoint, keys, lanes: 'off' });
    cleanup.push(() => client.close());
    await client.waitForEngines(1);
    const dview = client.directView(0);
    const held = dview.apply(() => new Promise((resolve) => setTimeout(() => resolve('late'), 1_500)));
    await waitFor(() => first.stats().submitted >= 1, 5_000, 'the submission');
    const second = await restart(first, keys);
    const error = await held.get(30_000).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(StarclusterError.is(error) && error.code).toBe('ControllerRestarted');
    await second.waitForEngines(1, 10_000);
    await waitFor(() => client.ids.length === 1, 10_000, 'the client to see the engine again');
    const id = client.ids[0]!;
    expect(await client.directView(id).apply(() => 'again')).toEqual(['again']);
    // a client that uses lanes gets a lease from the new controller and its lane to the engine
    const laned = await Client.connect({ endpoint: second.clientEndpoint, keys });
    cleanup.push(() => laned.close());
    await laned.waitForEngines(1);
    for (let i = 0; i < 20; i++) expect(await laned.loadBalancedView().apply((x: number) => x * 2, i)).toBe(2 * i);
  }, 60_000);
});
