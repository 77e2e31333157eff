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
 * controller → client). `--json` ends with one line
 * {tasksPerSecond, p50Ms, p99Ms, engines, curve: true, relay: {p50Ms, p99Ms}, ipyparallel: {tasksPerSecond, p50Ms}}.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Client, generateClusterKeys } from '../src/engines/index.js';

const { values } = parseArgs({
  options: {
    engines: { type: 'string', default: '1' },
    tasks: { type: 'string', default: '100000' },
    latency: { type: 'string', default: '5000' },
    'ipp-tasks': { type: 'string', default: '3000' },
    'ipp-latency': { type: 'string', default: '500' },
    'no-ipyparallel': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const ENGINES = Number(values.engines);
const TASKS = Number(values.tasks);
const LATENCY = Number(values.latency);
const root = new URL('..', import.meta.url).pathname;
const log = (line: string): void => {
  if (!values.json) console.log(line);
  else console.error(line);
};

function spawnTs(script: string, args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', join(root, script), ...args], {
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
      ipyparallel: ipp ? { tasksPerSecond: round(ipp.tasksPerSecond, 1), p50Ms: round(ipp.p50Ms, 3) } : null,
    }),
  );
}
process.exit(0);
