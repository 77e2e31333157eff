import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalProvider, readNodeStatus } from '../../../src/cloud/local/index.js';
import type { ClusterContext } from '../../../src/model/context.js';
import type { ClusterTemplate, StarclusterConfig } from '../../../src/config/types.js';
import { defaultTemplate } from '../../../src/model/template.js';
import { listRunningClusters, startEngines, stopEngines } from '../../../src/deploy/index.js';
import { failure } from '../../_helpers/failure.js';
import { runJob } from '../../../src/jobs/index.js';
import { runCli, runCommand } from '../../_helpers/cli.js';
import { RecordingIoHost } from '../../_helpers/recording-io-host.js';

// Real controllers and engine processes on this machine (no fakes), under a throwaway
// STARCLUSTER_HOME. vitest runs each file in its own process, so setting the variable is local.
const home = await mkdtemp(join(tmpdir(), 'sc-run-'));
process.env.STARCLUSTER_HOME = home;
const out = join(home, 'out');
const job = join(import.meta.dirname, '../../_fixtures/jobs/squares.ts');
const provider = createLocalProvider();

const expectedSum = (n: number): number => ((n - 1) * n * (2 * n - 1)) / 6;

async function waitForEvent(
  io: RecordingIoHost,
  match: (e: RecordingIoHost['events'][number]) => boolean,
): Promise<void> {
  for (let i = 0; i < 2400 && !io.events.some(match); i++) await new Promise((r) => setTimeout(r, 25));
}

function template(name: string): ClusterTemplate {
  return defaultTemplate({ name, provider: 'local', clusterSize: 2, sharedFs: 'none' });
}

/** Starts a local cluster the way `start` does: nodes from the provider, then engines. */
async function startLocal(name: string): Promise<ClusterContext> {
  const base = { cluster: name, instanceType: 'local', imageId: 'local' };
  await provider.launch({ ...base, role: 'master', aliases: ['master'], clientToken: `${name}-m` });
  await provider.launch({ ...base, role: 'node', aliases: ['node001'], clientToken: `${name}-n` });
  const nodes = await provider.waitRunning([`local-${name}-master`, `local-${name}-node001`]);
  const ctx: ClusterContext = {
    name,
    template: template(name),
    config: {} as StarclusterConfig,
    provider,
    io: new RecordingIoHost(),
    stateDir: provider.stateDir(name),
    nodes,
  };
  await startEngines(ctx);
  return ctx;
}

async function terminate(ctx: ClusterContext): Promise<void> {
  await stopEngines(ctx);
  await provider.terminate(ctx.nodes.map((n) => n.id));
}

const clusters: ClusterContext[] = [];
afterAll(async () => {
  for (const ctx of clusters) await terminate(ctx).catch(() => undefined);
  await rm(home, { recursive: true, force: true });
});

describe('starcluster run --local -n 2 (throwaway cluster)', () => {
  it('runs every task on real engine processes, reduces exactly, writes the figures', async () => {
    const io = new RecordingIoHost();
    const result = await runJob({
      file: job,
      target: { local: 2 },
      params: { n: '20000', chunks: '12' },
      outDir: join(out, 'a'),
      io,
    });
    expect(result).toMatchObject({ job: 'squares', cluster: 'local', engines: 2, tasks: 12 });
    expect(result.result).toMatchObject({ sum: expectedSum(20000), count: 20000, exact: true, tasks: 12 });
    expect(result.figures).toEqual([join(out, 'a', 'squares.svg'), join(out, 'a', 'squares.png')]);
    const png = await readFile(join(out, 'a', 'squares.png'));
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(await readFile(join(out, 'a', 'squares.svg'), 'utf8')).toContain('12 tasks');
    const done = io.events.find((e) => e.id === 'job:squares:tasks' && e.state === 'done');
    expect(done).toMatchObject({ current: 12, total: 12 });
    expect(done?.detail).toMatch(/tasks\/s/);
  });

  it('names the failed task, its engine and the remote message', async () => {
    const error = await failure(
      runJob({ file: job, target: { local: 2 }, params: { failAt: '5' }, io: new RecordingIoHost() }),
    );
    expect(error.code).toBe('TaskFailed');
    expect(error.exitCode).toBe(6);
    expect(error.message).toMatch(/^task 5 failed on engine \d+: Error: task 5 was told to fail$/);
    expect(error.details.join('\n')).toContain('at Object.run');
  });

  it('runs through the PUSH/PULL pipeline with --pipeline, exactly', async () => {
    const result = await runJob({
      file: job,
      target: { local: 2, pipeline: true },
      params: { n: '7000', chunks: '9' },
      outDir: join(out, 'p'),
      io: new RecordingIoHost(),
    });
    expect(result).toMatchObject({ cluster: 'local (pipeline)', engines: 2, tasks: 9 });
    expect(result.result).toMatchObject({ sum: expectedSum(7000), count: 7000, exact: true, tasks: 9 });
  });

  it('checks params before starting anything', async () => {
    const io = new RecordingIoHost();
    const error = await failure(runJob({ file: job, target: { local: 2 }, params: { n: 'many' }, io }));
    expect(error.code).toBe('BadJobParam');
    expect(error.exitCode).toBe(2);
    expect(io.events).toEqual([]);
    const limit = await failure(runJob({ file: job, target: { local: 2 }, timeLimitMs: -5, io }));
    expect(limit.code).toBe('BadTimeLimit');
    expect(limit.message).toMatch(/^time limit -0.005 s is not a positive number of seconds/);
    expect(io.events).toEqual([]);
  });
});

describe('starcluster run on local clusters', () => {
  let one: ClusterContext;
  beforeAll(async () => {
    one = await startLocal('one');
    clusters.push(one);
  });

  it('uses the only running cluster when -c is not given', async () => {
    expect(await listRunningClusters()).toEqual(['one']);
    const result = await runJob({
      file: job,
      target: {},
      params: { n: '5000' },
      outDir: join(out, 'b'),
      io: new RecordingIoHost(),
    });
    expect(result.cluster).toBe('one');
    expect(result.engines).toBe(2);
    expect(result.result).toMatchObject({ sum: expectedSum(5000), exact: true });
  });

  it('completes with exact results when an engine is killed mid-job', async () => {
    const io = new RecordingIoHost();
    const running = runJob({
      file: job,
      target: { cluster: 'one' },
      params: { n: '40000', chunks: '40', sleepMs: '150' },
      io,
    });
    // Wait until tasks are flowing, then kill node001's engine outright.
    for (let i = 0; i < 400 && !io.events.some((e) => e.id === 'job:squares:tasks' && (e.current ?? 0) >= 2); i++)
      await new Promise((r) => setTimeout(r, 25));
    const status = await readNodeStatus(one.stateDir, 'node001');
    const pid = status?.children.find((c) => c.name === 'engine-1')?.pid;
    expect(pid).toBeGreaterThan(0);
    process.kill(pid!, 'SIGKILL');
    const result = await running;
    expect(result.tasks).toBe(40);
    expect(result.result).toMatchObject({ sum: expectedSum(40000), count: 40000, exact: true, tasks: 40 });
    // The dead engine is reported (the supervisor restarts it under a new id).
    expect(result.enginesLost).toHaveLength(1);
    expect(io.messages.some((m) => m.code === 'SC_RUN_W0001')).toBe(true);
  });

  it('a task past its time limit fails the run, naming the task and the limit; the cluster runs on', async () => {
    const error = await failure(
      runJob({
        file: job,
        target: { cluster: 'one' },
        params: { n: '100', chunks: '2', sleepMs: '60000' },
        timeLimitMs: 300,
        io: new RecordingIoHost(),
      }),
    );
    expect(error.code).toBe('TaskFailed');
    expect(error.message).toMatch(/^task [01] failed on engine \d+: did not settle within its time limit of 300 ms/);
    expect(error.hint).toMatch(/--time-limit/);
    const next = await runJob({
      file: job,
      target: { cluster: 'one' },
      params: { n: '100' },
      timeLimitMs: 60_000,
      io: new RecordingIoHost(),
    });
    expect(next.result).toMatchObject({ sum: expectedSum(100), exact: true });
  });

  it('an interrupted run stops its running tasks, so the cluster is free for the next job at once', async () => {
    const controller = new AbortController();
    const io = new RecordingIoHost();
    const running = runJob({
      file: job,
      target: { cluster: 'one' },
      params: { n: '100', chunks: '6', sleepMs: '600000' }, // tasks that would hold both engines for ten minutes
      io,
      signal: controller.signal,
    });
    await waitForEvent(io, (e) => e.id === 'job:squares:tasks' && e.state === 'start');
    await new Promise((r) => setTimeout(r, 1_000)); // the first two tasks are running
    controller.abort();
    const error = await failure(running);
    expect(error.code).toBe('Interrupted');
    const next = await runJob({
      file: job,
      target: { cluster: 'one' },
      params: { n: '100' },
      io: new RecordingIoHost(),
    });
    expect(next.result).toMatchObject({ sum: expectedSum(100), exact: true });
  }, 60_000);

  it('reports what each task printed on its engine', async () => {
    const result = await runJob({
      file: job,
      target: { cluster: 'one' },
      params: { n: '30', chunks: '3', say: 'true' },
      io: new RecordingIoHost(),
    });
    expect(result.printed.map((p) => [p.task, p.stdout])).toEqual([
      [0, 'chunk 0: 0..10\n'],
      [1, 'chunk 1: 10..20\n'],
      [2, 'chunk 2: 20..30\n'],
    ]);
    expect(result.printed.every((p) => p.engine >= 0)).toBe(true);
  });

  it('refuses to guess between several running clusters, listing them', async () => {
    clusters.push(await startLocal('two'));
    const error = await failure(runJob({ file: job, target: {}, io: new RecordingIoHost() }));
    expect(error.code).toBe('WhichCluster');
    expect(error.message).toBe('2 clusters are running (one, two): choose one with -c NAME');
  });

  it('stops engines and leaves nothing behind on terminate', async () => {
    for (const ctx of clusters.splice(0)) await terminate(ctx);
    expect(await listRunningClusters()).toEqual([]);
    expect(existsSync(join(home, 'clusters', 'one', 'engines.json'))).toBe(false);
    expect(existsSync(join(home, 'clusters', 'one', 'curve-client.json'))).toBe(false);
  });
});

describe('starcluster run --json (the CLI)', () => {
  it('prints one JSON object with job, cluster, engines, seconds, result and figures', async () => {
    const { stdout } = await runCommand([
      'run',
      job,
      '--local',
      '-n',
      '1',
      '--param',
      'n=300',
      '--out',
      join(out, 'cli'),
      '--json',
    ]);
    const doc = JSON.parse(stdout) as Record<string, unknown>;
    expect(Object.keys(doc)).toEqual(
      expect.arrayContaining(['job', 'cluster', 'engines', 'seconds', 'result', 'figures']),
    );
    expect(doc).toMatchObject({ job: 'squares', cluster: 'local', engines: 1, result: { sum: expectedSum(300) } });
    expect(typeof doc.seconds).toBe('number');
  });

  it('refuses a --time-limit that is not a positive number of seconds, naming it (exit 2)', async () => {
    // A subprocess: the exit status and stderr a shell sees.
    const failed = await runCli(['run', job, '--local', '-n', '1', '--time-limit', 'soon']);
    expect(failed.code).toBe(2);
    expect(failed.stderr).toContain('--time-limit "soon" is not a positive number of seconds');
    expect(failed.stderr).not.toMatch(/\n\s+at /); // no stack without --debug
  });
});
