/**
 * Engine runtime benchmark: no-op tasks client → controller → engine → client, CURVE on every socket,
 * controller and engines as separate processes (as on a cluster), the client in this process. Then the
 * same workload on ipyparallel (bench/python venv) in the same run.
 *
 *   npm run bench:engines -- [--engines 1] [--tasks 100000] [--latency 5000] [--no-ipyparallel] [--json]
 *
 * Figures: tasksPerSecond = N `lview.apply(noop)` submitted back to back (many outstanding) / time until
 * the last result; p50/p99 = sequential `await lview.apply(noop)` round trips with the default client
 * (a sequential task takes the engine's direct lane: client → engine → client, the controller only
 * leasing the engine); relay.p50/p99 = the same with `lanes: 'off'` (client → controller → engine →
 * controller → client); bare.p50/p99 = the wire: a one-hop CURVE request/reply between this process and
 * another (zeromq DEALER → ROUTER, CURVE + a ZAP allowlist as ours, a small JSON message each way),
 * measured in the same run, and laneOverBare / relayOverBare = our p50s over its p50 (the goals:
 * ≤ 1.5 and ≤ 2.5; absolute p50s differ several-fold between machines, the ratio does not);
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

/** Sequential round trips; the first `warm` are not counted (JIT, the lane's handshake). */
async function latency(client: Client, warm: number): Promise<Latency> {
  const lview = client.loadBalancedView();
  const noop = (): null => null;
  for (let i = 0; i < warm; i++) await lview.apply(noop);
  const lat: number[] = [];
  for (let i = 0; i < LATENCY; i++) {
    const t = performance.now();
    await lview.apply(noop);
    lat.push(performance.now() - t);
  }
  lat.sort((a, b) => a - b);
  return { p50Ms: percentile(lat, 0.5), p99Ms: percentile(lat, 0.99) };
}

async function benchOurs(): Promise<{ tasksPerSecond: number } & Latency & { relay: Latency }> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-engines-'));
  const keys = await generateClusterKeys(dir);
  const children: ChildProcess[] = [];
  try {
    const controller = spawnTs('src/engines/controller/main.ts', ['--host', '127.0.0.1', '--keys', dir]);
    children.push(controller);
    const ready = await firstJsonLine<{ clientEndpoint: string; engineEndpoint: string }>(controller);
    for (let i = 0; i < ENGINES; i++) {
      children.push(spawnTs('src/engines/engine/main.ts', ['--controller', ready.engineEndpoint, '--keys', dir]));
    }
    const client = await Client.connect({ endpoint: ready.clientEndpoint, keys });
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

    const { p50Ms, p99Ms } = await latency(client, 500);
    log(
      `ours: sequential round trip p50 ${p50Ms.toFixed(3)} ms, p99 ${p99Ms.toFixed(3)} ms (${LATENCY} tasks, direct lane)`,
    );
    await client.close();
    const relayClient = await Client.connect({ endpoint: ready.clientEndpoint, keys, lanes: 'off' });
    const relay = await latency(relayClient, 500);
    log(
      `ours: through the controller p50 ${relay.p50Ms.toFixed(3)} ms, p99 ${relay.p99Ms.toFixed(3)} ms (${LATENCY} tasks, lanes off)`,
    );
    await relayClient.close();
    return { tasksPerSecond, p50Ms, p99Ms, relay };
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
}

/** Sequential request/replies of a small JSON message on a CURVE DEALER, as ours: p50/p99. */
async function echoLatency(endpoint: string, keys: ClusterKeys): Promise<Latency> {
  const sock = new zmq.Dealer({
    linger: 0,
    ...curveClient({ ...keys.client, serverPublicKey: keys.server.publicKey }),
  });
  sock.connect(endpoint);
  const msg = JSON.stringify({ t: 'sub', k: [{ i: 1, n: 0, b: '{"k":"a","f":"() => null","a":[]}' }] });
  const once = async (): Promise<void> => {
    await sock.send(msg);
    await sock.receive();
  };
  for (let i = 0; i < 500; i++) await once();
  const lat: number[] = [];
  for (let i = 0; i < LATENCY; i++) {
    const t = performance.now();
    await once();
    lat.push(performance.now() - t);
  }
  sock.close();
  lat.sort((a, b) => a - b);
  return { p50Ms: percentile(lat, 0.5), p99Ms: percentile(lat, 0.99) };
}

function spawnPeer(args: string[], keys: ClusterKeys): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', join(root, 'bench/engines.ts'), ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ECHO_KEYS: JSON.stringify(keys) },
  });
}

/** Sequential one-hop CURVE request/reply with another process: the wire our latencies are measured against. */
async function benchBare(): Promise<Latency> {
  const keys = newClusterKeys();
  const peer = spawnPeer(['--echo-peer'], keys);
  try {
    const { endpoint } = await firstJsonLine<{ endpoint: string }>(peer);
    return await echoLatency(endpoint, keys);
  } finally {
    peer.kill();
  }
}

/**
 * The relay floor: the same echo through a bare zeromq relay process (client → relay → echo → relay →
 * client, CURVE on both hops, no logic in the relay): what a round trip through any controller costs
 * before the controller does anything.
 */
async function benchRelayFloor(): Promise<Latency> {
  const keys = newClusterKeys();
  const relay = spawnPeer(['--relay-peer'], keys);
  let echo: ChildProcess | undefined;
  try {
    const { endpoint, back } = await firstJsonLine<{ endpoint: string; back: string }>(relay);
    echo = spawnPeer(['--echo-dealer', back], keys);
    return await echoLatency(endpoint, keys);
  } finally {
    echo?.kill();
    relay.kill();
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

const bare = await benchBare();
log(
  `bare: one-hop CURVE request/reply between two processes p50 ${bare.p50Ms.toFixed(3)} ms, p99 ${bare.p99Ms.toFixed(3)} ms`,
);
const floor = await benchRelayFloor();
const floorOverBare = floor.p50Ms / bare.p50Ms;
log(
  `relay floor: the same through a bare zeromq relay process p50 ${floor.p50Ms.toFixed(3)} ms, p99 ${floor.p99Ms.toFixed(3)} ms (${floorOverBare.toFixed(2)}× bare)`,
);
const ours = await benchOurs();
const laneOverBare = ours.p50Ms / bare.p50Ms;
const relayOverBare = ours.relay.p50Ms / bare.p50Ms;
log(
  `ratio to the bare echo: lane p50 ${laneOverBare.toFixed(2)}× (goal ≤ 1.5), relay p50 ${relayOverBare.toFixed(2)}× (goal ≤ 2.5)`,
);
const ipp = values['no-ipyparallel'] ? null : await benchIpyparallel();
if (ipp) {
  log(
    `ratio: ${(ours.tasksPerSecond / ipp.tasksPerSecond).toFixed(1)}× ipyparallel's tasks/s; ` +
      `p50 ${(ipp.p50Ms / ours.p50Ms).toFixed(1)}× lower`,
  );
}
const round = (x: number, d: number): number => Math.round(x * 10 ** d) / 10 ** d;
if (values.json) {
  console.log(
    JSON.stringify({
      tasksPerSecond: round(ours.tasksPerSecond, 0),
      p50Ms: round(ours.p50Ms, 3),
      p99Ms: round(ours.p99Ms, 3),
      engines: ENGINES,
      curve: true,
      relay: { p50Ms: round(ours.relay.p50Ms, 3), p99Ms: round(ours.relay.p99Ms, 3) },
      bare: { p50Ms: round(bare.p50Ms, 3), p99Ms: round(bare.p99Ms, 3) },
      relayFloor: { p50Ms: round(floor.p50Ms, 3), p99Ms: round(floor.p99Ms, 3) },
      relayFloorOverBare: round(floorOverBare, 2),
      laneOverBare: round(laneOverBare, 2),
      relayOverBare: round(relayOverBare, 2),
      ipyparallel: ipp ? { tasksPerSecond: round(ipp.tasksPerSecond, 1), p50Ms: round(ipp.p50Ms, 3) } : null,
    }),
  );
}
process.exit(0);
