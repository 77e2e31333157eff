import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useCleanup } from '../../_helpers/cleanup.js';
import * as zmq from 'zeromq';
import {
  Client,
  EngineDiedError,
  RemoteTaskError,
  TaskTimeoutError,
  generateClusterKeys,
  loadClusterKeys,
  newClusterKeys,
  startController,
  startEngine,
  type ClusterKeys,
  type ControllerHandle,
} from '../../../src/engines/index.js';
import { StarclusterError } from '../../../src/errors.js';
import type { ClientToControllerOut } from '../../../src/engines/protocol/wire.js';
import { encodeEngineToController } from '../../../src/engines/protocol/wire-engine.js';
import { inProcessCluster, waitFor } from './helpers.js';

const cleanup = useCleanup();

const cluster = (engines: number, options: { heartbeatMs?: number; keys?: ClusterKeys } = {}) =>
  inProcessCluster(cleanup, engines, options);

describe('keys', () => {
  it('writes the three role files 0600 in a 0700 dir and loads them back', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'sc-keys-')), 'keys');
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const keys = await generateClusterKeys(dir);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    for (const f of ['curve-controller.json', 'curve-engine.json', 'curve-client.json']) {
      expect((await stat(join(dir, f))).mode & 0o777).toBe(0o600);
    }
    expect(await loadClusterKeys(dir)).toEqual(keys);
  });
});

describe('controller, engines, client', () => {
  it('registers engines with ids from 0 and lists them', async () => {
    const { controller, client } = await cluster(2);
    expect(client.ids).toEqual([0, 1]);
    expect(controller.engines().map((e) => e.id)).toEqual([0, 1]);
  });

  it('the data path sends synchronously: sendTimeout 0 and unlimited send HWM on every socket a task crosses', async () => {
    const { controller, client, engines } = await cluster(1);
    type Sock = { sendTimeout: number; sendHighWaterMark: number };
    const c = controller as unknown as { clientSock: Sock; engineSock: Sock };
    const socks = [
      c.clientSock,
      c.engineSock,
      (engines[0] as unknown as { sock: Sock }).sock,
      (client as unknown as { link: { sock: Sock } }).link.sock,
    ];
    // the Outbox sends to such a socket at once (no queue, no wait for the previous send's promise)
    expect(socks.map((s) => [s.sendTimeout, s.sendHighWaterMark])).toEqual(socks.map(() => [0, 0]));
    expect(await client.loadBalancedView().apply((x: number) => x + 1, 1)).toBe(2);
  });

  it('through the controller, a lone task is sent at once (no microtask) and a burst in one batch', async () => {
    const { client } = await inProcessCluster(cleanup, 1, { lanes: 'off' });
    const link = (client as unknown as { link: { send(m: ClientToControllerOut): void } }).link;
    const batches: number[] = [];
    const send = link.send.bind(link);
    link.send = (m) => {
      if (m.kind === 'submit') batches.push(m.tasks.length);
      send(m);
    };
    const view = client.loadBalancedView();
    const lone = view.apply(() => 1);
    expect(batches).toEqual([1]); // before apply returned
    expect(await lone).toBe(1);
    const burst = [1, 2, 3, 4].map((x) => view.apply((y: number) => y, x));
    expect(batches).toEqual([1, 1]); // the burst's first goes at once, the rest wait for the burst's end
    expect(await Promise.all(burst)).toEqual([1, 2, 3, 4]);
    expect(batches).toEqual([1, 1, 3]);
  });

  it('declares an engine dead after 3 silent beats and tells the client', async () => {
    const { controller, client, engines } = await cluster(2, { heartbeatMs: 100 });
    const victim = engines[1]!;
    // silence it without a goodbye: its socket just goes away
    (victim as unknown as { sock: { close(): void } }).sock.close();
    clearInterval((victim as unknown as { mainBeat: NodeJS.Timeout }).mainBeat);
    await waitFor(() => client.ids.length === 1, 10_000, 'engine death');
    expect(controller.engines().map((e) => e.id)).toEqual([0]);
  });

  it('load-balanced apply/map run functions, ship errors with the remote stack', async () => {
    const { client } = await cluster(2);
    const lview = client.loadBalancedView();
    expect(await lview.apply((a: number, b: number) => a * b, 6, 7)).toBe(42);
    expect(await lview.map((x: number) => x + 1, [1, 2, 3, 4, 5], { chunksize: 2 })).toEqual([2, 3, 4, 5, 6]);
    const failing = lview.apply(function explode() {
      throw new TypeError('no good');
    });
    const error = await failing.get().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteTaskError);
    const remote = error as RemoteTaskError;
    expect(remote.code).toBe('RemoteTaskError');
    expect(remote.remoteName).toBe('TypeError');
    expect(remote.remoteStack).toContain('explode');
    expect(StarclusterError.is(remote)).toBe(true);
    expect(failing.metadata[0]!.status).toBe('error');
  });

  it('records per-task metadata (engine, submitted ≤ received, started ≤ completed)', async () => {
    const { client } = await cluster(1);
    const ar = client.loadBalancedView().apply(() => 1);
    await ar;
    const m = ar.metadata[0]!;
    expect(m.engine).toBe(0);
    expect(m.status).toBe('ok');
    expect(m.started! <= m.completed!).toBe(true);
    expect(m.submitted <= m.received!).toBe(true);
    expect(ar.ready()).toBe(true);
    expect(ar.progress).toBe(1);
  });

  it('round-trips typed arrays through engines as binary', async () => {
    const { client } = await cluster(1);
    const lview = client.loadBalancedView();
    const input = new Float64Array(100_000).map((_, i) => i / 3);
    const out = await lview.apply(
      (x: Float64Array, n: bigint) => ({ sum: x.reduce((s, v) => s + v, 0), twice: x.map((v) => v * 2), n: n * 2n }),
      input,
      2n ** 62n,
    );
    expect(out.twice).toBeInstanceOf(Float64Array);
    expect(out.twice[99_999]).toBe((99_999 / 3) * 2);
    expect(out.sum).toBeCloseTo(input.reduce((s, v) => s + v, 0));
    expect(out.n).toBe(2n ** 63n);
  });

  it('DirectView push/pull/execute/scatter/gather/apply on all or chosen engines', async () => {
    const { client } = await cluster(3);
    const all = client.directView();
    await all.push({ a: 10, v: new Int32Array([1, 2]) });
    expect(await all.pull('a')).toEqual([10, 10, 10]);
    expect(await all.execute('b = a + v[1]; b')).toEqual([12, 12, 12]);
    expect(await all.pull(['a', 'b'])).toEqual([
      [10, 12],
      [10, 12],
      [10, 12],
    ]);
    await client.directView([1]).execute('const onlyHere = 7');
    expect(await client.directView(1).pull('onlyHere')).toEqual([7]);
    const data = new Float32Array(10).map((_, i) => i);
    await all.scatter('part', data);
    expect(await all.apply(() => (globalThis as unknown as { part: Float32Array }).part.length)).toEqual([4, 3, 3]);
    const gathered = await all.gather('part');
    expect(gathered).toBeInstanceOf(Float32Array);
    expect(gathered).toEqual(data);
    await all.scatter('xs', ['a', 'b', 'c', 'd']);
    expect(await all.gather('xs')).toEqual(['a', 'b', 'c', 'd']);
    expect(await all.apply(() => typeof (globalThis as unknown as { a: number }).a)).toEqual([
      'number',
      'number',
      'number',
    ]);
  });

  it('loadModule ships an ES module to current and later engines; exports are callable with context', async () => {
    const { client, controller, keys } = await cluster(1);
    await client.loadModule('job', 'export function run(x, ctx) { return { x: x * 2, engine: ctx.engine }; }');
    const lview = client.loadBalancedView();
    expect(await lview.apply({ module: 'job', export: 'run', context: true }, 4)).toEqual({ x: 8, engine: 0 });
    const late = await startEngine({ controller: controller.engineEndpoint, keys, heart: 'main' });
    cleanup.push(() => late.close());
    await client.waitForEngines(2);
    expect(await client.directView(late.id).apply({ module: 'job', export: 'run', context: true }, 1)).toEqual([
      { x: 2, engine: late.id },
    ]);
    await expect(client.loadModule('bad', 'export const = ;')).rejects.toMatchObject({ code: 'ModuleLoadFailed' });
  });

  it('imap keeps a bounded number in flight and yields in order or as completed', async () => {
    const { client } = await cluster(2);
    const lview = client.loadBalancedView();
    function* naturals() {
      for (let i = 0; ; i++) yield i;
    }
    const got: number[] = [];
    for await (const v of lview.imap((x: number) => x * x, naturals(), { maxOutstanding: 8 })) {
      got.push(v);
      if (got.length === 50) break;
    }
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => i * i));
    const unordered: number[] = [];
    for await (const v of lview.imap((x: number) => x, [3, 1, 2], { ordered: false })) unordered.push(v);
    expect(unordered.sort()).toEqual([1, 2, 3]);
  });

  it('retries a failing task on another engine', async () => {
    const { client } = await cluster(2);
    await client.directView(0).execute('globalThis.flaky = true');
    await client.directView(1).execute('globalThis.flaky = false');
    const lview = client.loadBalancedView({ retries: 1, scheme: 'lru' });
    const results = await Promise.all(
      Array.from({ length: 6 }, () =>
        lview.apply(() => {
          if ((globalThis as unknown as { flaky: boolean }).flaky) throw new Error('flaky engine');
          return 'ok';
        }),
      ),
    );
    expect(results).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
  });

  it('get(timeout) rejects with a clear TaskTimeoutError and the task still completes', async () => {
    const { client } = await cluster(1);
    const ar = client.loadBalancedView().apply(() => new Promise((r) => setTimeout(() => r('late'), 300)));
    const error = await ar.get(20).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskTimeoutError);
    expect((error as TaskTimeoutError).message).toMatch(/not ready after 20 ms \(0 of 1 tasks done\)/);
    expect(await ar.wait(20)).toBe(false);
    expect(await ar.get(10_000)).toBe('late');
  });

  it('a direct task on an engine that dies fails with EngineDied', async () => {
    const { client, engines } = await cluster(2, { heartbeatMs: 50 });
    const victim = engines[1]!;
    const ar = client.directView(victim.id).apply(() => new Promise(() => {}));
    (victim as unknown as { sock: { close(): void } }).sock.close();
    clearInterval((victim as unknown as { mainBeat: NodeJS.Timeout }).mainBeat);
    await expect(ar.get(10_000)).rejects.toBeInstanceOf(EngineDiedError);
  });

  it('Client.connect fails with ControllerUnreachable within its timeout when nothing answers', async () => {
    const keys = newClusterKeys();
    const c: ControllerHandle = await startController({ host: '127.0.0.1', keys });
    const endpoint = c.clientEndpoint;
    await c.close(); // the port is now closed
    await expect(Client.connect({ endpoint, keys, timeoutMs: 300 })).rejects.toMatchObject({
      code: 'ControllerUnreachable',
      message: expect.stringContaining(endpoint),
    });
  });

  it('drops engine results for unknown or already-delivered task ids', async () => {
    const { controller, client, keys } = await cluster(1);
    // a raw engine speaking the wire protocol, with the cluster's engine key
    const raw = new zmq.Dealer({
      curveServerKey: keys.server.publicKey,
      curvePublicKey: keys.engine.publicKey,
      curveSecretKey: keys.engine.secretKey,
      routingId: 'e:raw',
      linger: 0,
    });
    cleanup.push(async () => raw.close());
    raw.connect(controller.engineEndpoint);
    await raw.send(JSON.stringify({ t: 'reg', uuid: 'raw', node: 'test', pid: 1 }));
    const [welcome] = await raw.receive();
    expect(JSON.parse(welcome!.toString())).toMatchObject({ t: 'welcome', id: 1 });
    const before = controller.stats().droppedResults;
    const bogus = { id: 999_999, ok: true, started: 0, completed: 0, body: '"forged"', frames: [] };
    await raw.send(encodeEngineToController({ kind: 'results', results: [bogus, bogus] }));
    await waitFor(() => controller.stats().droppedResults === before + 2, 10_000, 'dropped results');
    // the real engine's work is unaffected, and the client saw nothing forged
    expect(await client.directView(0).apply(() => 'real')).toEqual(['real']);
  });

  it('rejects malformed and unknown messages from an engine, and serves on', async () => {
    const { controller, client, keys } = await cluster(1);
    const raw = new zmq.Dealer({
      curveServerKey: keys.server.publicKey,
      curvePublicKey: keys.engine.publicKey,
      curveSecretKey: keys.engine.secretKey,
      routingId: 'e:bad',
      linger: 0,
    });
    cleanup.push(async () => raw.close());
    raw.connect(controller.engineEndpoint);
    const before = controller.stats().rejectedMessages;
    await raw.send('not json');
    await raw.send(JSON.stringify({ t: 'launch' }));
    // results claiming 5 payload frames, with none after the header
    const [claims] = encodeEngineToController({
      kind: 'results',
      results: [{ id: 1, ok: true, started: 0, completed: 0, frames: ['1', '2', '3', '4', '5'] }],
    });
    await raw.send(claims!);
    await raw.send(JSON.stringify({ t: 'reg', uuid: 'bad', node: 'test', pid: 'one' }));
    await waitFor(() => controller.stats().rejectedMessages === before + 4, 10_000, 'rejected messages');
    expect(controller.engines().map((e) => e.uuid)).not.toContain('bad');
    expect(await client.directView(0).apply(() => 'still here')).toEqual(['still here']);
  });

  it('an engine gives up when the controller is gone for its lost-beats budget', async () => {
    const keys = newClusterKeys();
    const controller = await startController({ host: '127.0.0.1', keys, heartbeatMs: 50, engineLostBeats: 4 });
    cleanup.push(() => controller.close());
    const engine = await startEngine({ controller: controller.engineEndpoint, keys, heart: 'main' });
    cleanup.push(() => engine.close());
    await controller.close();
    expect(await engine.ended).toBe('lost');
  });

  it('a controller told to stop its engines ends them', async () => {
    const keys = newClusterKeys();
    const controller = await startController({ host: '127.0.0.1', keys });
    const engine = await startEngine({ controller: controller.engineEndpoint, keys, heart: 'main' });
    cleanup.push(() => engine.close());
    await controller.close({ stopEngines: true });
    expect(await engine.ended).toBe('stopped');
  });

  it('refuses to bind on all interfaces by default', async () => {
    await expect(startController({ host: '0.0.0.0', keys: newClusterKeys() })).rejects.toMatchObject({
      code: 'UnsafeBindAddress',
    });
  });
});
