import type * as ChildProcessModule from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster } from '../../../src/cluster/start.js';
import { terminateCluster } from '../../../src/cluster/terminate.js';
import type { StarclusterConfig } from '../../../src/config/types.js';
import { connectToCluster, readEngineState, type EngineState } from '../../../src/deploy/index.js';
import { StarclusterError } from '../../../src/errors.js';
import { runJob } from '../../../src/jobs/index.js';
import { clusterStateDir } from '../../../src/paths.js';
import { readPrivateKey, SshPool } from '../../../src/remote/index.js';
import type { RemoteHost } from '../../../src/remote/types.js';
import type { PiSummary } from '../../../src/science/pi-stats.js';
import { runCli } from '../../_helpers/cli.js';
import { RecordingIoHost } from '../../_helpers/recording-io-host.js';
import { fleetEnv, fleetUnavailable, ROOT, type FleetEnv } from './fleet-env.js';

/**
 * `run --pipeline -c NAME` on a 2-node fleet cluster (master + node001, 2 engine slots each): the
 * distributor and collector stay on this machine's 127.0.0.1, every node reaches them through SSH
 * reverse tunnels on its own loopback, and 4 workers run the pi job. Real LocalStack, real fleet
 * hosts (network namespaces with their own sshd), real processes and CURVE sockets.
 */
const skip = fleetUnavailable();
const NAME = `pp${process.pid}`;
const PI = join(ROOT, 'jobs/pi.ts');
// Deterministic per (samples, seed, tasks): the exact inside count cannot depend on where tasks ran.
const PARAMS = { samples: '40000000', seed: '11', tasks: '12' };

describe.skipIf(skip)(`pipeline mode across a 2-node fleet cluster${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let env: FleetEnv;
  let config: StarclusterConfig;
  let state: EngineState;
  let pool: SshPool | undefined;
  const io = new RecordingIoHost();

  function nodes(): { alias: string; host: RemoteHost }[] {
    return Object.entries(state.addresses ?? {}).map(([alias, address]) => ({
      alias,
      host: pool!.host({ alias, address, user: 'root' }),
    }));
  }

  /** Pipeline worker processes on each node (none when the run is over). */
  async function workersLeft(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const { alias, host } of nodes()) {
      const r = await host.exec("pgrep -af -- '[p]ipeline-worker.mjs' || true");
      out[alias] = r.stdout.trim();
    }
    return out;
  }

  beforeAll(async () => {
    env = await fleetEnv();
    let template;
    ({ config, template } = await env.configFor(NAME, { CLUSTER_SIZE: '2', ENGINES_PER_NODE: '2' }));
    await startCluster({ name: NAME, config, template, io });
    state = (await readEngineState(clusterStateDir(NAME)))!;
    pool = new SshPool({
      privateKey: await readPrivateKey(state.ssh!.keyPath),
      knownHostsFile: state.ssh!.knownHosts,
    });
  }, 600_000);

  afterAll(async () => {
    pool?.close();
    if (env) await terminateCluster({ name: NAME, config, io, confirm: true }).catch(() => undefined);
  }, 300_000);

  it('runs pi through workers on both nodes: the exact count of a local run, and no worker left', async () => {
    expect(state).toMatchObject({ provider: 'ec2', engines: { master: 2, node001: 2 } });
    expect(Object.keys(state.addresses ?? {}).sort()).toEqual(['master', 'node001']);
    // The fast image has Node 20+: the runtime uses it, and no Node.js was brought (nothing uploaded).
    expect(state.node).toEqual({ master: 'node', node001: 'node' });
    expect(io.events.some((e) => e.id === 'engines-node')).toBe(false);
    for (const { alias, host } of nodes()) {
      const ours = await host.exec('ls /opt/starcluster/node 2>/dev/null | wc -l');
      expect(ours.stdout.trim(), `${alias}: /opt/starcluster/node`).toBe('0');
    }

    // The command itself, as a user runs it (the one running cluster; --json).
    const cli = await runCli(['run', PI, '--pipeline', '-c', NAME, '--json', ...paramFlags(PARAMS)], {
      cwd: env.home,
    });
    expect(cli.code, cli.out).toBe(0);
    const out = JSON.parse(cli.stdout) as {
      job: string;
      cluster: string;
      engines: number;
      seconds: number;
      result: PiSummary;
    };
    expect(out).toMatchObject({ job: 'pi', cluster: `${NAME} (pipeline)`, engines: 4 });
    expect(out.seconds).toBeGreaterThan(0);
    expect(out.result.samples).toBe(40_000_000);
    expect(out.result.tasks).toBe(12);

    const local = await runJob({
      file: PI,
      target: { local: 2, pipeline: true },
      params: PARAMS,
      io: new RecordingIoHost(),
    });
    const ref = local.result as PiSummary;
    console.log(`pipeline on ${NAME}: inside ${out.result.inside}; --local pipeline: inside ${ref.inside}`);
    expect(out.result.inside).toBe(ref.inside);
    // Results came from workers on both nodes (ids 0–1 on master, 2–3 on node001).
    const engines = new Set(out.result.perEngine.map((e) => e.engine));
    expect([...engines].some((e) => e < 2) && [...engines].some((e) => e >= 2)).toBe(true);

    expect(await workersLeft()).toEqual({ master: '', node001: '' });
  }, 420_000);

  it('engines, the controller and pipeline workers run as CLUSTER_USER, not root', async () => {
    // Each engine answers `id -un` itself (a direct view reaches every engine once).
    const client = await connectToCluster(NAME);
    let engineUsers: string[];
    try {
      engineUsers = (await client
        .directView('all')
        // The function runs in the engine's namespace, whose `require` is the engine's own.
        .apply(() => {
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          const cp = require('node:child_process') as typeof ChildProcessModule;
          return cp.execFileSync('id', ['-un']).toString().trim();
        })
        .get(60_000)) as string[];
    } finally {
      await client.close();
    }
    // Every runtime process on every node, as ps sees it (root logs in; it does not run them).
    const owners: string[] = [];
    for (const { alias, host } of nodes()) {
      const ps = await host.exec(
        'ps -eo user:32,comm,args | awk \'$2 == "node" && /(engine|controller|supervisor)[.]mjs/ {print $1, $4}\'',
      );
      for (const line of ps.stdout.split('\n').filter(Boolean)) {
        const [user = '', file = ''] = line.split(' ');
        owners.push(`${alias} ${user} ${/(\w+)\.mjs/.exec(file)?.[1] ?? file}`);
      }
    }
    // Pipeline workers: the whoami job through `run --pipeline`.
    const piped = await runJob({
      file: join(ROOT, 'test/_fixtures/jobs/whoami.ts'),
      target: { cluster: NAME, pipeline: true },
      params: { tasks: '8' },
      io: new RecordingIoHost(),
    });
    const workerUsers = piped.result as string[];
    console.log(
      `id -un on ${engineUsers.length} engines: ${engineUsers.join(', ')}; pipeline workers: ${[...new Set(workerUsers)].join(', ')}; processes: ${owners.join('; ')}`,
    );
    expect(engineUsers).toEqual(['sgeadmin', 'sgeadmin', 'sgeadmin', 'sgeadmin']);
    expect(workerUsers).toHaveLength(8);
    expect(new Set(workerUsers.map((u) => u.split('@')[0]))).toEqual(new Set(['sgeadmin']));
    expect(new Set(workerUsers.map((u) => u.split('@')[1])).size).toBe(2);
    expect(owners.filter((o) => /engine|controller/.test(o)).length).toBe(5);
    expect(owners.filter((o) => !/ sgeadmin /.test(o))).toEqual([]);
  }, 300_000);

  it('an interrupted run stops every remote worker; tunnels listen only on the nodes’ loopback', async () => {
    const controller = new AbortController();
    const runIo = new RecordingIoHost();
    const running = runJob({
      file: PI,
      target: { cluster: NAME, pipeline: true },
      params: { samples: '400000000000', tasks: '8' },
      io: runIo,
      signal: controller.signal,
    }).then(
      () => 'completed',
      (e: unknown) => e,
    );
    // Wait until the workers are up on both nodes (the tasks have started).
    let seen: Record<string, string> = {};
    for (let i = 0; i < 600; i++) {
      seen = await workersLeft();
      if (Object.values(seen).every((s) => s.split('\n').filter(Boolean).length === 2)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(Object.values(seen).map((s) => s.split('\n').filter(Boolean).length)).toEqual([2, 2]);
    for (const { alias, host } of nodes()) {
      // Every listener sshd has besides port 22 is a reverse tunnel: all on 127.0.0.1.
      const ss = await host.exec("ss -Hltnp | grep sshd | awk '{print $4}'");
      const tunnels = ss.stdout.split('\n').filter((l) => l && !/:22$/.test(l));
      expect(tunnels.length, `${alias}: ${ss.stdout}`).toBeGreaterThanOrEqual(3);
      expect(
        tunnels.every((l) => l.startsWith('127.0.0.1:')),
        `${alias}: ${ss.stdout}`,
      ).toBe(true);
    }
    controller.abort();
    const outcome = await running;
    expect(StarclusterError.is(outcome), String(outcome)).toBe(true);
    expect((outcome as StarclusterError).code).toBe('Interrupted');
    expect(await workersLeft()).toEqual({ master: '', node001: '' });
    // The run folders (job module, logs) are gone too.
    for (const { host } of nodes()) {
      const ls = await host.exec(`ls -A /opt/starcluster/clusters/${NAME}/pipeline 2>/dev/null || true`);
      expect(ls.stdout.trim()).toBe('');
    }
  }, 300_000);
});

function paramFlags(params: Record<string, string>): string[] {
  return Object.entries(params).flatMap(([k, v]) => ['--param', `${k}=${v}`]);
}
