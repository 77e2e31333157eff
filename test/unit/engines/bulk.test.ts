import { createConnection, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { adoptWithReader, reusedReader } from '../../../src/engines/protocol/bulk-reader.js';
import { describe, expect, it, vi } from 'vitest';
import { useCleanup } from '../../_helpers/cleanup.js';
import { Client, startController, startEngine, newClusterKeys } from '../../../src/engines/index.js';
import {
  BulkServer,
  bulkRandom,
  connectBulk,
  RECORD_MAX,
  type BulkChannel,
  type Placement,
} from '../../../src/engines/protocol/bulk.js';
import { LaneRouter } from '../../../src/engines/client/lanes.js';
import { decodeLaneToClient, encodeClientToLane, type LaneToClient } from '../../../src/engines/protocol/wire.js';
import { redact } from '../../../src/secrets.js';
import * as zmq from 'zeromq';
import { inProcessCluster, tcpRelay, waitFor } from './helpers.js';

const cleanup = useCleanup();

/** An engine-side bulk server that echoes each message's frame sizes, and a client channel to it. */
async function pair(options: { via?: (endpoint: string) => Promise<string>; place?: Placement } = {}) {
  const received: Buffer[][] = [];
  const closed: { error?: Error }[] = [];
  const server = new BulkServer(
    (_route, channel) => (frames) => {
      received.push(frames);
      channel.send(['echo', ...frames]);
    },
    () => {},
  );
  const endpoint = await server.listen('127.0.0.1');
  cleanup.push(() => server.close());
  const cr = bulkRandom();
  const offer = server.offer(cr.text);
  const replies: Buffer[][] = [];
  const target = options.via ? await options.via(endpoint) : endpoint;
  const channel = await connectBulk(
    target,
    offer,
    cr.bytes,
    (frames) => replies.push(frames),
    (error) => closed.push(error ? { error } : {}),
    options.place,
  );
  cleanup.push(() => channel.close());
  return { server, channel, received, replies, closed, offer, cr };
}

/** A TCP proxy that records client → server bytes and can rewrite them. */
async function proxy(target: string, rewrite: (chunk: Buffer, seen: number) => Buffer | Buffer[] = (c) => c) {
  const upstream: Buffer[] = [];
  let seen = 0;
  const relay = await tcpRelay(cleanup, target, (chunk, up) => {
    upstream.push(Buffer.from(chunk));
    const out = rewrite(chunk, seen);
    seen += chunk.length;
    for (const c of Array.isArray(out) ? out : [out]) up.write(c);
  });
  return { endpoint: relay.endpoint, upstream, inject: (bytes: Buffer) => relay.lastUpstream()?.write(bytes) };
}

/** A relay that flips one byte at offset `at` of the engine → client stream. */
function flipDownstream(at: number) {
  let flipped = false;
  let seen = 0;
  const via = async (endpoint: string): Promise<string> =>
    (
      await tcpRelay(cleanup, endpoint, undefined, (chunk, down) => {
        const here = at - seen;
        seen += chunk.length;
        if (flipped || here < 0 || here >= chunk.length) return void down.write(chunk);
        flipped = true;
        const copy = Buffer.from(chunk);
        copy[here]! ^= 0x01;
        down.write(copy);
      })
    ).endpoint;
  return { via, flipped: () => flipped };
}

describe('bulk lane channel (AES-256-GCM records over TCP)', () => {
  it('carries messages with large frames intact, in order, both ways', async () => {
    const { channel, replies } = await pair();
    const big = new Uint8Array(3 * (1 << 20) + 123);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    channel.send(['{"t":"a"}', big, '']);
    channel.send(['second']);
    await waitFor(() => replies.length === 2, 20_000, 'two replies');
    expect(replies[0]!.map((f) => f.byteLength)).toEqual([4, 9, big.length, 0]);
    expect(Buffer.compare(replies[0]![2]!, Buffer.from(big))).toBe(0);
    expect(replies[1]!.map(String)).toEqual(['echo', 'second']);
  });

  it('both sides read into one reused buffer: the engine adopts its accepted connection with onread', async () => {
    const channels: BulkChannel[] = [];
    const received: Buffer[][] = [];
    const server = new BulkServer(
      (_route, channel) => {
        channels.push(channel);
        return (frames) => {
          received.push(frames);
          channel.send(['ok']);
        };
      },
      () => {},
    );
    const endpoint = await server.listen('127.0.0.1');
    cleanup.push(() => server.close());
    const cr = bulkRandom();
    const replies: Buffer[][] = [];
    const client = await connectBulk(
      endpoint,
      server.offer(cr.text),
      cr.bytes,
      (f) => replies.push(f),
      () => {},
    );
    cleanup.push(() => client.close());
    const big = new Uint8Array(5 << 20).map((_, i) => i % 251);
    client.send(['x', big]);
    await waitFor(() => replies.length === 1, 20_000, 'the reply');
    expect(channels).toHaveLength(1);
    expect(channels[0]!.readsReused).toBe(true);
    expect(client.readsReused).toBe(true);
    expect(Buffer.compare(received[0]![1]!, Buffer.from(big))).toBe(0);
    // the adopted connection still closes cleanly, and the server with it
    client.close();
    await waitFor(() => channels[0]!.isClosed, 10_000, 'the engine side to see the close');
  });

  it("a connection whose Node socket has no handle to adopt keeps its own reads, fed to the channel's reader", async () => {
    const socket = new PassThrough();
    const reader = reusedReader();
    const got: Buffer[] = [];
    socket.write(Buffer.from('early '));
    expect(adoptWithReader(socket as unknown as Socket, reader)).toBe(socket);
    reader.sink((chunk) => got.push(Buffer.from(chunk)));
    socket.write(Buffer.from('late'));
    await waitFor(() => Buffer.concat(got).toString() === 'early late', 5000, 'both reads');
    expect(reader.reused).toBe(false);
  });

  it('carries a message of many frames (a head record larger than a data record)', async () => {
    const { channel, replies } = await pair();
    const frames = Array.from({ length: 40_000 }, (_, i) => String(i % 10));
    channel.send(frames);
    await waitFor(() => replies.length === 1, 20_000, 'the reply');
    expect(replies[0]!.length).toBe(40_001);
    expect(replies[0]!.slice(1).map(String)).toEqual(frames);
  });

  it('never reuses a nonce: the same message twice crosses the wire as different ciphertext', async () => {
    let tap: Awaited<ReturnType<typeof proxy>> | undefined;
    const { channel, received } = await pair({
      via: async (endpoint) => {
        tap = await proxy(endpoint);
        return tap.endpoint;
      },
    });
    const message = new Uint8Array(300_000).fill(9); // a head record and two data records
    channel.send(['same', message]);
    await waitFor(() => received.length === 1, 10_000, 'the first message');
    const first = Buffer.concat(tap!.upstream).subarray(20); // past the preamble
    channel.send(['same', message]);
    await waitFor(() => received.length === 2, 10_000, 'the second message');
    const second = Buffer.concat(tap!.upstream).subarray(20 + first.length);
    expect(second.length).toBe(first.length);
    // same lengths (the unencrypted 4-byte record lengths match), different ciphertext and tags throughout
    let same = 0;
    for (let i = 0; i < first.length; i++) if (first[i] === second[i]) same++;
    expect(same / first.length).toBeLessThan(0.02);
    expect(channel.stats.recordsOut).toBe(2 * (1 + 1 + Math.ceil(300_000 / RECORD_MAX)));
  });

  it('refuses a connection that names no session offered on the CURVE lane', async () => {
    const { server } = await pair();
    const sock = createConnection({ host: '127.0.0.1', port: Number(server.endpoint.split(':').pop()) });
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    sock.on('error', () => {});
    sock.write(Buffer.concat([Buffer.from('SCB1'), Buffer.alloc(16, 1), Buffer.alloc(64, 2)]));
    await closed;
    expect(server.refused).toBe(1);
  });

  it('refuses a peer with a real session id but not its keys: nothing it sends is delivered', async () => {
    const received: Buffer[][] = [];
    const server = new BulkServer(
      () => (frames) => received.push(frames),
      () => {},
    );
    const endpoint = await server.listen('127.0.0.1');
    cleanup.push(() => server.close());
    const offer = server.offer(bulkRandom().text);
    // the session id leaked, the randoms did not: the keys it derives are wrong
    const closes: (Error | undefined)[] = [];
    const intruder = await connectBulk(
      endpoint,
      offer,
      bulkRandom().bytes,
      () => {},
      (e) => closes.push(e),
    );
    intruder.send(['{"t":"sub","k":[]}']);
    await waitFor(() => server.refused === 1, 10_000, 'the server to refuse the intruder');
    await waitFor(() => closes.length === 1, 10_000, 'the intruder to be disconnected');
    expect(received).toEqual([]);
    // the session is spent: the real client cannot be impersonated later either
    expect(server.refused).toBe(1);
  });

  it('rejects a tampered record: the connection closes and the message is never delivered', async () => {
    let flipped = false;
    const { channel, received, closed } = await pair({
      via: async (endpoint) =>
        (
          await proxy(endpoint, (chunk, seen) => {
            // flip one ciphertext byte well inside the first data record (past the preamble and head record)
            const at = 5000 - seen;
            if (flipped || at < 0 || at >= chunk.length) return chunk;
            flipped = true;
            const copy = Buffer.from(chunk);
            copy[at]! ^= 0x01;
            return copy;
          })
        ).endpoint,
    });
    channel.send(['x', new Uint8Array(1 << 20)]);
    await waitFor(() => closed.length === 1, 10_000, 'the connection to close');
    expect(flipped).toBe(true);
    expect(received).toEqual([]);
  });

  it('the client rejects a tampered record from the engine: its channel closes and the reply is never delivered', async () => {
    // flip one ciphertext byte well inside the reply's first data record (past its head record)
    const tamper = flipDownstream(5000);
    const { channel, replies, closed } = await pair({ via: tamper.via });
    channel.send(['x', new Uint8Array(1 << 20)]);
    await waitFor(() => closed.length === 1, 10_000, 'the client channel to close');
    expect(tamper.flipped()).toBe(true);
    expect(replies).toEqual([]);
    expect(closed[0]!.error?.message).toMatch(/failed authentication/);
  });

  it("a receiver's Placement gets the frames after the header in its own memory; others in fresh memory", async () => {
    const into = new Uint8Array(3 << 20);
    const asked: number[][] = [];
    const { channel, replies } = await pair({
      place: (first, lens) => {
        asked.push([...lens]);
        // the echo of the first message: 'echo', 'head', then the payload
        return String(first) === 'echo' && lens[1] === into.byteLength
          ? [Buffer.alloc(lens[0]!), Buffer.from(into.buffer, into.byteOffset, into.byteLength)]
          : undefined;
      },
    });
    const payload = new Uint8Array(into.byteLength).map((_, i) => i % 253);
    channel.send(['head', payload]);
    channel.send(['other', new Uint8Array(1000)]);
    await waitFor(() => replies.length === 2, 20_000, 'two replies');
    expect(asked).toEqual([
      [4, into.byteLength],
      [5, 1000],
    ]);
    expect(replies[0]![2]!.buffer).toBe(into.buffer);
    expect(Buffer.compare(Buffer.from(into), Buffer.from(payload))).toBe(0);
    expect(replies[1]![2]!.buffer).not.toBe(into.buffer);
    expect(String(replies[0]![1])).toBe('head');
  });

  it('a placed message with a tampered record is never delivered: the channel closes', async () => {
    const tamper = flipDownstream(600_000); // inside the echoed payload's third record
    const into = new Uint8Array(1 << 20);
    const { channel, replies, closed } = await pair({
      place: (_first, lens) => (lens.length === 1 ? [Buffer.from(into.buffer, 0, lens[0])] : undefined),
      via: tamper.via,
    });
    channel.send([new Uint8Array(1 << 20)]);
    await waitFor(() => closed.length === 1, 10_000, 'the client channel to close');
    expect(tamper.flipped()).toBe(true);
    expect(replies).toEqual([]);
    expect(closed[0]!.error?.message).toMatch(/failed authentication/);
  });

  it('rejects a replayed record: nonces only count up, so an old record never authenticates again', async () => {
    let tap: Awaited<ReturnType<typeof proxy>> | undefined;
    const { channel, received, closed, server } = await pair({
      via: async (endpoint) => {
        tap = await proxy(endpoint);
        return tap.endpoint;
      },
    });
    channel.send(['one', new Uint8Array(1000)]);
    await waitFor(() => received.length === 1, 10_000, 'the first message');
    // the first message's records as they crossed the wire (after the 20-byte preamble), sent again
    const records = Buffer.concat(tap!.upstream).subarray(20);
    expect(records.length).toBeGreaterThan(1000);
    tap!.inject(records);
    await waitFor(() => closed.length === 1, 10_000, 'the connection to close on the replayed record');
    expect(received).toHaveLength(1);
    expect(server.refused).toBe(0); // it had authenticated: a failure, not an intruder refused
  });

  it('a byte-for-byte replay of a whole recorded connection is refused', async () => {
    let recorded: Buffer[] = [];
    const { channel, received, server } = await pair({
      via: async (endpoint) => {
        const p = await proxy(endpoint);
        recorded = p.upstream;
        return p.endpoint;
      },
    });
    channel.send(['{"t":"x"}', new Uint8Array(4096)]);
    await waitFor(() => received.length === 1, 10_000, 'the message');
    const sock = createConnection({ host: '127.0.0.1', port: Number(server.endpoint.split(':').pop()) });
    sock.on('error', () => {});
    const closedP = new Promise<void>((r) => sock.on('close', () => r()));
    sock.write(Buffer.concat(recorded));
    await closedP;
    expect(received).toHaveLength(1);
    expect(server.refused).toBe(1);
  });
});

describe('bulk lane in the engine runtime', () => {
  it('push and pull of large arrays go client → engine directly, intact; the controller never carries them', async () => {
    const { client, controller } = await inProcessCluster(cleanup, 2);
    const dv = client.directView();
    const a = new Float64Array(3 << 17); // 3 MiB
    for (let i = 0; i < a.length; i++) a[i] = i / 7;
    await dv.push({ a });
    const before = controller.stats().submitted;
    await dv.push({ a });
    const back = (await dv.pull('a')) as Float64Array[];
    expect(controller.stats().submitted).toBe(before);
    for (const part of back) {
      expect(part).toBeInstanceOf(Float64Array);
      expect(part.length).toBe(a.length);
      expect(part.every((x, i) => x === a[i])).toBe(true);
    }
    await dv.scatter('s', a);
    const gathered = (await dv.gather('s')) as Float64Array;
    expect(gathered.every((x, i) => x === a[i])).toBe(true);
    // a small apply after a bulk transfer sees the pushed data (tasks to one engine stay in order)
    await dv.push({ a: new Float64Array(1 << 16).fill(3) });
    expect(await dv.apply(() => (globalThis as unknown as { a: Float64Array }).a[5])).toEqual([3, 3]);
  });

  it("gather receives each engine's large part straight into the final array (bulk Placement)", async () => {
    const { client } = await inProcessCluster(cleanup, 2);
    const dv = client.directView();
    const a = new Float64Array(5 << 17).map((_, i) => i * 3 + 0.5); // 5 MiB: 2.5 MiB a part
    await dv.scatter('s', a);
    const place = vi.spyOn(LaneRouter.prototype as unknown as { placeResult: Placement }, 'placeResult');
    try {
      const gathered = (await dv.gather('s')) as Float64Array;
      expect(gathered.length).toBe(a.length);
      expect(gathered.every((x, i) => x === a[i])).toBe(true);
      // both parts' bytes were placed, in one buffer, and the result is that buffer whole
      const placed = place.mock.results.map((r) => r.value as Buffer[] | undefined).filter((r) => r !== undefined);
      expect(placed).toHaveLength(2);
      const buffers = new Set(
        placed.flatMap((frames) => frames.filter((f) => f.byteLength > 4096).map((f) => f.buffer)),
      );
      expect([...buffers]).toEqual([gathered.buffer]);
      expect(gathered.byteLength).toBe(gathered.buffer.byteLength);
    } finally {
      place.mockRestore();
    }
  });

  it('with lanes off, the same transfers go through the controller (CURVE), intact', async () => {
    const { client, controller } = await inProcessCluster(cleanup, 1, { lanes: 'off' });
    const a = new Float64Array(5 << 17).map((_, i) => i);
    const before = controller.stats().submitted;
    await client.directView(0).push({ a });
    const [back] = (await client.directView(0).pull('a')) as Float64Array[];
    expect(controller.stats().submitted).toBe(before + 2);
    expect(back!.every((x, i) => x === i)).toBe(true);
  });

  it('a bulk session is offered only on the CURVE lane, on the lane host (loopback here), never on a bulk connection', async () => {
    const { client, keys } = await inProcessCluster(cleanup, 1);
    const lane = client.engines[0]!.lane!;
    const sock = new zmq.Dealer({
      curveServerKey: lane.key,
      curvePublicKey: keys.client.publicKey,
      curveSecretKey: keys.client.secretKey,
      linger: 0,
      receiveTimeout: 10_000,
    });
    cleanup.push(async () => sock.close());
    sock.connect(lane.endpoint);
    const ask = async (cr = bulkRandom()): Promise<LaneToClient> => {
      await sock.send(encodeClientToLane({ kind: 'bulk', random: cr.text }) as string[]);
      return decodeLaneToClient(await sock.receive());
    };
    const answer = await ask();
    if (answer.kind !== 'bulk') throw new Error(`expected a bulk offer, got ${answer.kind}`);
    // the bulk server listens where the lane does: loopback for a loopback controller, never 0.0.0.0 or ::
    expect(answer.offer.endpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const cr = bulkRandom();
    const offer = (await ask(cr)) as Extract<LaneToClient, { kind: 'bulk' }>;
    const replies: Buffer[][] = [];
    const channel = await connectBulk(
      offer.offer.endpoint,
      { s: offer.offer.session, r: offer.offer.random },
      cr.bytes,
      (frames) => replies.push(frames),
      () => {},
    );
    cleanup.push(() => channel.close());
    // asked on the bulk connection itself: no offer; the hello after it is answered, in order
    channel.send(encodeClientToLane({ kind: 'bulk', random: bulkRandom().text }));
    channel.send(encodeClientToLane({ kind: 'hello' }));
    await waitFor(() => replies.length >= 1, 10_000, 'the welcome');
    expect(replies.map((r) => decodeLaneToClient(r).kind)).toEqual(['welcome']);
  });

  it('never prints or logs bulk key material; the randoms are registered secrets', async () => {
    const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((m) => vi.spyOn(console, m));
    const writes: string[] = [];
    const out = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
      writes.push(String(c));
      return true;
    });
    const err = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
      writes.push(String(c));
      return true;
    });
    let channel: BulkChannel | undefined;
    const material: string[] = [];
    try {
      const { offer, cr, channel: ch } = await pair();
      channel = ch;
      material.push(cr.text, offer.r, cr.bytes.toString('hex'), Buffer.from(offer.r, 'base64').toString('hex'));
      ch.send(['hello']);
      // a failure path too: a refused intruder
      await pair().then(async ({ server }) => {
        const s = createConnection({ host: '127.0.0.1', port: Number(server.endpoint.split(':').pop()) });
        s.on('error', () => {});
        s.write(Buffer.alloc(64));
        await new Promise<void>((r) => s.on('close', () => r()));
      });
      const keys = newClusterKeys();
      const controller = await startController({ host: '127.0.0.1', keys, heartbeatMs: 100 });
      cleanup.push(() => controller.close());
      const engine = await startEngine({ controller: controller.engineEndpoint, keys, heart: 'main' });
      cleanup.push(() => engine.close());
      const client = await Client.connect({ endpoint: controller.clientEndpoint, keys });
      cleanup.push(() => client.close());
      await client.waitForEngines(1);
      await client.directView(0).push({ big: new Uint8Array(1 << 20) });
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
    const logged = [...writes, ...spies.flatMap((s) => s.mock.calls.map((c) => c.map(String).join(' ')))].join('\n');
    for (const spy of spies) spy.mockRestore();
    expect(material.length).toBe(4);
    for (const m of material) expect(logged).not.toContain(m);
    expect(redact(`x ${material[0]} y ${material[1]}`)).toBe('x *** y ***');
    channel?.close();
  });
});
