/**
 * Engine runtime benchmark: no-op tasks client → controller → engine → client, CURVE on every socket,
 * controller and engines as separate processes (as on a cluster), the client in this process. Then the
 * same workload on ipyparallel (bench/python venv) in the same run.
 *
 *   npm run bench:engines -- [--engines 1] [--tasks 100000] [--latency 5000] [--rounds 10] [--no-ipyparallel] [--json]
 *
 * Figures: tasksPerSecond = N `lview.apply(noop)` submitted back to back (many outstanding) / time until
 * the last result; p50/p99 = sequential `await lview.apply(noop)` round trips with the default client
 * (a sequential task takes the engine's direct lane: client → engine → client, the controller only
 * leasing the engine); relay.p50/p99 = the same with `lanes: 'off'` (client → controller → engine →
 * controller → client); bare.p50/p99 = the wire: a one-hop CURVE request/reply between this process and
 * another (zeromq DEALER → ROUTER, CURVE + a ZAP allowlist as ours, a small JSON message each way),
 * measured in the same run, and laneOverBare / relayOverBare = our p50s over its p50 (the goals:
 * ≤ 1.5 and ≤ 2.5; absolute p50s differ several-fold between machines, the ratio does not). The
 * sequential kinds (lane, relay, bare, relay floor) are measured interleaved, in rounds of each in
 * turn, so that the machine's drift during the run moves them alike;
 * relayFloor = the same echo through a bare zeromq relay process with no logic (client → relay → echo →
 * relay → client), what any controller's round trip costs before it does anything.
 * `--json` ends with one line {tasksPerSecond, p50Ms, p99Ms, engines, curve: true, relay: {p50Ms, p99Ms},
 * bare: {p50Ms, p99Ms}, relayFloor: {p50Ms, p99Ms}, relayFloorOverBare, laneOverBare, relayOverBare,
 * ipyparallel: {tasksPerSecond, p50Ms}}.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import * as zmq from 'zeromq';
import type { ClusterKeys } from '../src/engines/index.js';
import { Client, generateClusterKeys, newClusterKeys } from '../src/engines/index.js';
import { curveClient, curveServer, ZapHandler } from '../src/engines/protocol/sockets.js';

const { values } = parseArgs({
  options: {
    engines: { type: 'string', default: '1' },
    tasks: { type: 'string', default: '100000' },
    latency: { type: 'string', default: '5000' },
    rounds: { type: 'string', default: '10' },
    'ipp-tasks': { type: 'string', default: '3000' },
    'ipp-latency': { type: 'string', default: '500' },
    'no-ipyparallel': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    'echo-peer': { type: 'boolean', default: false },
    'relay-peer': { type: 'boolean', default: false },
    'echo-dealer': { type: 'string' },
  },
});

/** The bare echo's server side (a child process): a CURVE ROUTER with a ZAP allowlist, echoing each message. */
if (values['echo-peer']) {
  const keys = JSON.parse(process.env.ECHO_KEYS ?? '{}') as ClusterKeys;
  const context = new zmq.Context();
  new ZapHandler(context, { echo: [keys.client.publicKey] });
  const sock = new zmq.Router({ context, linger: 0, ...curveServer(keys.server.secretKey, 'echo') });
  await sock.bind('tcp://127.0.0.1:*');
  console.log(JSON.stringify({ endpoint: sock.lastEndpoint }));
  for await (const [route, frame] of sock) await sock.send([route!, frame!]);
}

/**
 * The relay floor's middle (a child process): a bare zeromq relay with no logic, as the controller sits
 * between client and engine: a CURVE ROUTER for the client, one for the echoing engine stand-in.
 */
if (values['relay-peer']) {
  const keys = JSON.parse(process.env.ECHO_KEYS ?? '{}') as ClusterKeys;
  const context = new zmq.Context();
  new ZapHandler(context, { client: [keys.client.publicKey], engine: [keys.engine.publicKey] });
  const front = new zmq.Router({ context, linger: 0, ...curveServer(keys.server.secretKey, 'client') });
  const back = new zmq.Router({ context, linger: 0, ...curveServer(keys.server.secretKey, 'engine') });
  await front.bind('tcp://127.0.0.1:*');
  await back.bind('tcp://127.0.0.1:*');
  console.log(JSON.stringify({ endpoint: front.lastEndpoint, back: back.lastEndpoint }));
  const [echo] = await back.receive(); // its hello
  let client: Buffer | undefined;
  void (async () => {
    for await (const [, frame] of back) if (client) await front.send([client, frame!]);
  })();
  for await (const [route, frame] of front) {
    client = route;
    await back.send([echo!, frame!]);
  }
}

/** The relay floor's engine stand-in (a child process): a CURVE DEALER echoing what the relay sends it. */
if (values['echo-dealer']) {
  const keys = JSON.parse(process.env.ECHO_KEYS ?? '{}') as ClusterKeys;
  const sock = new zmq.Dealer({
    linger: 0,
    ...curveClient({ ...keys.engine, serverPublicKey: keys.server.publicKey }),
  });
  sock.connect(values['echo-dealer']);
  await sock.send('hello');
  for await (const [frame] of sock) await sock.send(frame!);
}
const ENGINES = Number(values.engines);
const TASKS = Number(values.tasks);
const LATENCY = Number(values.latency);
const root = new URL('..', import.meta.url).pathname;
const log = (line: string): void => {
  if (!values.json) console.log(line);
  else console.error(line);
};

/** Extra node flags for the controller and engines, e.g. BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/p'. */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);

function spawnTs(script: string, args: string[]): ChildProcess {
  return spawn(process.execPath, [...NODE_ARGS, '--import', 'tsx', join(root, script), ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

async function firstJsonLine<T>(child: ChildProcess): Promise<T> {
  const rl = createInterface({ input: child.stdout! });
  for await (const line of rl) {
    if (line.trim().startsWith('{')) return JSON.parse(line) as T;
  }
  throw new Error('process ended before printing its JSON line');
}

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

interface Latency {
  p50Ms: number;
  p99Ms: number;
}

/** One kind of sequential round trip (ours on the lane, ours through the controller, the bare echo…). */
interface Trip {
  once: () => PromiseLike<unknown>;
  close: () => Promise<unknown>;
}

/** Rounds the latency samples are taken in, each kind in turn (see interleaved). */
const ROUNDS = Number(values.rounds);

/**
 * Sequential round trips of every kind, interleaved: after `warm` uncounted trips each (JIT, the lane's
 * handshake), ROUNDS rounds of LATENCY / ROUNDS trips of each kind in turn, so that a machine that
 * gets busier or quieter during the run moves every kind alike and the ratios stay fair.
 */
async function interleaved(trips: Trip[], warm: number): Promise<Latency[]> {
  for (const trip of trips) for (let i = 0; i < warm; i++) await trip.once();
  const samples = trips.map((): number[] => []);
  const per = Math.ceil(LATENCY / ROUNDS);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, trip] of trips.entries()) {
      for (let i = 0; i < per; i++) {
        const t = performance.now();
        await trip.once();
        samples[k]!.push(performance.now() - t);
      }
    }
  }
  return samples.map((lat) => {
    lat.sort((a, b) => a - b);
    return { p50Ms: percentile(lat, 0.5), p99Ms: percentile(lat, 0.99) };
  });
}

/**
 * Our cluster (a controller and ENGINES engine processes): tasks/s pipelined, then the round trips to
 * measure: `lane` (the default client: sequential tasks take the engine's direct lane) and `relay`
 * (a client with lanes off: through the controller). `close` ends it all.
 */
async function benchOurs(): Promise<{ tasksPerSecond: number; lane: Trip; relay: Trip; close: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-engines-'));
  const keys = await generateClusterKeys(dir);
  const children: ChildProcess[] = [];
  const clients: Client[] = [];
  const close = async (): Promise<void> => {
    for (const c of clients) await c.close();
    for (const c of children) c.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const controller = spawnTs('src/engines/controller/main.ts', ['--host', '127.0.0.1', '--keys', dir]);
    children.push(controller);
    const ready = await firstJsonLine<{ clientEndpoint: string; engineEndpoint: string }>(controller);
    for (let i = 0; i < ENGINES; i++) {
      children.push(spawnTs('src/engines/engine/main.ts', ['--controller', ready.engineEndpoint, '--keys', dir]));
    }
    const client = await Client.connect({ endpoint: ready.clientEndpoint, keys });
    clients.push(client);
    await client.waitForEngines(ENGINES, 60_000);
    const lview = client.loadBalancedView();
    const noop = (): null => null;
    // warm up (JIT, the engines' function cache, the auto hwm)
    for (let i = 0; i < 500; i++) await lview.apply(noop);
    await Promise.all(Array.from({ length: 5000 }, () => lview.apply(noop)));

    const t0 = performance.now();
    const results = new Array<PromiseLike<null>>(TASKS);
    for (let i = 0; i < TASKS; i++) results[i] = lview.apply(noop);
    await Promise.all(results);
    const seconds = (performance.now() - t0) / 1000;
    const tasksPerSecond = TASKS / seconds;
    log(`ours: ${TASKS} no-op tasks pipelined in ${seconds.toFixed(2)} s → ${tasksPerSecond.toFixed(0)} tasks/s`);

    const relayClient = await Client.connect({ endpoint: ready.clientEndpoint, keys, lanes: 'off' });
    clients.push(relayClient);
    const rview = relayClient.loadBalancedView();
    const lane: Trip = { once: () => lview.apply(noop), close: async () => {} };
    const relay: Trip = { once: () => rview.apply(noop), close: async () => {} };
    return { tasksPerSecond, lane, relay, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Request/replies of a small JSON message on a CURVE DEALER, as ours. */
function echoTrip(endpoint: string, keys: ClusterKeys, peers: ChildProcess[]): Trip {
  const sock = new zmq.Dealer({
    linger: 0,
    ...curveClient({ ...keys.client, serverPublicKey: keys.server.publicKey }),
  });
  sock.connect(endpoint);
  const msg = JSON.stringify({ t: 'sub', k: [{ i: 1, n: 0, b: '{"k":"a","f":"() => null","a":[]}' }] });
  return {
    once: async () => {
      await sock.send(msg);
      return sock.receive();
    },
    close: async () => {
      sock.close();
      for (const p of peers) p.kill();
    },
  };
}

function spawnPeer(args: string[], keys: ClusterKeys): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', join(root, 'bench/engines.ts'), ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ECHO_KEYS: JSON.stringify(keys) },
  });
}

/** One-hop CURVE request/reply with another process: the wire our latencies are measured against. */
async function bareTrip(): Promise<Trip> {
  const keys = newClusterKeys();
  const peer = spawnPeer(['--echo-peer'], keys);
  try {
    const { endpoint } = await firstJsonLine<{ endpoint: string }>(peer);
    return echoTrip(endpoint, keys, [peer]);
  } catch (error) {
    peer.kill();
    throw error;
  }
}

/**
 * The relay floor: the same echo through a bare zeromq relay process (client → relay → echo → relay →
 * client, CURVE on both hops, no logic in the relay): what a round trip through any controller costs
 * before the controller does anything.
 */
async function relayFloorTrip(): Promise<Trip> {
  const keys = newClusterKeys();
  const relay = spawnPeer(['--relay-peer'], keys);
  const peers = [relay];
  try {
    const { endpoint, back } = await firstJsonLine<{ endpoint: string; back: string }>(relay);
    peers.push(spawnPeer(['--echo-dealer', back], keys));
    return echoTrip(endpoint, keys, peers);
  } catch (error) {
    for (const p of peers) p.kill();
    throw error;
  }
}

async function benchIpyparallel(): Promise<{ tasksPerSecond: number; p50Ms: number } | null> {
  const python = join(root, 'bench/python/.venv/bin/python');
  if (!existsSync(python)) {
    log('ipyparallel: bench/python/.venv missing (run bench/python/setup.sh); skipped');
    return null;
  }
  const child = spawn(
    python,
    [
      join(root, 'bench/python/engines_ipyparallel.py'),
      '--engines',
      String(ENGINES),
      '--tasks',
      String(values['ipp-tasks']),
      '--latency',
      String(values['ipp-latency']),
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const result = await firstJsonLine<{ tasksPerSecond: number; p50Ms: number; p99Ms: number }>(child);
  await new Promise((r) => child.once('exit', r));
  log(
    `ipyparallel: ${result.tasksPerSecond.toFixed(0)} tasks/s, apply_sync p50 ${result.p50Ms.toFixed(3)} ms, p99 ${result.p99Ms.toFixed(3)} ms`,
  );
  return { tasksPerSecond: result.tasksPerSecond, p50Ms: result.p50Ms };
}

const ours = await benchOurs();
const bareT = await bareTrip();
const floorT = await relayFloorTrip();
const [lane, relay, bare, floor] = await interleaved([ours.lane, ours.relay, bareT, floorT], 500);
await Promise.all([ours.close(), bareT.close(), floorT.close()]);
const show = (l: Latency): string => `p50 ${l.p50Ms.toFixed(3)} ms, p99 ${l.p99Ms.toFixed(3)} ms`;
log(`sequential round trips, ${LATENCY} of each kind, interleaved in ${ROUNDS} rounds:`);
log(`bare: one-hop CURVE request/reply between two processes ${show(bare!)}`);
const floorOverBare = floor!.p50Ms / bare!.p50Ms;
log(`relay floor: the same through a bare zeromq relay process ${show(floor!)} (${floorOverBare.toFixed(2)}× bare)`);
log(`ours: direct lane ${show(lane!)}`);
log(`ours: through the controller (lanes off) ${show(relay!)}`);
const laneOverBare = lane!.p50Ms / bare!.p50Ms;
const relayOverBare = relay!.p50Ms / bare!.p50Ms;
log(
  `ratio to the bare echo: lane p50 ${laneOverBare.toFixed(2)}× (goal ≤ 1.5), relay p50 ${relayOverBare.toFixed(2)}× (goal ≤ 2.5)`,
);
const ipp = values['no-ipyparallel'] ? null : await benchIpyparallel();
if (ipp) {
  log(
    `ratio: ${(ours.tasksPerSecond / ipp.tasksPerSecond).toFixed(1)}× ipyparallel's tasks/s; ` +
      `p50 ${(ipp.p50Ms / lane!.p50Ms).toFixed(1)}× lower`,
  );
}
const round = (x: number, d: number): number => Math.round(x * 10 ** d) / 10 ** d;
if (values.json) {
  console.log(
    JSON.stringify({
      tasksPerSecond: round(ours.tasksPerSecond, 0),
      p50Ms: round(lane!.p50Ms, 3),
      p99Ms: round(lane!.p99Ms, 3),
      engines: ENGINES,
      curve: true,
      relay: { p50Ms: round(relay!.p50Ms, 3), p99Ms: round(relay!.p99Ms, 3) },
      bare: { p50Ms: round(bare!.p50Ms, 3), p99Ms: round(bare!.p99Ms, 3) },
      relayFloor: { p50Ms: round(floor!.p50Ms, 3), p99Ms: round(floor!.p99Ms, 3) },
      relayFloorOverBare: round(floorOverBare, 2),
      laneOverBare: round(laneOverBare, 2),
      relayOverBare: round(relayOverBare, 2),
      ipyparallel: ipp ? { tasksPerSecond: round(ipp.tasksPerSecond, 1), p50Ms: round(ipp.p50Ms, 3) } : null,
    }),
  );
}
process.exit(0);
