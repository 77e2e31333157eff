/**
 * Scale simulation: one controller process (src/engines/controller/main.ts, CURVE + ZAP) and N simulated
 * engines in this one process (real CURVE DEALER sockets over loopback, beating from the main thread).
 *
 *   npx tsx bench/engines-scale.ts [--engines 1000] [--heartbeat-ms 500] [--idle-s 10] [--tasks 20000] [--json]
 *
 * Prints: registration time for all N, the controller's CPU share while only heartbeats flow, the
 * controller's RSS, and a load-balanced no-op run over all engines.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import * as zmq from 'zeromq';
import { Client, generateClusterKeys, startEngine, type EngineHandle } from '../src/engines/index.js';

const { values } = parseArgs({
  options: {
    engines: { type: 'string', default: '1000' },
    'heartbeat-ms': { type: 'string', default: '500' },
    'idle-s': { type: 'string', default: '10' },
    tasks: { type: 'string', default: '20000' },
    json: { type: 'boolean', default: false },
  },
});
const N = Number(values.engines);
const HB = Number(values['heartbeat-ms']);
const IDLE_S = Number(values['idle-s']);
const TASKS = Number(values.tasks);
const root = new URL('..', import.meta.url).pathname;
const log = (s: string): void => void (values.json ? console.error(s) : console.log(s));

// libzmq's default is 1,023 sockets per context; this process holds N engines plus a client.
zmq.context.maxSockets = N + 64;

/** utime+stime of a process in ms, and its RSS in MB, from /proc. */
function procStats(pid: number): { cpuMs: number; rssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { cpuMs: (ticks * 1000) / 100, rssMb: rssKb / 1024 };
}

const dir = await mkdtemp(join(tmpdir(), 'bench-scale-'));
const keys = await generateClusterKeys(dir);
const controller = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    join(root, 'src/engines/controller/main.ts'),
    '--host',
    '127.0.0.1',
    '--keys',
    dir,
    '--heartbeat-ms',
    String(HB),
  ],
  { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
);
const engines: EngineHandle[] = [];
try {
  let ready: { clientEndpoint: string; engineEndpoint: string } | undefined;
  for await (const line of createInterface({ input: controller.stdout! })) {
    if (line.startsWith('{')) {
      ready = JSON.parse(line) as { clientEndpoint: string; engineEndpoint: string };
      break;
    }
  }
  if (!ready) throw new Error('controller did not start');
  const pid = controller.pid!;
  const client = await Client.connect({ endpoint: ready.clientEndpoint, keys });
  const base = procStats(pid);

  const t0 = performance.now();
  // start them all at once, as a big cluster's engines do
  const started = await Promise.all(
    Array.from({ length: N }, () =>
      startEngine({ controller: ready.engineEndpoint, keys, heart: 'main', registerTimeoutMs: 120_000 }),
    ),
  );
  engines.push(...started);
  await client.waitForEngines(N, 120_000);
  const registrationS = (performance.now() - t0) / 1000;
  log(`registration: ${N} engines (CURVE + ZAP) registered in ${registrationS.toFixed(2)} s`);

  const before = procStats(pid);
  await new Promise((r) => setTimeout(r, IDLE_S * 1000));
  const after = procStats(pid);
  const heartbeatCpuPercent = ((after.cpuMs - before.cpuMs) / (IDLE_S * 1000)) * 100;
  log(
    `heartbeats: ${N} engines every ${HB} ms → controller CPU ${heartbeatCpuPercent.toFixed(1)} % of one core ` +
      `over ${IDLE_S} s; still registered: ${client.ids.length}`,
  );
  log(`controller RSS: ${base.rssMb.toFixed(0)} MB idle → ${after.rssMb.toFixed(0)} MB with ${N} engines`);

  const lview = client.loadBalancedView();
  const t1 = performance.now();
  await lview.map(() => null, new Array(TASKS).fill(0));
  const taskSeconds = (performance.now() - t1) / 1000;
  const tasksPerSecond = TASKS / taskSeconds;
  log(`tasks: ${TASKS} no-op tasks over ${N} engines (engines in one process) → ${tasksPerSecond.toFixed(0)} tasks/s`);
  const final = procStats(pid);
  log(`controller RSS after tasks: ${final.rssMb.toFixed(0)} MB`);
  await client.close();
  if (values.json) {
    console.log(
      JSON.stringify({
        engines: N,
        heartbeatMs: HB,
        registrationSeconds: Math.round(registrationS * 100) / 100,
        heartbeatCpuPercent: Math.round(heartbeatCpuPercent * 10) / 10,
        controllerRssMb: Math.round(after.rssMb),
        controllerRssAfterTasksMb: Math.round(final.rssMb),
        tasksPerSecond: Math.round(tasksPerSecond),
        stillRegistered: client.ids.length,
      }),
    );
  }
} finally {
  controller.kill('SIGKILL');
  await Promise.allSettled(engines.map((e) => e.close()));
  await rm(dir, { recursive: true, force: true });
}
process.exit(0);
