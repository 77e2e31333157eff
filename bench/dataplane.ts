/**
 * Data plane benchmark: push, pull, scatter and gather of a Float64Array to/from 2 engine processes
 * (controller and engines as separate processes, the client here), against ipyparallel doing the same
 * with numpy in the same run, and against bare sockets between two processes with the same security.
 *
 *   npm run bench:dataplane -- [--sizes 8,64,256,1024] [--engines 2] [--reps 3,2,1,1] [--no-relay]
 *                              [--no-ipyparallel] [--json]
 *
 * Sizes are MiB of array. MB/s (10^6 bytes per second) counts the bytes moved: push and pull move the
 * array to/from every engine (size × engines), scatter and gather move it once. Each operation runs
 * `reps` times per size and the best is kept, on both sides. Every result is checked by value.
 *
 * ours: the default client (engines on loopback, so bulk transfers take each engine's bulk lane:
 *   AES-256-GCM records over TCP, keyed on the engine's CURVE lane). relay: a client with
 *   `lanes: 'off'`, as a client behind an SSH tunnel: everything through the controller, CURVE on each hop.
 * ipyparallel: its default security (HMAC-signed, not encrypted); ipyparallelCurve: with CurveZMQ on
 *   every socket (IPP_ENABLE_CURVE=1), the same security as ours.
 * wire: one stream between two processes, the array's bytes in 4 MiB messages: zeromq PUSH→PULL with
 *   CURVE (`curve`), our bulk channel's AES-256-GCM records over TCP (`aesGcm`), and plain zeromq with no
 *   security (`plain`, for reference). ratioVsWire divides by the faster of curve and aesGcm.
 * Peak RSS: VmHWM of the controller and engine processes over the whole run (/proc).
 *
 * `--json` ends with one line {sizes, ours, relay, ipyparallel, ipyparallelCurve, wire, ratioVsIpyparallel,
 * ratioVsIpyparallelCurve, ratioVsWire, peakRssMB, enginesLost}.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import * as zmq from 'zeromq';
import { Client, generateClusterKeys } from '../src/engines/index.js';
import { BulkServer, bulkRandom, connectBulk } from '../src/engines/protocol/bulk.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '8,64,256,1024' },
    engines: { type: 'string', default: '2' },
    reps: { type: 'string', default: '3,2,1,1' },
    'no-relay': { type: 'boolean', default: false },
    'no-ipyparallel': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    'wire-peer': { type: 'string' },
  },
});

const MB = 1e6;
const OPS = ['push', 'pull', 'scatter', 'gather'] as const;
type Op = (typeof OPS)[number];
type Rates = Record<Op, (number | null)[]>;

// ---------------------------------------------------------------- the wire peer (a child process)

if (values['wire-peer']) {
  await wirePeer(values['wire-peer']);
  process.exit(0);
}

/** Receives streams and answers each with one small message: `curve`/`plain` (zeromq PAIR) or `aes`. */
async function wirePeer(mode: string): Promise<void> {
  if (mode === 'aes') {
    const server = new BulkServer(
      (_route, channel) => (frames) => channel.send([String(frames.reduce((s, f) => s + f.byteLength, 0))]),
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

// ---------------------------------------------------------------- helpers

const root = new URL('..', import.meta.url).pathname;
const log = (line: string): void => {
  if (values.json) console.error(line);
  else console.log(line);
};
const sizesMiB = values.sizes.split(',').map(Number);
const sizes = sizesMiB.map((m) => m * 1024 * 1024);
const repsList = values.reps.split(',').map(Number);
const repsFor = (i: number): number => repsList[Math.min(i, repsList.length - 1)] ?? 1;
const ENGINES = Number(values.engines);
const round = (x: number | null, d = 1): number | null => (x === null ? null : Math.round(x * 10 ** d) / 10 ** d);
const emptyRates = (): Rates => ({ push: [], pull: [], scatter: [], gather: [] });

function spawnTs(script: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', join(root, script), ...args], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
}

async function firstJsonLine<T>(child: ChildProcess): Promise<T> {
  const rl = createInterface({ input: child.stdout! });
  for await (const line of rl) {
    if (line.trim().startsWith('{')) return JSON.parse(line) as T;
  }
  throw new Error('process ended before printing its JSON line');
}

/** Peak resident set (VmHWM) of a process, MB; undefined once it has gone. */
function peakRssMB(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

function makeArray(bytes: number): Float64Array {
  const a = new Float64Array(bytes / 8);
  for (let i = 0; i < a.length; i++) a[i] = i;
  return a;
}

/** Same length and the same values at a few places (the tests compare full checksums). */
function same(a: unknown, b: Float64Array): boolean {
  if (!(a instanceof Float64Array) || a.length !== b.length) return false;
  for (const i of [0, 1, b.length >> 1, b.length - 1]) if (a[i] !== b[i]) return false;
  return true;
}

// ---------------------------------------------------------------- wire

async function wire(): Promise<Record<'curve' | 'aesGcm' | 'plain', (number | null)[]>> {
  const out = { curve: [] as (number | null)[], aesGcm: [] as (number | null)[], plain: [] as (number | null)[] };
  const chunk = 4 << 20;
  for (const mode of ['curve', 'plain'] as const) {
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
      const payload = Buffer.alloc(chunk, 7);
      const stream = async (bytes: number): Promise<number> => {
        const t = performance.now();
        for (let sent = 0; sent < bytes; sent += chunk) await sock.send(payload);
        await sock.send('.');
        const [ack] = await sock.receive();
        if (Number(ack!.toString()) < bytes) throw new Error('wire peer got too little');
        return bytes / MB / ((performance.now() - t) / 1000);
      };
      await stream(chunk * 4);
      for (const [i, size] of sizes.entries()) {
        let best = 0;
        for (let r = 0; r < repsFor(i); r++) best = Math.max(best, await stream(size));
        out[mode].push(best);
      }
      sock.close();
    } finally {
      peer.kill();
    }
  }
  const peer = spawnTs('bench/dataplane.ts', ['--wire-peer', 'aes']);
  try {
    const cr = bulkRandom();
    peer.stdin!.write(`${cr.text}\n`);
    const offer = await firstJsonLine<{ s: string; r: string; ep: string }>(peer);
    let answered: (() => void) | undefined;
    const channel = await connectBulk(
      offer.ep,
      offer,
      cr.bytes,
      () => answered?.(),
      () => {},
    );
    const stream = async (array: Uint8Array): Promise<number> => {
      const t = performance.now();
      const done = new Promise<void>((r) => (answered = r));
      const frames: Uint8Array[] = [];
      for (let off = 0; off < array.byteLength; off += chunk) frames.push(array.subarray(off, off + chunk));
      channel.send(['{}', ...frames]);
      await done;
      return array.byteLength / MB / ((performance.now() - t) / 1000);
    };
    await stream(new Uint8Array(chunk * 4));
    for (const [i, size] of sizes.entries()) {
      const array = new Uint8Array(size).fill(7);
      let best = 0;
      for (let r = 0; r < repsFor(i); r++) best = Math.max(best, await stream(array));
      out.aesGcm.push(best);
    }
    channel.close();
  } finally {
    peer.kill();
  }
  return out;
}

// ---------------------------------------------------------------- ours

interface OursResult {
  ours: Rates;
  relay: Rates | null;
  peakRssMB: { controller?: number; engines: (number | undefined)[]; client: number };
  enginesLost: number;
}

async function ours(): Promise<OursResult> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-dataplane-'));
  const keys = await generateClusterKeys(dir);
  const children: ChildProcess[] = [];
  let lost = 0;
  try {
    const controller = spawnTs('src/engines/controller/main.ts', ['--host', '127.0.0.1', '--keys', dir]);
    children.push(controller);
    const ready = await firstJsonLine<{ clientEndpoint: string; engineEndpoint: string }>(controller);
    const engines: ChildProcess[] = [];
    for (let i = 0; i < ENGINES; i++) {
      const e = spawnTs('src/engines/engine/main.ts', ['--controller', ready.engineEndpoint, '--keys', dir]);
      children.push(e);
      engines.push(e);
    }
    const measure = async (client: Client, label: string): Promise<Rates> => {
      await client.waitForEngines(ENGINES, 60_000);
      const seen = new Set(client.ids);
      const off = client.onEngines(() => {
        for (const id of seen) {
          if (!client.ids.includes(id)) {
            seen.delete(id);
            lost++;
            log(`${label}: engine ${id} was declared dead`);
          }
        }
      });
      const dv = client.directView();
      // warm up (JIT, lanes, bulk sessions)
      const warm = makeArray(1 << 20);
      await dv.push({ w: warm });
      await dv.pull('w');
      const rates = emptyRates();
      for (const [i, size] of sizes.entries()) {
        const arr = makeArray(size);
        const best: Record<Op, number | null> = { push: 0, pull: 0, scatter: 0, gather: 0 };
        const time = async (op: Op, bytes: number, run: () => PromiseLike<unknown>): Promise<unknown> => {
          const t = performance.now();
          const value = await run();
          best[op] = Math.max(best[op] ?? 0, bytes / MB / ((performance.now() - t) / 1000));
          return value;
        };
        try {
          for (let r = 0; r < repsFor(i); r++) {
            await time('push', size * ENGINES, () => dv.push({ a: arr }));
            const parts = (await time('pull', size * ENGINES, () => dv.pull('a'))) as unknown[];
            if (!parts.every((p) => same(p, arr))) throw new Error('pull: wrong data');
            await time('scatter', size, () => dv.scatter('b', arr));
            const back = await time('gather', size, () => dv.gather('b'));
            if (!same(back, arr)) throw new Error('gather: wrong data');
          }
          await dv.execute('a = undefined; b = undefined');
        } catch (error) {
          log(`${label} ${sizesMiB[i]} MiB: failed: ${(error as Error).message}`);
          for (const op of OPS) if (best[op] === 0) best[op] = null;
        }
        for (const op of OPS) rates[op].push(best[op]);
        log(
          `${label} ${String(sizesMiB[i]).padStart(4)} MiB: ` +
            OPS.map((op) => `${op} ${best[op] === null ? 'failed' : best[op]!.toFixed(0)}`).join(' / ') +
            ' MB/s',
        );
      }
      off();
      return rates;
    };
    const client = await Client.connect({ endpoint: ready.clientEndpoint, keys });
    const oursRates = await measure(client, 'ours');
    await client.close();
    let relay: Rates | null = null;
    if (!values['no-relay']) {
      const relayClient = await Client.connect({ endpoint: ready.clientEndpoint, keys, lanes: 'off' });
      relay = await measure(relayClient, 'relay (lanes off)');
      await relayClient.close();
    }
    return {
      ours: oursRates,
      relay,
      peakRssMB: {
        controller: peakRssMB(controller.pid),
        engines: engines.map((e) => peakRssMB(e.pid)),
        client: process.resourceUsage().maxRSS / 1024,
      },
      enginesLost: lost,
    };
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- ipyparallel

function ensurePython(): string | undefined {
  const python = join(root, 'bench/python/.venv/bin/python');
  if (existsSync(python)) return python;
  log('ipyparallel: setting up bench/python/.venv (bench/python/setup.sh)…');
  const r = spawnSync('bash', [join(root, 'bench/python/setup.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  return r.status === 0 && existsSync(python) ? python : undefined;
}

async function ipyparallel(python: string, curve: boolean): Promise<Rates | null> {
  const args = [
    join(root, 'bench/python/dataplane_ipyparallel.py'),
    '--engines',
    String(ENGINES),
    '--sizes',
    sizes.join(','),
    '--reps',
    sizes.map((_, i) => repsFor(i)).join(','),
    ...(curve ? ['--curve'] : []),
  ];
  const child = spawn(python, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const r = await firstJsonLine<{ results: Record<string, Record<string, number> & { error?: string }> }>(child);
    await new Promise((resolve) => child.once('exit', resolve));
    const rates = emptyRates();
    for (const size of sizes) {
      const row = r.results[String(size)];
      for (const op of OPS) rates[op].push(row && !row.error ? (row[op] ?? null) : null);
    }
    return rates;
  } catch (error) {
    log(`ipyparallel${curve ? ' (CURVE)' : ''}: failed: ${(error as Error).message}`);
    child.kill();
    return null;
  }
}

// ---------------------------------------------------------------- run

function ratios(a: Rates, b: Rates | null, by?: (i: number) => number | null): { min: number; median: number } | null {
  const list: number[] = [];
  for (const op of OPS) {
    a[op].forEach((x, i) => {
      const y = by ? by(i) : (b?.[op][i] ?? null);
      if (x !== null && y !== null && y > 0) list.push(x / y);
    });
  }
  if (list.length === 0) return null;
  list.sort((p, q) => p - q);
  const mid = list.length >> 1;
  const median = list.length % 2 ? list[mid]! : (list[mid - 1]! + list[mid]!) / 2;
  return { min: round(list[0]!, 2)!, median: round(median, 2)! };
}

const wireRates = await wire();
for (const [i, m] of sizesMiB.entries()) {
  log(
    `wire ${String(m).padStart(4)} MiB: CURVE ${wireRates.curve[i]!.toFixed(0)} / AES-256-GCM ${wireRates.aesGcm[i]!.toFixed(0)}` +
      ` / plain ${wireRates.plain[i]!.toFixed(0)} MB/s`,
  );
}
const o = await ours();
const python = values['no-ipyparallel'] ? undefined : ensurePython();
if (!python && !values['no-ipyparallel']) log('ipyparallel: no Python peer (bench/python/setup.sh failed); skipped');
const ipp = python ? await ipyparallel(python, false) : null;
const ippCurve = python ? await ipyparallel(python, true) : null;

const fmt = (x: number | null | undefined): string => (x === null || x === undefined ? '—' : x.toFixed(0));
const rel = (x: number | null | undefined, y: number | null | undefined): string =>
  x === null || x === undefined || !y ? '' : ` (${(x / y).toFixed(2)}×)`;
log('');
log(
  'MB/s by size and operation: ours (× ipyparallel, × ipyparallel+CURVE, × wire) · relay · ipyparallel · ipyparallel+CURVE',
);
const bestWire = (i: number): number | null => Math.max(wireRates.curve[i] ?? 0, wireRates.aesGcm[i] ?? 0) || null;
for (const [i, m] of sizesMiB.entries()) {
  for (const op of OPS) {
    const x = o.ours[op][i];
    log(
      `${String(m).padStart(4)} MiB ${op.padEnd(7)} ours ${fmt(x)}${rel(x, ipp?.[op][i])}${rel(x, ippCurve?.[op][i])}${rel(x, bestWire(i))}` +
        ` · relay ${fmt(o.relay?.[op][i])} · ipyparallel ${fmt(ipp?.[op][i])} · +CURVE ${fmt(ippCurve?.[op][i])}`,
    );
  }
}
log(
  `peak RSS: controller ${fmt(o.peakRssMB.controller)} MB; engines ${o.peakRssMB.engines.map(fmt).join(', ')} MB; ` +
    `client ${fmt(o.peakRssMB.client)} MB; engines lost ${o.enginesLost}`,
);
const roundRates = (r: Rates | null): Record<Op, (number | null)[]> | null =>
  r
    ? (Object.fromEntries(OPS.map((op) => [op, r[op].map((x) => round(x, 1))])) as Record<Op, (number | null)[]>)
    : null;
if (values.json) {
  console.log(
    JSON.stringify({
      sizes,
      ours: roundRates(o.ours),
      relay: roundRates(o.relay),
      ipyparallel: roundRates(ipp),
      ipyparallelCurve: roundRates(ippCurve),
      wire: {
        curve: wireRates.curve.map((x) => round(x)),
        aesGcm: wireRates.aesGcm.map((x) => round(x)),
        plain: wireRates.plain.map((x) => round(x)),
      },
      ratioVsIpyparallel: ratios(o.ours, ipp),
      ratioVsIpyparallelCurve: ratios(o.ours, ippCurve),
      ratioVsWire: ratios(o.ours, null, bestWire),
      peakRssMB: {
        controller: round(o.peakRssMB.controller ?? null, 0),
        engines: o.peakRssMB.engines.map((x) => round(x ?? null, 0)),
        client: round(o.peakRssMB.client, 0),
      },
      enginesLost: o.enginesLost,
    }),
  );
}
process.exit(0);
