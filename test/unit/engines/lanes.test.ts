import { describe, expect, it } from 'vitest';
import { useCleanup } from '../../_helpers/cleanup.js';
import * as zmq from 'zeromq';
import { Client, EngineDiedError, newClusterKeys, startController, startEngine } from '../../../src/engines/index.js';
import { encodeClientToLane } from '../../../src/engines/protocol/wire.js';
import { inProcessCluster, untilLaned } from './helpers.js';

const cleanup = useCleanup();

type Lanes = 'auto' | 'on' | 'off';

const cluster = (engines: number, lanes: Lanes = 'auto') => inProcessCluster(cleanup, engines, { lanes });

describe('direct lanes', () => {
  it('engines of a local cluster advertise a loopback lane keyed with the engine key', async () => {
    const { client, keys } = await cluster(2);
    for (const e of client.engines) {
      expect(e.lane?.endpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
      expect(e.lane?.key).toBe(keys.engine.publicKey);
    }
  });

  it('sequential load-balanced and direct applies go straight to an engine; the controller never sees them', async () => {
    const { client, controller } = await cluster(2);
    const lview = client.loadBalancedView();
    const submitted = (): number => controller.stats().submitted;
    await untilLaned(() => lview.apply((x: number) => x + 1, 1), submitted);
    const before = submitted();
    for (let i = 0; i < 50; i++) expect(await lview.apply((x: number) => x * 2, i)).toBe(2 * i);
    expect(submitted() - before).toBe(0);
    const dview = client.directView(1);
    await untilLaned(() => dview.apply(() => 1), submitted);
    const before2 = submitted();
    for (let i = 0; i < 20; i++) expect(await dview.apply((x: number) => x, i)).toEqual([i]);
    expect(submitted() - before2).toBe(0);
    // metadata still names the engine and its times
    const ar = lview.apply(() => 7);
    await ar;
    const meta = ar.metadata[0]!;
    expect(client.engines.map((e) => e.id)).toContain(meta.engine);
    expect(meta.status).toBe('ok');
    expect(meta.started).toBeGreaterThanOrEqual(meta.submitted);
    expect(meta.completed).toBeGreaterThanOrEqual(meta.started!);
  });

  it('lane sockets never wait to send: sendTimeout 0 on both ends (zeromq.js then skips a ZMQ_EVENTS query per send)', async () => {
    const { client, controller, engines } = await cluster(1);
    const lview = client.loadBalancedView();
    await untilLaned(
      () => lview.apply(() => 1),
      () => controller.stats().submitted,
    );
    // internals, read for this check only: the client's lane socket and the engine's
    const lanes = (client as unknown as { lanes: { lanes: Map<number, { sock?: zmq.Dealer }> } }).lanes.lanes;
    expect([...lanes.values()].map((lane) => lane.sock?.sendTimeout)).toEqual([0]);
    const engineLane = (engines[0] as unknown as { lane: { sock: zmq.Router } }).lane;
    expect(engineLane.sock.sendTimeout).toBe(0);
    // and the lane still carries tasks both ways
    for (let i = 0; i < 20; i++) expect(await lview.apply((x: number) => x + 1, i)).toBe(i + 1);
  });

  it('concurrent work still goes through the scheduler, and lanes: off never uses a lane', async () => {
    const { client, controller } = await cluster(2);
    const lview = client.loadBalancedView();
    await untilLaned(
      () => lview.apply(() => 0),
      () => controller.stats().submitted,
    );
    const before = controller.stats().submitted;
    const results = await lview.map(
      (x: number) => x + 1,
      Array.from({ length: 100 }, (_, i) => i),
    );
    expect(results).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(controller.stats().submitted - before).toBe(100);

    const off = await Client.connect({
      endpoint: controller.clientEndpoint,
      keys: client['options'].keys,
      lanes: 'off',
    });
    cleanup.push(() => off.close());
    const view = off.loadBalancedView();
    const before2 = controller.stats().submitted;
    for (let i = 0; i < 20; i++) await view.apply(() => null);
    expect(controller.stats().submitted - before2).toBe(20);
  });

  it('tasks to one engine keep their order across lane and controller (push then apply, not awaited)', async () => {
    const { client } = await cluster(1);
    const dview = client.directView(0);
    for (let i = 0; i < 40; i++) {
      void dview.push({ v: i });
      const got = dview.apply(() => (globalThis as unknown as { v: number }).v);
      void dview.push({ v: -1 });
      expect(await got).toEqual([i]);
    }
  });

  it('a load-balanced task on the lane of an engine that dies is resubmitted through the controller and delivered once', async () => {
    const { client, engines, controller } = await cluster(2);
    const lview = client.loadBalancedView();
    await untilLaned(
      () => lview.apply(() => 0),
      () => controller.stats().submitted,
    );
    const probe = lview.apply(() => 0);
    await probe;
    const leased = probe.metadata[0]!.engine;
    const survivor = engines.find((e) => e.id !== leased)!;
    // the leased engine parks the task forever; the survivor answers at once
    await client.directView(leased).push({ park: true });
    await client.directView(survivor.id).push({ park: false });
    const before = controller.stats().submitted;
    const ar = lview.apply(() => ((globalThis as unknown as { park: boolean }).park ? new Promise(() => {}) : 'done'));
    await new Promise((r) => setTimeout(r, 100));
    expect(controller.stats().submitted).toBe(before); // it went by the lane
    await engines.find((e) => e.id === leased)!.close();
    expect(await ar).toBe('done');
    expect(ar.metadata[0]!.engine).toBe(survivor.id);
    expect(controller.stats().submitted - before).toBe(1);
  });

  it('a direct task on the lane of an engine that dies fails with EngineDied', async () => {
    const { client, engines, controller } = await cluster(1);
    const dview = client.directView(0);
    await untilLaned(
      () => dview.apply(() => 0),
      () => controller.stats().submitted,
    );
    const ar = dview.apply(() => new Promise(() => {}));
    await new Promise((r) => setTimeout(r, 100));
    await engines[0]!.close();
    await expect(ar.get(10_000)).rejects.toBeInstanceOf(EngineDiedError);
  });

  it('an engine lane admits only the cluster client key', async () => {
    const { client } = await cluster(1);
    const lane = client.engines[0]!.lane!;
    const stranger = zmq.curveKeyPair();
    const sock = new zmq.Dealer({
      curveServerKey: lane.key,
      curvePublicKey: stranger.publicKey,
      curveSecretKey: stranger.secretKey,
      linger: 0,
      receiveTimeout: 1500,
    });
    cleanup.push(async () => sock.close());
    sock.connect(lane.endpoint);
    await sock.send(['{"t":"hello"}']);
    await sock.send(
      encodeClientToLane({ kind: 'submit', tasks: [{ id: 1, frames: [], body: '{"k":"a","f":"() => 42","a":[]}' }] }),
    );
    await expect(sock.receive()).rejects.toThrow();
  });

  it('an engine without a lane gets no lease: every task goes through the controller', async () => {
    const keys = newClusterKeys();
    const controller = await startController({ host: '127.0.0.1', keys, heartbeatMs: 100 });
    cleanup.push(() => controller.close());
    const e = await startEngine({ controller: controller.engineEndpoint, keys, heart: 'main', lane: false });
    cleanup.push(() => e.close());
    const client = await Client.connect({ endpoint: controller.clientEndpoint, keys });
    cleanup.push(() => client.close());
    await client.waitForEngines(1);
    expect(client.engines[0]!.lane).toBeUndefined();
    const view = client.loadBalancedView();
    const before = controller.stats().submitted;
    for (let i = 0; i < 10; i++) await view.apply(() => null);
    expect(controller.stats().submitted - before).toBe(10);
  });
});
