/**
 * The data plane benchmark's reference points (bench/dataplane.ts runs them): the bare wire between two
 * processes, what this machine's cores can do at best (cipher and memory rates), and the CPU the
 * benchmark's processes spend.
 *
 * wire: one stream between two processes, 4 MiB messages, one small answer at the end:
 *   - `curve`: zeromq PAIR→PAIR with CURVE (what the controller's sockets use);
 *   - `aesGcm`: our bulk channel alone (protocol/bulk.ts: AES-256-GCM records over TCP, the same code
 *     `ours` uses for each engine), four-MiB messages as zeromq's;
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

export type WireRates = Record<'curve' | 'aesGcm' | 'plain', (number | null)[]>;

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

/**
 * The wire peer (a child process): `curve`/`plain` bind a zeromq PAIR; `aes` serves bulk sessions.
 * Either counts the bytes of the messages it gets and answers a one-byte message with the count.
 */
export async function wirePeer(mode: string): Promise<void> {
  if (mode === 'aes') {
    let got = 0;
    const server = new BulkServer(
      (_route, channel) => (frames) => {
        const bytes = frames.reduce((s, f) => s + f.byteLength, 0);
        if (bytes === 1) {
          channel.send([String(got)]);
          got = 0;
        } else got += bytes;
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
  let got = 0;
  for await (const [frame] of sock) {
    if (frame!.length === 1) {
      await sock.send(String(got));
      got = 0;
    } else got += frame!.length;
  }
}

type Stream = (bytes: number) => Promise<number>;

/** Runs `stream` warm, then best of `reps` per size, MB/s. */
async function rates(stream: Stream, sizes: number[], repsFor: (i: number) => number): Promise<number[]> {
  await stream(CHUNK * 4);
  const out: number[] = [];
  for (const [i, size] of sizes.entries()) {
    let best = 0;
    for (let r = 0; r < repsFor(i); r++) best = Math.max(best, await stream(size));
    out.push(best);
  }
  return out;
}

async function zmqWire(mode: 'curve' | 'plain', sizes: number[], repsFor: (i: number) => number): Promise<number[]> {
  const server = zmq.curveKeyPair();
  const client = zmq.curveKeyPair();
  const peer = spawnTs('bench/dataplane.ts', ['--wire-peer', mode], { WIRE_KEYS: JSON.stringify(server) });
  try {
    const { ep } = await firstJsonLine<{ ep: string }>(peer);
    const sock = new zmq.Pair(
      mode === 'curve'
        ? { curveServerKey: server.publicKey, curvePublicKey: client.publicKey, curveSecretKey: client.secretKey }
        : {},
    );
    sock.connect(ep);
    const payload = Buffer.alloc(CHUNK, 7);
    const stream = async (bytes: number): Promise<number> => {
      const t = performance.now();
      for (let sent = 0; sent < bytes; sent += CHUNK) await sock.send(payload);
      await sock.send('.');
      const [ack] = await sock.receive();
      if (Number(ack!.toString()) < bytes) throw new Error('wire peer got too little');
      return bytes / MB / ((performance.now() - t) / 1000);
    };
    const out = await rates(stream, sizes, repsFor);
    sock.close();
    return out;
  } finally {
    peer.kill();
  }
}

async function aesWire(sizes: number[], repsFor: (i: number) => number): Promise<number[]> {
  const peer = spawnTs('bench/dataplane.ts', ['--wire-peer', 'aes']);
  try {
    const cr = bulkRandom();
    peer.stdin!.write(`${cr.text}\n`);
    const offer = await firstJsonLine<{ s: string; r: string; ep: string }>(peer);
    let answered: ((bytes: number) => void) | undefined;
    const channel = await connectBulk(
      offer.ep,
      offer,
      cr.bytes,
      (frames) => answered?.(Number(frames[0]!.toString())),
      () => {},
    );
    const payload = Buffer.alloc(CHUNK, 7);
    const stream = async (bytes: number): Promise<number> => {
      const t = performance.now();
      const done = new Promise<number>((r) => (answered = r));
      for (let sent = 0; sent < bytes; sent += CHUNK) channel.send([payload]);
      channel.send(['.']);
      if ((await done) < bytes) throw new Error('wire peer got too little');
      return bytes / MB / ((performance.now() - t) / 1000);
    };
    const out = await rates(stream, sizes, repsFor);
    channel.close();
    return out;
  } finally {
    peer.kill();
  }
}

export async function wire(sizes: number[], repsFor: (i: number) => number): Promise<WireRates> {
  return {
    curve: await zmqWire('curve', sizes, repsFor),
    aesGcm: await aesWire(sizes, repsFor),
    plain: await zmqWire('plain', sizes, repsFor),
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
