/**
 * Start time of a cluster in the test fleet, for 1 node and for 4 nodes: `start` (security group,
 * instances in LocalStack, wait running, wait for SSH, node setup with SHARED_FS = sshfs; engines
 * skipped), timed per step from the progress events, then terminate. Setup runs on all nodes at
 * once, so 4 nodes should take far less than 4× one.
 *
 *   sudo npx tsx bench/start-time.ts [--runs N]
 *
 * Needs root, LocalStack (localstack/start.sh) and the fleet (started here if needed).
 * Figures are wall-clock on a shared machine: noisy; compare them within one run.
 */
import { startCluster } from '../src/cluster/start.js';
import { terminateCluster } from '../src/cluster/terminate.js';
import type { IoHost, ProgressEvent } from '../src/io-host.js';
import { fleetEnv, fleetUnavailable } from '../test/integration/fleet/fleet-env.js';

const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 1;

function timingHost(): { io: IoHost; steps: Map<string, number> } {
  const started = new Map<string, number>();
  const steps = new Map<string, number>();
  return {
    steps,
    io: {
      notify: () => undefined,
      requestConfirm: (_q, d) => Promise.resolve(d),
      progress: (e: ProgressEvent) => {
        if (e.state === 'start') started.set(e.id, performance.now());
        if (e.state === 'done' && started.has(e.id)) steps.set(e.id, performance.now() - started.get(e.id)!);
      },
    },
  };
}

async function timeStart(
  size: number,
  run: number,
): Promise<{ total: number; setup: number; steps: Map<string, number> }> {
  const env = await fleetEnv();
  const name = `bench${size}n${run}${process.pid}`;
  const { config, template } = await env.configFor(name, { CLUSTER_SIZE: String(size) });
  const { io, steps } = timingHost();
  const t0 = performance.now();
  try {
    await startCluster({ name, config, template, io, skipEngines: true });
    const total = performance.now() - t0;
    return { total, setup: steps.get('setup') ?? Number.NaN, steps };
  } finally {
    await terminateCluster({ name, config, io: timingHost().io, confirm: true }).catch((e: unknown) =>
      console.error(`terminate ${name}: ${String(e)}`),
    );
  }
}

const reason = fleetUnavailable();
if (reason) {
  console.error(`start-time: ${reason}`);
  process.exit(2);
}

const results: Record<number, { total: number[]; setup: number[] }> = {
  1: { total: [], setup: [] },
  4: { total: [], setup: [] },
};
for (let run = 0; run < runs; run++) {
  for (const size of [1, 4]) {
    const r = await timeStart(size, run);
    results[size]!.total.push(r.total);
    results[size]!.setup.push(r.setup);
    const detail = [...r.steps].map(([id, ms]) => `${id} ${(ms / 1000).toFixed(2)}s`).join(', ');
    console.log(`run ${run + 1} size ${size}: start ${(r.total / 1000).toFixed(2)} s (${detail})`);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const one = results[1]!;
const four = results[4]!;
console.log('');
console.log(
  `start time, 1 node : ${(median(one.total) / 1000).toFixed(2)} s (node setup ${(median(one.setup) / 1000).toFixed(2)} s)`,
);
console.log(
  `start time, 4 nodes: ${(median(four.total) / 1000).toFixed(2)} s (node setup ${(median(four.setup) / 1000).toFixed(2)} s)`,
);
console.log(
  `4 nodes / 1 node: start ${(median(four.total) / median(one.total)).toFixed(2)}x, node setup ${(median(four.setup) / median(one.setup)).toFixed(2)}x (${runs} run${runs === 1 ? '' : 's'}, medians)`,
);
process.exit(0);
