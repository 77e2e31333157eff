/**
 * Start time of a cluster in the test fleet, for 1 node and for 4 nodes, timed per step from the
 * progress events, then terminate. Setup runs on all nodes at once, so 4 nodes should take far
 * less than 4× one.
 *
 *   sudo npx tsx bench/start-time.ts [--runs N]                 # the fleet's fast image; engines skipped
 *   sudo npx tsx bench/start-time.ts --image debian-12 [--runs N]
 *
 * With --image (a stock image: nothing of ours on it) `start` is the whole thing a user waits for:
 * SSH, packages (sshfs) through the fleet's caching proxy, node setup, Node.js brought to every
 * node, engines registered. Each size runs twice: cold — the proxy's cache holds none of the
 * packages setup installs nor the package lists (their files are removed from its cache first) —
 * and warm, right after, with everything cached. The proxy's counts are printed too; they are the
 * machine's (every fleet on it shares the one proxy), so they include other users' downloads.
 * A 1-node cluster installs nothing (sshfs is for the nodes that mount the master's /home).
 *
 * Needs root, LocalStack (localstack/start.sh) and the fleet (started here if needed).
 * Figures are wall-clock on a shared machine: noisy; compare them within one run.
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startCluster } from '../src/cluster/start.js';
import { terminateCluster } from '../src/cluster/terminate.js';
import type { IoHost, ProgressEvent } from '../src/io-host.js';
import { fleetEnv, fleetUnavailable, ROOT } from '../test/integration/fleet/fleet-env.js';

const exec = promisify(execFile);
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const runs = Number(arg('--runs') ?? 1);
const image = arg('--image');

interface ProxyStats {
  fetched: number;
  served: number;
  fetchedDebs: number;
  servedDebs: number;
}

async function proxyStats(): Promise<ProxyStats> {
  const { stdout } = await exec(join(ROOT, 'localstack', 'fleet'), ['proxy-stats'], { env: process.env });
  return JSON.parse(stdout) as ProxyStats;
}

/**
 * Makes the proxy cold for what setup installs: removes the package lists and the .debs of sshfs
 * and what it pulls in on the stock image (fuse3, glib) from apt-cacher-ng's cache. Other files
 * (the image build's packages) stay: nothing setup asks for is among them.
 */
async function coolProxy(): Promise<void> {
  const { stdout } = await exec(join(ROOT, 'localstack', 'fleet'), ['info'], { env: process.env });
  const cache = /^image_cache=(.*)$/m.exec(stdout)?.[1]?.replace(/\/images\/?$/, '') ?? '/var/cache/starcluster-fleet';
  const acng = join(cache, 'apt-cacher-ng');
  for (const repo of ['debrep', 'secdeb']) await rm(join(acng, repo, 'dists'), { recursive: true, force: true });
  const pool = join(acng, 'debrep', 'pool', 'main');
  for (const source of ['s/sshfs', 'f/fuse3', 'g/glib2.0', 'libf/libffi', 'libp/libpcre2']) {
    await rm(join(pool, source), { recursive: true, force: true });
  }
}

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

interface Timed {
  total: number;
  setup: number;
  steps: Map<string, number>;
  debsFetched: number;
  debsServed: number;
}

async function timeStart(size: number, label: string): Promise<Timed> {
  const env = await fleetEnv();
  const name = `bench${size}n${label}${process.pid}`;
  const extra: Record<string, string> = { CLUSTER_SIZE: String(size) };
  if (image) extra.NODE_IMAGE_ID = image;
  const { config, template } = await env.configFor(name, extra);
  const { io, steps } = timingHost();
  const before = await proxyStats();
  const t0 = performance.now();
  try {
    // A stock image is not a working node until its engines run (Node.js is brought then).
    await startCluster({ name, config, template, io, skipEngines: !image });
    const total = performance.now() - t0;
    const after = await proxyStats();
    return {
      total,
      setup: steps.get('setup') ?? Number.NaN,
      steps,
      debsFetched: after.fetchedDebs - before.fetchedDebs,
      debsServed: after.servedDebs - before.servedDebs,
    };
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
if (image) await exec(join(ROOT, 'localstack', 'fleet'), ['build-images'], { env: process.env, timeout: 900_000 });

const kinds = image ? ['cold', 'warm'] : ['fast image'];
const results = new Map<string, Timed[]>();
const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
for (let run = 0; run < runs; run++) {
  for (const size of [1, 4]) {
    for (const kind of kinds) {
      if (kind === 'cold') await coolProxy();
      const r = await timeStart(size, `${kind[0]}${run}`);
      const key = `${size}|${kind}`;
      results.set(key, [...(results.get(key) ?? []), r]);
      const detail = [...r.steps].map(([id, ms]) => `${id} ${s(ms)}`).join(', ');
      const proxy = image
        ? `; proxy (machine-wide, other fleets included): ${r.debsFetched} .deb fetched upstream, ${r.debsServed} served`
        : '';
      console.log(`run ${run + 1} size ${size} ${kind}: start ${s(r.total)} (${detail})${proxy}`);
    }
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log('');
console.log(
  `image: ${image ?? 'the fleet fast image (engines skipped)'}; ${runs} run${runs === 1 ? '' : 's'}, medians`,
);
for (const kind of kinds) {
  for (const size of [1, 4]) {
    const rs = results.get(`${size}|${kind}`)!;
    console.log(
      `start time, ${size} node${size === 1 ? ' ' : 's'}, ${kind}: ${s(median(rs.map((r) => r.total)))} (node setup ${s(median(rs.map((r) => r.setup)))}, engines ${s(median(rs.map((r) => r.steps.get('engines') ?? 0)))})`,
    );
  }
  const one = results.get(`1|${kind}`)!;
  const four = results.get(`4|${kind}`)!;
  console.log(
    `4 nodes / 1 node, ${kind}: start ${(median(four.map((r) => r.total)) / median(one.map((r) => r.total))).toFixed(2)}x`,
  );
}
process.exit(0);
