import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBalance, type BalancerLogEntry } from '../../../src/cluster/balance.js';
import { probeQueue, submitJob } from '../../../src/cluster/queue.js';
import { resizeCluster } from '../../../src/cluster/resize.js';
import { startCluster } from '../../../src/cluster/start.js';
import { terminateCluster } from '../../../src/cluster/terminate.js';
import type { StarclusterConfig } from '../../../src/config/types.js';
import { StarclusterError } from '../../../src/errors.js';
import { readPrivateKey, SshPool } from '../../../src/remote/index.js';
import type { RemoteHost } from '../../../src/remote/types.js';
import { findNode, openRunningCluster, sshNode } from '../../../src/setup/access.js';
import { knownHostsFile } from '../../../src/setup/session.js';
import { RecordingIoHost } from '../../_helpers/recording-io-host.js';
import { fleetEnv, fleetUnavailable, ROOT, type FleetEnv } from './fleet-env.js';

/**
 * The Slurm queue on a 3-node fleet cluster, as a StarCluster user used SGE: srun across the
 * nodes, an sbatch array job with its outputs in the shared /home, MPI (mpirun with the host file
 * setup writes, and srun --mpi=pmix), a resize down while jobs run (none lost), a cluster with
 * DISABLE_QUEUE = True where no Slurm daemon runs, and the load balancer growing a 1-node cluster
 * to 4 and back. On the fleet's stock Debian 12 image (NODE_IMAGE_ID = debian-12): setup installs
 * Slurm, munge and OpenMPI from Debian's packages through the fleet's proxy. SC_QUEUE_TEST_IMAGE=fast
 * runs it on the fast image instead (a view of this machine: it needs Debian's slurmctld, slurmd,
 * slurm-client, munge, openmpi-bin and libopenmpi-dev installed here), in about half the time.
 */
const run = promisify(execFile);
const IMAGE = process.env.SC_QUEUE_TEST_IMAGE ?? 'debian-12';
const FAST = IMAGE === 'fast';
const skip =
  fleetUnavailable() ||
  (FAST && ['/usr/sbin/slurmctld', '/usr/sbin/slurmd', '/usr/sbin/munged', '/usr/bin/mpicc'].find((f) => !existsSync(f))
    ? 'SC_QUEUE_TEST_IMAGE=fast needs slurmctld slurmd munge openmpi-bin libopenmpi-dev installed on this machine'
    : false);

/** The fleet environment with its stock images built (minutes on a machine's first run, then cached). */
async function queueEnv(): Promise<FleetEnv> {
  const env = await fleetEnv();
  if (!FAST) await run(join(ROOT, 'localstack', 'fleet'), ['build-images'], { env: process.env, timeout: 1_200_000 });
  return env;
}

/** startCluster, failing with the problems it found in the message (vitest shows no `details`). */
async function start(name: string, config: StarclusterConfig, io: RecordingIoHost): Promise<void> {
  try {
    await startCluster({ name, config, template: config.clusters.get(name)!, io, skipEngines: true });
  } catch (error) {
    const details = StarclusterError.is(error) ? error.details.join('\n') : '';
    throw new Error(`${(error as Error).message}\n${details}`, { cause: error });
  }
}

function settings(env: FleetEnv, extra: Record<string, string>): Record<string, string> {
  // t2.micro: offered in every us-east-1 zone (LocalStack offers no t3 in us-east-1e, where a fleet subnet may be).
  return { NODE_IMAGE_ID: FAST ? env.imageId : IMAGE, NODE_INSTANCE_TYPE: 't2.micro', ...extra };
}
const NAME = `q${process.pid}`;
const OFF = `qoff${process.pid}`;
const BAL = `qbal${process.pid}`;

const MPI_HELLO = `#include <mpi.h>
#include <stdio.h>
int main(int argc, char **argv) {
  int rank, size, len; char host[MPI_MAX_PROCESSOR_NAME];
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank); MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Get_processor_name(host, &len);
  printf("rank %d of %d on %s\\n", rank, size, host);
  MPI_Finalize();
  return 0;
}
`;

describe.skipIf(skip)(`the Slurm queue on a 3-node fleet cluster${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let env: FleetEnv;
  let config: StarclusterConfig;
  let offConfig: StarclusterConfig;
  let pool: SshPool | undefined;
  const io = new RecordingIoHost();

  async function on(cluster: string, alias: string, user = 'sgeadmin'): Promise<RemoteHost> {
    const ctx = await openRunningCluster({ name: cluster, io, configPath: `${env.home}/config-${cluster}` });
    const node = findNode(ctx, alias);
    pool ??= new SshPool({ privateKey: await readPrivateKey(env.keyPath), knownHostsFile: knownHostsFile(ctx) });
    return pool.host({ alias, address: node.privateIp!, user });
  }

  async function run(host: RemoteHost, command: string, timeoutMs = 60_000): Promise<string> {
    const r = await host.exec(command, { timeoutMs });
    expect(r.code, `${command}\n${r.stdout}${r.stderr}`).toBe(0);
    return r.stdout;
  }

  /** Waits until the queue is empty (every job done), looking every second. */
  async function untilQueueEmpty(master: RemoteHost, what: string): Promise<void> {
    for (let i = 0; i < 300; i++) {
      if ((await run(master, 'squeue -h')).trim() === '') return;
      await sleep(1_000);
    }
    throw new Error(`${what}: the queue did not empty:\n${await run(master, 'squeue')}`);
  }

  beforeAll(async () => {
    env = await queueEnv();
    ({ config } = await env.configFor(NAME, settings(env, { CLUSTER_SIZE: '3', DISABLE_QUEUE: 'False' })));
    ({ config: offConfig } = await env.configFor(OFF, settings(env, { CLUSTER_SIZE: '2', DISABLE_QUEUE: 'True' })));
    await Promise.all([start(NAME, config, io), start(OFF, offConfig, io)]);
  }, 1_800_000);

  afterAll(async () => {
    pool?.close();
    if (!env) return;
    await Promise.all([
      terminateCluster({ name: NAME, config, io, confirm: true }).catch(() => undefined),
      terminateCluster({ name: OFF, config: offConfig, io, confirm: true }).catch(() => undefined),
    ]);
  }, 300_000);

  it('sinfo shows every node idle; srun -N 3 hostname prints 3 distinct names', async () => {
    const master = await on(NAME, 'master');
    const sinfo = await run(master, "sinfo -h -N -o '%N %T %c'");
    const rows = sinfo.trim().split('\n').sort();
    expect(rows.map((r) => r.split(' ').slice(0, 2).join(' '))).toEqual([
      'master idle',
      'node001 idle',
      'node002 idle',
    ]);
    expect(rows.every((r) => Number(r.split(' ')[2]) >= 1)).toBe(true);
    const names = (await run(master, 'srun -N 3 hostname')).trim().split('\n');
    expect(new Set(names)).toEqual(new Set(['master', 'node001', 'node002']));
    // munge runs as munge everywhere, with the one key (0400).
    for (const alias of ['master', 'node001', 'node002']) {
      const root = await on(NAME, alias, 'root');
      expect((await run(root, 'ps -o user= -C munged')).trim()).toBe('munge');
      expect((await run(root, "stat -c '%a %U' /etc/munge/munge.key")).trim()).toBe('400 munge');
    }
  });

  it('from the laptop, sshmaster runs sbatch: a 20-task array job completes with its outputs in the shared /home', async () => {
    const ctx = await openRunningCluster({ name: NAME, io, configPath: `${env.home}/config-${NAME}` });
    const submitted = await sshNode({
      ctx,
      node: findNode(ctx, 'master'),
      user: 'sgeadmin',
      // Separate -o and -e: on the fleet's sshfs /home a file a job creates belongs to root (sshfs logs in
      // as root), so a second open of the same file by the job's user is refused. NFS keeps the owner.
      command:
        "mkdir -p ~/array && sbatch --parsable --array=1-20 -o 'array/%a.out' -e 'array/%a.err' --wrap 'echo task $SLURM_ARRAY_TASK_ID on $(hostname)'",
    });
    expect(submitted.code, submitted.stderr).toBe(0);
    expect(submitted.stdout?.trim()).toMatch(/^\d+$/);
    const master = await on(NAME, 'master');
    await untilQueueEmpty(master, 'array job');
    // Read on node001: the outputs are in the /home every node shares.
    const outputs = await run(await on(NAME, 'node001'), 'cat ~/array/*.out');
    const lines = outputs.trim().split('\n');
    expect(lines).toHaveLength(20);
    expect(new Set(lines.map((l) => Number(/^task (\d+) on /.exec(l)?.[1])))).toEqual(
      new Set(Array.from({ length: 20 }, (_, i) => i + 1)),
    );
    expect((await run(master, 'squeue -h')).trim()).toBe('');
  });

  it('qsub NAME script.sh uploads the script, submits it and gives the job id; listclusters -s reads the queue', async () => {
    const script = join(env.home, 'hello-job.sh');
    await writeFile(
      script,
      '#!/bin/sh\n#SBATCH -N 2\n#SBATCH -o qsub-%j.out\n#SBATCH -e qsub-%j.err\nsrun hostname | sort\n',
    );
    const submitted = await submitJob({ name: NAME, script, configPath: `${env.home}/config-${NAME}`, io });
    expect(submitted.jobId).toMatch(/^\d+$/);
    expect(submitted.remotePath).toMatch(/^\/home\/sgeadmin\/jobs\/.*-hello-job\.sh$/);
    const master = await on(NAME, 'master');
    await untilQueueEmpty(master, 'qsub job');
    const out = (await run(master, `cat ~/jobs/qsub-${submitted.jobId}.out`)).trim().split('\n');
    expect(out).toHaveLength(2);
    const ctx = await openRunningCluster({ name: NAME, io, configPath: `${env.home}/config-${NAME}` });
    const queue = await probeQueue({
      name: NAME,
      provider: ctx.provider,
      configPath: `${env.home}/config-${NAME}`,
      io,
    });
    expect(queue).toEqual({ state: 'up', running: 0, waiting: 0, nodes: 3, idle: 3 });
  });

  it('MPI hello world on 3 nodes × 2 ranks reports 6 ranks on 3 hosts, with mpirun and with srun', async () => {
    const master = await on(NAME, 'master');
    await master.writeFile('/home/sgeadmin/hello.c', MPI_HELLO);
    await run(master, 'mpicc -o ~/hello ~/hello.c');
    const hostfile = await run(master, 'cat /home/hostfile');
    expect(hostfile).toMatch(/^master slots=\d+\nnode001 slots=\d+\nnode002 slots=\d+\n$/);
    const ranks = (out: string): { ranks: number; hosts: Set<string> } => {
      const lines = out
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('rank '));
      expect(lines.every((l) => / of 6 on /.test(l))).toBe(true);
      return {
        ranks: new Set(lines.map((l) => l.split(' ')[1])).size,
        hosts: new Set(lines.map((l) => l.split(' ').at(-1)!)),
      };
    };
    const viaMpirun = ranks(
      await run(master, 'mpirun --hostfile /home/hostfile -np 6 --map-by ppr:2:node ~/hello', 120_000),
    );
    expect(viaMpirun.ranks).toBe(6);
    expect(viaMpirun.hosts).toEqual(new Set(['master', 'node001', 'node002']));
    const plugin = (await run(master, 'srun --mpi=list 2>&1')).includes('pmix') ? 'pmix' : 'pmi2';
    const viaSrun = ranks(await run(master, `srun --mpi=${plugin} -N 3 --ntasks-per-node=2 ~/hello`, 120_000));
    expect(viaSrun.ranks).toBe(6);
    expect(viaSrun.hosts).toEqual(new Set(['master', 'node001', 'node002']));
  });

  it('resize down while jobs run: the removed node is drained first, and every job completes', async () => {
    const master = await on(NAME, 'master');
    // Enough tasks to fill every CPU, so node002 has some when the resize starts.
    const cpus = Number((await run(master, "sinfo -h -o '%C'")).trim().split('/')[3]);
    const tasks = cpus + 2;
    await run(
      master,
      `mkdir -p ~/resize && sbatch --parsable --array=1-${tasks} -o 'resize/%a.out' -e 'resize/%a.err' --wrap 'sleep 8; echo done $SLURM_ARRAY_TASK_ID on $(hostname)'`,
    );
    for (let i = 0; i < 60; i++) {
      if ((await run(master, "squeue -h -t R -w node002 -o '%i'")).trim()) break;
      await sleep(500);
    }
    expect((await run(master, "squeue -h -t R -w node002 -o '%i'")).trim()).not.toBe('');
    const shrunk = await resizeCluster({ name: NAME, config, io, size: 2, confirm: true, skipHooks: false });
    expect(shrunk.removed.map((n) => n.alias)).toEqual(['node002']);
    expect((await run(master, "sinfo -h -N -o '%N'")).trim().split('\n').sort()).toEqual(['master', 'node001']);
    await untilQueueEmpty(master, 'jobs running during the resize');
    const done = (await run(master, 'cat ~/resize/*.out')).trim().split('\n');
    expect(done.filter((l) => l.startsWith('done '))).toHaveLength(tasks);
  }, 300_000);

  it('DISABLE_QUEUE = True: no Slurm or munge daemon runs on any node', async () => {
    for (const alias of ['master', 'node001']) {
      const root = await on(OFF, alias, 'root');
      const r = await root.exec('pgrep -l -x "slurmctld|slurmd|munged"');
      expect(r.stdout.trim(), `${alias} runs ${r.stdout}`).toBe('');
      expect((await root.exec('test -e /etc/slurm/slurm.conf')).code).not.toBe(0);
    }
  });
});

describe.skipIf(skip)(`loadbalance on a fleet cluster from 1 node, max 4${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let env: FleetEnv;
  let config: StarclusterConfig;
  let pool: SshPool | undefined;
  const io = new RecordingIoHost();

  beforeAll(async () => {
    env = await queueEnv();
    ({ config } = await env.configFor(BAL, settings(env, { CLUSTER_SIZE: '1', DISABLE_QUEUE: 'False' })));
    await start(BAL, config, io);
  }, 1_800_000);

  afterAll(async () => {
    pool?.close();
    if (env) await terminateCluster({ name: BAL, config, io, confirm: true }).catch(() => undefined);
  }, 300_000);

  it('a burst of jobs grows the cluster, every job completes, and it shrinks back to 1 when the queue is empty', async () => {
    const configPath = `${env.home}/config-${BAL}`;
    const ctx = await openRunningCluster({ name: BAL, io, configPath });
    pool = new SshPool({ privateKey: await readPrivateKey(env.keyPath), knownHostsFile: knownHostsFile(ctx) });
    const master = pool.host({ alias: 'master', address: findNode(ctx, 'master').privateIp!, user: 'sgeadmin' });
    const tasks = 12;
    const submitted = await master.exec(
      `mkdir -p ~/burst && sbatch --parsable --array=1-${tasks} -o 'burst/%a.out' -e 'burst/%a.err' --wrap 'sleep 10; echo done $SLURM_ARRAY_TASK_ID on $(hostname)'`,
    );
    expect(submitted.code, submitted.stderr).toBe(0);
    let grew = false;
    const result = await loadBalance({
      name: BAL,
      config,
      configPath,
      io,
      params: { maxNodes: 4, minNodes: 1, addPerIteration: 3, waitTimeS: 2, idleTimeS: 3, stabilizationS: 3 },
      intervalS: 2,
      dumpFile: `${env.home}/bal-log/loadbalance.csv`,
      plotDir: `${env.home}/bal-log`,
      maxIterations: 300,
      until: (e: BalancerLogEntry) => {
        grew ||= e.decision.action === 'add' && Boolean(e.outcome?.ok);
        return grew && e.summary.nodes === 1 && e.summary.running === 0 && e.summary.waiting === 0;
      },
    });
    const log = result.decisions;
    const adds = log.filter((d) => d.decision.action === 'add');
    const removes = log.filter((d) => d.decision.action === 'remove');
    expect(adds.length, JSON.stringify(log.map((d) => d.decision))).toBeGreaterThan(0);
    expect(adds.every((d) => d.outcome?.ok)).toBe(true);
    expect(removes.every((d) => d.outcome?.ok)).toBe(true);
    expect(Math.max(...log.map((d) => d.summary.nodes))).toBeGreaterThan(1);
    expect(Math.max(...log.map((d) => d.summary.nodes))).toBeLessThanOrEqual(4);
    // Never the master, and back at the minimum.
    expect(removes.flatMap((d) => (d.decision.action === 'remove' ? d.decision.aliases : []))).not.toContain('master');
    expect(log.at(-1)!.summary).toMatchObject({ nodes: 1, running: 0, waiting: 0 });
    // Every job completed, none lost.
    const done = (await master.exec('cat ~/burst/*.out')).stdout.trim().split('\n');
    expect(done.filter((l) => l.startsWith('done '))).toHaveLength(tasks);
    expect(new Set(done.map((l) => l.split(' ').at(-1))).size).toBeGreaterThan(1);
    expect(result.files.map((f) => f.split('/').at(-1))).toEqual(['loadbalance.csv', 'loadbalance.svg']);
  }, 900_000);
});
