import { curveKeyPair } from 'zeromq';
import { describe, expect, it } from 'vitest';
import { useCleanup } from '../../_helpers/cleanup.js';
import {
  Client,
  newClusterKeys,
  startController,
  startEngine,
  type ClusterKeys,
  type PeerKeys,
} from '../../../src/engines/index.js';
import { tcpRelay, waitFor } from './helpers.js';

const cleanup = useCleanup();

async function controllerWith(keys: ClusterKeys) {
  const controller = await startController({ host: '127.0.0.1', keys, heartbeatMs: 100 });
  cleanup.push(() => controller.close());
  return controller;
}

describe('CURVE + ZAP', () => {
  it('rejects a client whose key is not the cluster client key (even knowing the server key)', async () => {
    const keys = newClusterKeys();
    const controller = await controllerWith(keys);
    const stranger: PeerKeys = { serverPublicKey: keys.server.publicKey, ...curveKeyPair() };
    await expect(
      Client.connect({ endpoint: controller.clientEndpoint, keys: stranger, timeoutMs: 1500 }),
    ).rejects.toMatchObject({ code: 'ControllerUnreachable' });
    expect(controller.stats().zap.rejected).toBeGreaterThan(0);
    expect(controller.stats().zap.lastRejected?.domain).toBe('client');
    // the real client still gets in
    const ok = await Client.connect({ endpoint: controller.clientEndpoint, keys, timeoutMs: 5000 });
    cleanup.push(() => ok.close());
  });

  it('rejects a client that has the wrong server key', async () => {
    const keys = newClusterKeys();
    const controller = await controllerWith(keys);
    const other = newClusterKeys();
    await expect(
      Client.connect({ endpoint: controller.clientEndpoint, keys: other, timeoutMs: 1000 }),
    ).rejects.toMatchObject({ code: 'ControllerUnreachable' });
  });

  it('rejects an engine without the engine key, and the client key on the engine port', async () => {
    const keys = newClusterKeys();
    const controller = await controllerWith(keys);
    const rogue: PeerKeys = { serverPublicKey: keys.server.publicKey, ...curveKeyPair() };
    await expect(
      startEngine({ controller: controller.engineEndpoint, keys: rogue, heart: 'main', registerTimeoutMs: 1000 }),
    ).rejects.toMatchObject({ code: 'EngineRegistrationTimeout' });
    const clientKeyAsEngine: PeerKeys = { serverPublicKey: keys.server.publicKey, ...keys.client };
    await expect(
      startEngine({
        controller: controller.engineEndpoint,
        keys: clientKeyAsEngine,
        heart: 'main',
        registerTimeoutMs: 1000,
      }),
    ).rejects.toMatchObject({ code: 'EngineRegistrationTimeout' });
    expect(controller.engines()).toEqual([]);
    expect(controller.stats().zap.lastRejected?.domain).toBe('engine');
  });
});

/** A TCP proxy between an engine and the controller that can flip one byte of engine → controller traffic. */
async function tamperingProxy(target: string) {
  const state = { armed: false, flipped: 0, upstreamClosedAfterFlip: false };
  const relay = await tcpRelay(cleanup, target, (chunk, up) => {
    if (state.armed && chunk.length > 0) {
      state.armed = false;
      const copy = Buffer.from(chunk);
      copy[copy.length - 1]! ^= 0x01; // inside the encrypted box: MAC must fail
      state.flipped++;
      up.write(copy);
      up.once('close', () => (state.upstreamClosedAfterFlip = true));
      return;
    }
    up.write(chunk);
  });
  return { endpoint: relay.endpoint, state };
}

describe('tampering', () => {
  it('a flipped byte in an engine → controller frame makes the controller drop the connection; no bad data is accepted', async () => {
    const keys = newClusterKeys();
    const controller = await controllerWith(keys);
    const proxy = await tamperingProxy(controller.engineEndpoint);
    const engine = await startEngine({ controller: proxy.endpoint, keys, heart: 'main' });
    cleanup.push(() => engine.close());
    const client = await Client.connect({ endpoint: controller.clientEndpoint, keys });
    cleanup.push(() => client.close());
    await client.waitForEngines(1);
    expect(await client.directView(0).apply((x: number) => x + 1, 1)).toEqual([2]);

    const before = controller.stats();
    proxy.state.armed = true; // the next engine → controller chunk (a heartbeat or this result) is tampered
    const ar = client.directView(0).apply((x: number) => x + 1, 41);
    await waitFor(() => proxy.state.upstreamClosedAfterFlip, 10_000, 'the controller to drop the tampered connection');
    expect(proxy.state.flipped).toBe(1);
    // whatever arrives afterwards (the engine reconnects) is authentic: never a corrupted value
    const outcome = await ar.get(3000).then(
      (v) => ({ ok: true as const, v }),
      (e: unknown) => ({ ok: false as const, e }),
    );
    if (outcome.ok) expect(outcome.v).toEqual([42]);
    expect(controller.stats().droppedResults).toBe(before.droppedResults);
  });
});
