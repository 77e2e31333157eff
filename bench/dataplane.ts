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
 * wire (bench/dataplane-wire.ts): bare streams from this process to one peer process per engine, in the
 *   shape of each operation (push to every peer at once, pull from every peer at once, a share each for
 *   scatter and gather), 4 MiB messages: zeromq PAIR with CURVE (`curve`), our bulk channel alone
 *   (`aesGcm`: the same AES-256-GCM records over TCP ours uses, nothing else of ours), and plain zeromq with
 *   no security (`plain`, for reference). ratioVsWire divides ours by the faster of curve and aesGcm in the
 *   same cell; wireVsIpyparallel divides that secure wire by ipyparallel: what any transfer with ours'
 *   security could reach here, against the peer (where it is under 2, so is every implementation's).
 * limits: what one core does, in CPU time: AES-256-GCM encrypt/decrypt (node:crypto), a copy into fresh
 *   memory (page faults: each received array lands in fresh memory) and into warm memory; and the floor
 *   they set: CPU per encrypted byte moved (encrypt + decrypt + fresh copy), the MB/s all cores could give.
 * CPU: ours' CPU time (client, controller, engines, all threads) per byte moved in the best run, and the
 *   MB/s this machine's cores could give at that cost if nothing else ran: the figure to compare on a busy
 *   machine, where wall-clock MB/s depend on everyone else's load.
 * Peak RSS: VmHWM of the controller and engine processes over the whole run (/proc).
 *
 * `--json` ends with one line {sizes, ours, relay, ipyparallel, ipyparallelCurve, wire, ratioVsIpyparallel,
 * ratioVsIpyparallelCurve, ratioVsWire, wireVsIpyparallel, cpuNsPerByte, limits, peakRssMB, enginesLost}.
 *
 * DATAPLANE_CPU_PROF=dir writes a V8 CPU profile of every child process there.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, generateClusterKeys } from '../src/engines/index.js';
import { cpuNs, firstJsonLine, limits, OPS, spawnTs, wire, wirePeer, type Op } from './dataplane-wire.js';

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
type Rates = Record<Op, (number | null)[]>;

// ---------------------------------------------------------------- the wire peer (a child process)

if (values['wire-peer']) {
  await wirePeer(values['wire-peer']);
  process.exit(0);
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

// ---------------------------------------------------------------- ours

interface OursResult {
  ours: Rates;
  relay: Rates | null;
  /** CPU time of all our processes (client, controller, engines) per byte moved, ns/B (lanes on). */
  cpuNsPerByte: Rates;
  peakRssMB: { controller?: number; engines: (number | undefined)[]; client: number };
  enginesLost: number;
}

interface Measured {
  rates: Rates;
  cpu: Rates;
  lost: number;
}

/** Push, pull, scatter and gather of each size on `client`'s engines: best MB/s, and CPU ns per byte of that run. */
async function measure(client: Client, label: string, pids: number[]): Promise<Measured> {
  await client.waitForEngines(ENGINES, 60_000);
  let lost = 0;
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
  const cpu = emptyRates();
  const cpuNow = (): number => pids.reduce((s, pid) => s + cpuNs(pid), 0);
  for (const [i, size] of sizes.entries()) {
    const arr = makeArray(size);
    const best: Record<Op, number | null> = { push: 0, pull: 0, scatter: 0, gather: 0 };
    const cost: Record<Op, number | null> = { push: null, pull: null, scatter: null, gather: null };
    const time = async (op: Op, bytes: number, run: () => PromiseLike<unknown>): Promise<unknown> => {
      const [c, t] = [cpuNow(), performance.now()];
      const value = await run();
      const rate = bytes / MB / ((performance.now() - t) / 1000);
      if (rate > (best[op] ?? 0)) [best[op], cost[op]] = [rate, (cpuNow() - c) / bytes];
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
    for (const op of OPS) cpu[op].push(cost[op]);
    log(
      `${label} ${String(sizesMiB[i]).padStart(4)} MiB: ` +
        OPS.map((op) => `${op} ${best[op] === null ? 'failed' : best[op]!.toFixed(0)}`).join(' / ') +
        ' MB/s; CPU ' +
        OPS.map((op) => (cost[op] === null ? '—' : cost[op]!.toFixed(2))).join(' / ') +
        ' ns/B',
    );
  }
  off();
  return { rates, cpu, lost };
}

async function ours(): Promise<OursResult> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-dataplane-'));
  const keys = await generateClusterKeys(dir);
  const children: ChildProcess[] = [];
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
    const pids = [process.pid, ...children.map((c) => c.pid ?? 0)];
    const client = await Client.connect({ endpoint: ready.clientEndpoint, keys });
    const lanes = await measure(client, 'ours', pids);
    await client.close();
    let relay: Measured | null = null;
    if (!values['no-relay']) {
      const relayClient = await Client.connect({ endpoint: ready.clientEndpoint, keys, lanes: 'off' });
      relay = await measure(relayClient, 'relay (lanes off)', pids);
      await relayClient.close();
    }
    return {
      ours: lanes.rates,
      relay: relay?.rates ?? null,
      cpuNsPerByte: lanes.cpu,
      peakRssMB: {
        controller: peakRssMB(controller.pid),
        engines: engines.map((e) => peakRssMB(e.pid)),
        client: process.resourceUsage().maxRSS / 1024,
      },
      enginesLost: lanes.lost + (relay?.lost ?? 0),
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

function ratios(a: Rates, b: Rates | null): { min: number; median: number } | null {
  const list: number[] = [];
  for (const op of OPS) {
    a[op].forEach((x, i) => {
      const y = b?.[op][i] ?? null;
      if (x !== null && y !== null && y > 0) list.push(x / y);
    });
  }
  if (list.length === 0) return null;
  list.sort((p, q) => p - q);
  const mid = list.length >> 1;
  const median = list.length % 2 ? list[mid]! : (list[mid - 1]! + list[mid]!) / 2;
  return { min: round(list[0]!, 2)!, median: round(median, 2)! };
}

const machine = { cores: availableParallelism(), ...limits() };
log(
  `limits, one core in CPU time: AES-256-GCM (node:crypto, 256 KiB records) encrypt ${machine.encrypt.toFixed(0)} / ` +
    `decrypt ${machine.decrypt.toFixed(0)} MB/s; copy into fresh memory ${machine.copyFresh.toFixed(0)} / warm ` +
    `${machine.copyWarm.toFixed(0)} MB/s; ${machine.cores} cores`,
);
// Every byte moved is encrypted once, decrypted once and lands in fresh memory once (TCP's own copies aside):
// the least CPU any encrypted transfer of ours can cost. An unencrypted one (ipyparallel's default) pays only the last.
const floorNs = 1000 / machine.encrypt + 1000 / machine.decrypt + 1000 / machine.copyFresh;
log(
  `floor: an encrypted byte moved costs at least ${floorNs.toFixed(2)} ns of CPU (encrypt + decrypt + fresh copy): ` +
    `≤ ${((machine.cores * 1000) / floorNs).toFixed(0)} MB/s on ${machine.cores} cores; an unencrypted one ` +
    `${(1000 / machine.copyFresh).toFixed(2)} ns (≤ ${(machine.cores * machine.copyFresh).toFixed(0)} MB/s)`,
);
const wireRates = await wire(sizes, repsFor, ENGINES);
for (const [i, m] of sizesMiB.entries()) {
  const line = (mode: keyof typeof wireRates): string =>
    OPS.map((op) => wireRates[mode][op][i]!.toFixed(0)).join(' / ');
  log(
    `wire ${String(m).padStart(4)} MiB (push / pull / scatter / gather, ${ENGINES} streams): CURVE ${line('curve')}` +
      ` · AES-256-GCM ${line('aesGcm')} · plain ${line('plain')} MB/s`,
  );
}
/** The faster secure wire (CURVE or our bulk channel alone), cell by cell. */
const secureWire = Object.fromEntries(
  OPS.map((op) => [op, wireRates.curve[op].map((c, i) => Math.max(c, wireRates.aesGcm[op][i]!))]),
) as Rates;
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
for (const [i, m] of sizesMiB.entries()) {
  for (const op of OPS) {
    const x = o.ours[op][i];
    log(
      `${String(m).padStart(4)} MiB ${op.padEnd(7)} ours ${fmt(x)}${rel(x, ipp?.[op][i])}${rel(x, ippCurve?.[op][i])}${rel(x, secureWire[op][i])}` +
        ` · relay ${fmt(o.relay?.[op][i])} · ipyparallel ${fmt(ipp?.[op][i])} · +CURVE ${fmt(ippCurve?.[op][i])}`,
    );
  }
}
const mm = (r: { min: number; median: number } | null): string => (r ? `min ${r.min}, median ${r.median}` : '—');
log(
  `ours over ipyparallel ${mm(ratios(o.ours, ipp))}; over ipyparallel+CURVE ${mm(ratios(o.ours, ippCurve))}; ` +
    `over the secure wire ${mm(ratios(o.ours, secureWire))}`,
);
if (ipp) {
  const out = OPS.flatMap((op) =>
    sizesMiB.flatMap((m, i) => {
      const need = 2 * (ipp[op][i] ?? 0);
      return need > secureWire[op][i]!
        ? [`${m} MiB ${op} (needs ${need.toFixed(0)}, wire ${secureWire[op][i]!.toFixed(0)})`]
        : [];
    }),
  );
  log(
    `the secure wire over ipyparallel ${mm(ratios(secureWire, ipp))}: 2× ipyparallel is above the bare secure wire in ` +
      `${out.length} of ${OPS.length * sizes.length} cells${out.length ? `: ${out.join(', ')}` : ''}`,
  );
}
log('');
log(
  `ours' CPU (client + controller + engines, all threads) per byte moved, and the MB/s ${machine.cores} cores could give at that cost:`,
);
for (const [i, m] of sizesMiB.entries()) {
  const cost = (op: Op): string => {
    const ns = o.cpuNsPerByte[op][i];
    return ns ? `${op} ${ns.toFixed(2)} ns/B (≤ ${((machine.cores * 1000) / ns).toFixed(0)} MB/s)` : `${op} —`;
  };
  log(`${String(m).padStart(4)} MiB ${OPS.map(cost).join(' · ')}`);
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
        curve: roundRates(wireRates.curve),
        aesGcm: roundRates(wireRates.aesGcm),
        plain: roundRates(wireRates.plain),
      },
      ratioVsIpyparallel: ratios(o.ours, ipp),
      ratioVsIpyparallelCurve: ratios(o.ours, ippCurve),
      ratioVsWire: ratios(o.ours, secureWire),
      wireVsIpyparallel: ratios(secureWire, ipp),
      cpuNsPerByte: Object.fromEntries(OPS.map((op) => [op, o.cpuNsPerByte[op].map((x) => round(x, 2))])),
      limits: {
        ...Object.fromEntries(Object.entries(machine).map(([k, v]) => [k, round(v, 0)])),
        floorNsPerByte: round(floorNs, 2),
      },
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
