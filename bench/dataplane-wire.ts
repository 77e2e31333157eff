/**
 * The data plane benchmark's reference points (bench/dataplane.ts runs them): the bare wire between two
 * processes, what this machine's cores can do at best (cipher and memory rates), and the CPU the
 * benchmark's processes spend.
 *
 * wire: bare streams between this process and one peer process per engine, in 4 MiB messages, in the
 *   shape of each operation (push: to every peer at once; pull: from every peer at once; scatter and
 *   gather: a share to or from each), nothing of ours but the channel:
 *   - `curve`: zeromq PAIR→PAIR with CURVE (what the controller's sockets use), an I/O thread per stream;
 *   - `aesGcm`: our bulk channel alone (protocol/bulk.ts: AES-256-GCM records over TCP, the same code
 *     `ours` uses for each engine);
 *   - `plain`: zeromq with no security (for reference: no encryption, no authentication).
 * limits: per core, in CPU time (so a busy machine changes them little): AES-256-GCM encrypt and
 *   decrypt of 256 KiB records with node:crypto, a copy into fresh memory (page faults included: every
 *   received array lands in fresh memory) and into warm memory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as zmq from 'zeromq';
import { BulkServer, bulkRandom, connectBulk, RECORD_MAX } from '../src/engines/protocol/bulk.js';

const MB = 1e6;
const CHUNK = 4 << 20;
const root = new URL('..', import.meta.url).pathname;

export function spawnTs(script: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  // DATAPLANE_CPU_PROF=dir: every child writes a V8 CPU profile there (node --cpu-prof; SIGTERM exits cleanly so it does)
  const dir = process.env.DATAPLANE_CPU_PROF;
  const onTerm = "data:text/javascript,process.on('SIGTERM',()=>process.exit(0))";
  const prof = dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--import', onTerm] : [];
  return spawn(process.execPath, [...prof, '--import', 'tsx', join(root, script), ...args], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
}

export async function firstJsonLine<T>(child: ChildProcess): Promise<T> {
  const rl = createInterface({ input: child.stdout! });
  for await (const line of rl) {
    if (line.trim().startsWith('{')) return JSON.parse(line) as T;
  }
  throw new Error('process ended before printing its JSON line');
}

/** CPU time (ns) a process has used so far, all its threads (/proc/PID/task/N/schedstat); 0 once gone. */
export function cpuNs(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    let total = 0;
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      total += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    }
    return total;
  } catch {
    return 0;
  }
}

/** The four operations of the data plane benchmark, in its order. */
export const OPS = ['push', 'pull', 'scatter', 'gather'] as const;
export type Op = (typeof OPS)[number];
export type WireMode = 'curve' | 'aesGcm' | 'plain';
/** MB/s by mode, operation and size. */
export type WireRates = Record<WireMode, Record<Op, number[]>>;

/** A one-byte message ends a stream: the receiver answers it with the byte count (or ends a fetch). */
const END = '.';
/** `get:N` asks a peer to send N bytes, then END. */
const GET = 'get:';

/** What a wire peer does with a message: count it, answer END with the count, serve a `get:N`. */
function peerHandler(send: (frame: Buffer | string) => unknown): (frame: Buffer) => Promise<void> {
  let got = 0;
  const payload = Buffer.alloc(CHUNK, 7);
  return async (frame) => {
    if (frame.length === 1) {
      await send(String(got));
      got = 0;
    } else if (frame.length < 32 && frame.toString('latin1').startsWith(GET)) {
      const bytes = Number(frame.toString('latin1').slice(GET.length));
      for (let sent = 0; sent < bytes; sent += CHUNK) await send(payload.subarray(0, Math.min(CHUNK, bytes - sent)));
      await send(END);
    } else got += frame.length;
  };
}

/**
 * The wire peer (a child process): `curve`/`plain` bind a zeromq PAIR; `aes` serves bulk sessions.
 * Either counts the bytes of the messages it gets and answers a one-byte message with the count, and
 * answers `get:N` with N bytes in 4 MiB messages, then a one-byte message.
 */
export async function wirePeer(mode: string): Promise<void> {
  if (mode === 'aes') {
    const server = new BulkServer(
      (_route, channel) => {
        const handle = peerHandler((frame) => channel.send([frame]));
        return (frames) => void handle(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
      },
      () => {},
    );
    await server.listen('127.0.0.1');
    const rl = createInterface({ input: process.stdin });
    for await (const line of rl) console.log(JSON.stringify(server.offer(line.trim())));
    return;
  }
  const keys = JSON.parse(process.env.WIRE_KEYS ?? '{}') as { secretKey?: string };
  const sock = new zmq.Pair(mode === 'curve' ? { curveServer: true, curveSecretKey: keys.secretKey!, linger: 0 } : {});
  await sock.bind('tcp://127.0.0.1:*');
  console.log(JSON.stringify({ ep: sock.lastEndpoint }));
  const handle = peerHandler((frame) => sock.send(frame));
  for await (const [frame] of sock) await handle(frame!);
}

/** One stream to a wire peer: `put` sends bytes and waits for the peer's count; `get` fetches bytes. */
interface Link {
  put(bytes: number): Promise<void>;
  get(bytes: number): Promise<void>;
  close(): void;
}

/** Receives whole messages in order from a callback source. */
class Inbox {
  private readonly items: Buffer[] = [];
  private waiter?: (frame: Buffer) => void;
  push(frame: Buffer): void {
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w(frame);
    } else this.items.push(frame);
  }
  next(): Promise<Buffer> {
    const item = this.items.shift();
    return item ? Promise.resolve(item) : new Promise((resolve) => (this.waiter = resolve));
  }
}

/** put/get over any message link: `send` a frame, `next` the next frame received. */
function link(send: (frame: Buffer | string) => unknown, next: () => Promise<Buffer>, close: () => void): Link {
  const payload = Buffer.alloc(CHUNK, 7);
  return {
    async put(bytes) {
      for (let sent = 0; sent < bytes; sent += CHUNK) await send(payload.subarray(0, Math.min(CHUNK, bytes - sent)));
      await send(END);
      if (Number((await next()).toString()) < bytes) throw new Error('wire peer got too little');
    },
    async get(bytes) {
      await send(`${GET}${bytes}`);
      let got = 0;
      for (let frame = await next(); frame.length !== 1; frame = await next()) got += frame.length;
      if (got < bytes) throw new Error('wire peer sent too little');
    },
    close,
  };
}

async function zmqLink(mode: 'curve' | 'plain', context: zmq.Context, peers: ChildProcess[]): Promise<Link> {
  const server = zmq.curveKeyPair();
  const client = zmq.curveKeyPair();
  const peer = spawnTs('bench/dataplane.ts', ['--wire-peer', mode], { WIRE_KEYS: JSON.stringify(server) });
  peers.push(peer);
  const { ep } = await firstJsonLine<{ ep: string }>(peer);
  const sock = new zmq.Pair({
    context,
    ...(mode === 'curve'
      ? { curveServerKey: server.publicKey, curvePublicKey: client.publicKey, curveSecretKey: client.secretKey }
      : {}),
  });
  sock.connect(ep);
  const next = async (): Promise<Buffer> => (await sock.receive())[0]!;
  return link(
    (frame) => sock.send(frame),
    next,
    () => sock.close(),
  );
}

async function aesLink(peers: ChildProcess[]): Promise<Link> {
  const peer = spawnTs('bench/dataplane.ts', ['--wire-peer', 'aes']);
  peers.push(peer);
  const cr = bulkRandom();
  peer.stdin!.write(`${cr.text}\n`);
  const offer = await firstJsonLine<{ s: string; r: string; ep: string }>(peer);
  const inbox = new Inbox();
  const channel = await connectBulk(
    offer.ep,
    offer,
    cr.bytes,
    (frames) => inbox.push(frames.length === 1 ? frames[0]! : Buffer.concat(frames)),
    () => {},
  );
  return link(
    (frame) => channel.send([frame]),
    () => inbox.next(),
    () => channel.close(),
  );
}

/**
 * The bare wire in the shape of each operation, one stream per engine: push sends `size` to every peer
 * at once, pull fetches `size` from every peer at once, scatter and gather move `size / streams` per
 * peer. MB/s counts every byte moved, as bench/dataplane.ts counts ours'. Best of `reps` per size.
 */
async function shapes(links: Link[], sizes: number[], repsFor: (i: number) => number): Promise<Record<Op, number[]>> {
  const n = links.length;
  const run: Record<Op, (size: number) => Promise<number>> = {
    push: async (size) => (await Promise.all(links.map((l) => l.put(size))), size * n),
    pull: async (size) => (await Promise.all(links.map((l) => l.get(size))), size * n),
    scatter: async (size) => (await Promise.all(links.map((l) => l.put(size / n))), size),
    gather: async (size) => (await Promise.all(links.map((l) => l.get(size / n))), size),
  };
  await run.push(CHUNK * 4 * n);
  await run.pull(CHUNK * 4 * n);
  const out: Record<Op, number[]> = { push: [], pull: [], scatter: [], gather: [] };
  for (const [i, size] of sizes.entries()) {
    for (const op of OPS) {
      let best = 0;
      for (let r = 0; r < repsFor(i); r++) {
        const t = performance.now();
        const bytes = await run[op](size);
        best = Math.max(best, bytes / MB / ((performance.now() - t) / 1000));
      }
      out[op].push(best);
    }
  }
  return out;
}

/** The bare wire in every mode, `streams` peers (one per engine), each operation's shape. */
export async function wire(sizes: number[], repsFor: (i: number) => number, streams: number): Promise<WireRates> {
  const measure = async (open: (peers: ChildProcess[]) => Promise<Link>): Promise<Record<Op, number[]>> => {
    const peers: ChildProcess[] = [];
    const links: Link[] = [];
    try {
      for (let i = 0; i < streams; i++) links.push(await open(peers));
      return await shapes(links, sizes, repsFor);
    } finally {
      for (const l of links) l.close();
      for (const p of peers) p.kill();
    }
  };
  // zeromq encrypts and decrypts CURVE in its I/O threads: one per stream, as the engines each have their own
  const context = new zmq.Context({ ioThreads: streams });
  return {
    curve: await measure((peers) => zmqLink('curve', context, peers)),
    aesGcm: await measure((peers) => aesLink(peers)),
    plain: await measure((peers) => zmqLink('plain', context, peers)),
  };
}

export interface Limits {
  /** node:crypto AES-256-GCM, RECORD_MAX records, MB per CPU-second of one core. */
  encrypt: number;
  decrypt: number;
  /** memcpy into memory never touched before (page faults included), and into warm memory. */
  copyFresh: number;
  copyWarm: number;
}

/** Per-core rates in CPU time (process.cpuUsage), best of 3, over 64 MiB. */
export function limits(): Limits {
  const total = 64 << 20;
  const src = Buffer.alloc(total, 7);
  const key = randomBytes(32);
  const iv = Buffer.alloc(12);
  const cpuRate = (run: () => void): number => {
    let best = 0;
    for (let r = 0; r < 3; r++) {
      const c = process.cpuUsage();
      run();
      const used = process.cpuUsage(c);
      best = Math.max(best, total / MB / ((used.user + used.system) / 1e6));
    }
    return best;
  };
  const sealed: { body: Buffer; tag: Buffer }[] = [];
  const encrypt = cpuRate(() => {
    sealed.length = 0;
    for (let off = 0; off < total; off += RECORD_MAX) {
      const c = createCipheriv('aes-256-gcm', key, iv);
      const body = c.update(src.subarray(off, off + RECORD_MAX));
      c.final();
      if (sealed.length < 4) sealed.push({ body, tag: c.getAuthTag() });
    }
  });
  const decrypt = cpuRate(() => {
    for (let off = 0, i = 0; off < total; off += RECORD_MAX, i = (i + 1) % sealed.length) {
      const d = createDecipheriv('aes-256-gcm', key, iv);
      d.update(sealed[i]!.body).copy(src, off);
      d.setAuthTag(sealed[i]!.tag);
      d.final();
    }
  });
  const warm = Buffer.alloc(total);
  return {
    encrypt,
    decrypt,
    copyFresh: cpuRate(() => src.copy(Buffer.allocUnsafeSlow(total))),
    copyWarm: cpuRate(() => src.copy(warm)),
  };
}
