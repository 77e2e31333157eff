import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useCleanup } from '../../_helpers/cleanup.js';
import { newClusterKeys, writeClusterKeys } from '../../../src/engines/protocol/keys.js';
import { runJob } from '../../../src/jobs/index.js';
import { RecordingIoHost } from '../../_helpers/recording-io-host.js';
import { controllerKeysOf } from '../../../src/engines/protocol/keys.js';
import { curveServer, tcpEndpoint, ZapHandler, zmq } from '../../../src/engines/protocol/sockets.js';
import { runPipeline, startPipelineWorker } from '../../../src/engines/pipeline/pipeline.js';
import {
  planWorkers,
  workerCountCommand,
  workerStartCommand,
  workerStopCommand,
} from '../../../src/deploy/pipeline-workers.js';
import { ROOT, waitFor } from '../engines/helpers.js';

const sh = promisify(execFile);
const cleanup = useCleanup();

async function scratch(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sc-piperemote-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('planWorkers', () => {
  it('gives each node one worker per engine slot, with ids unique across the run', () => {
    expect(planWorkers({ master: 2, node001: 3, node002: 0, node003: 1 })).toEqual([
      { alias: 'master', ids: [0, 1] },
      { alias: 'node001', ids: [2, 3, 4] },
      { alias: 'node003', ids: [5] },
    ]);
    expect(planWorkers({})).toEqual([]);
  });
});

describe('the worker start and stop commands (run by a real shell here)', () => {
  /** A stand-in for the runtime's pipeline-worker.mjs: records its argv, then idles until killed. */
  async function fakeRuntime(dir: string): Promise<string> {
    const runtime = join(dir, 'runtime');
    await mkdir(runtime, { recursive: true });
    await writeFile(
      join(runtime, 'pipeline-worker.mjs'),
      [
        "import { renameSync, writeFileSync } from 'node:fs';",
        "const id = process.argv[process.argv.indexOf('--id') + 1];",
        // Written whole, then renamed: a reader never sees half a file.
        'writeFileSync(`argv-${id}.tmp`, JSON.stringify(process.argv.slice(2)));',
        'renameSync(`argv-${id}.tmp`, `argv-${id}.json`);',
        'setInterval(() => {}, 1000);',
      ].join('\n'),
    );
    return runtime;
  }

  it('starts detached, marked workers with the right arguments; stop ends only that run’s and removes its folder', async () => {
    const dir = await scratch();
    const runtimeDir = await fakeRuntime(dir);
    const runDir = join(dir, "run dir with 'quotes'");
    const otherDir = join(dir, 'other');
    await mkdir(runDir);
    await mkdir(otherDir);
    const common = {
      cluster: 'c1',
      runtimeDir,
      keyFile: join(dir, 'keys', 'curve-engine.json'),
      ports: { distributor: 4101, collector: 4102, control: 4103 },
      modules: { 'job:pi': join(runDir, 'module-0.mjs') },
    };
    const mine = workerStartCommand({ ...common, run: 'aaaa', runDir, ids: [4, 5] });
    const other = workerStartCommand({ ...common, run: 'bbbb', runDir: otherDir, ids: [9] });
    cleanup.push(() => sh('bash', ['-c', workerStopCommand('c1', 'bbbb', otherDir)]));
    cleanup.push(() => sh('bash', ['-c', workerStopCommand('c1', 'aaaa', runDir)]));
    // setsid -f: the shell returns at once, the workers live on without it.
    await sh('bash', ['-c', mine], { timeout: 10_000 });
    await sh('bash', ['-c', other], { timeout: 10_000 });
    await waitFor(
      () =>
        ['argv-4.json', 'argv-5.json'].every((f) => existsSync(join(runDir, f))) &&
        existsSync(join(otherDir, 'argv-9.json')),
    );
    const argv = JSON.parse(await readFile(join(runDir, 'argv-4.json'), 'utf8')) as string[];
    expect(argv).toEqual([
      '--sc-pipeline=c1/aaaa',
      '--distributor',
      'tcp://127.0.0.1:4101',
      '--collector',
      'tcp://127.0.0.1:4102',
      '--control',
      'tcp://127.0.0.1:4103',
      '--keys',
      common.keyFile,
      '--idle-exit',
      '20000',
      '--module',
      `job:pi=${join(runDir, 'module-0.mjs')}`,
      '--id',
      '4',
    ]);
    const count = async (run: string): Promise<string> =>
      (await sh('bash', ['-c', workerCountCommand('c1', run)])).stdout.trim();
    expect(await count('aaaa')).toBe('2');
    expect(await count('bbbb')).toBe('1');

    await sh('bash', ['-c', workerStopCommand('c1', 'aaaa', runDir)], { timeout: 20_000 });
    expect(await count('aaaa')).toBe('0');
    expect(existsSync(runDir)).toBe(false);
    expect(await count('bbbb')).toBe('1');
    expect(existsSync(otherDir)).toBe(true);
  }, 30_000);
});

describe('pipeline workers stop when their distributor goes away', () => {
  it('a worker whose control socket stops beating exits by itself (idleExitMs)', async () => {
    // A distributor that binds and admits the worker, but never beats and never sends STOP:
    // what a worker on a node sees when its client was killed.
    const keys = newClusterKeys();
    const context = new zmq.Context();
    const zap = new ZapHandler(context, { pipeline: controllerKeysOf(keys).enginePublicKeys });
    const server = { context, linger: 0, ...curveServer(keys.server.secretKey, 'pipeline') };
    const sockets = [new zmq.Push(server), new zmq.Pull(server), new zmq.Publisher(server)] as const;
    cleanup.push(async () => {
      for (const s of sockets) s.close();
      await zap.close();
    });
    for (const s of sockets) await s.bind(tcpEndpoint('127.0.0.1'));
    const [distributor, collector, control] = sockets;
    const worker = await startPipelineWorker({
      endpoints: {
        distributor: distributor.lastEndpoint!,
        collector: collector.lastEndpoint!,
        control: control.lastEndpoint!,
      },
      keys,
      id: 1,
      idleExitMs: 300,
    });
    cleanup.push(() => worker.close());
    const [ready] = await collector.receive();
    expect(JSON.parse(ready!.toString())).toEqual({ t: 'ready', w: 1 });
    let exited = false;
    void worker.done.then(() => (exited = true));
    await waitFor(() => exited, 10_000, 'the idle worker to exit');
  });

  it('beats keep a busy worker alive longer than idleExitMs; an aborted run rejects Interrupted and stops its workers', async () => {
    const keys = newClusterKeys();
    const controller = new AbortController();
    const workers: Awaited<ReturnType<typeof startPipelineWorker>>[] = [];
    cleanup.push(() => Promise.all(workers.map((w) => w.close())));
    const outcome = runPipeline({
      tasks: [4000, 60_000],
      // The first task outlasts idleExitMs (the distributor's beats are what keep the worker going).
      worker: (ms: number) => new Promise((resolve) => setTimeout(() => resolve(ms), ms)),
      keys,
      workers: 0,
      externalWorkers: 2,
      signal: controller.signal,
      onListening: async (endpoints) => {
        for (const id of [0, 1]) workers.push(await startPipelineWorker({ endpoints, keys, id, idleExitMs: 2500 }));
      },
      onProgress: (done) => {
        if (done === 1) controller.abort();
      },
    });
    await expect(outcome).rejects.toMatchObject({ code: 'Interrupted' });
    await Promise.all(workers.map((w) => w.done));
  }, 30_000);
});

describe('run --pipeline -c NAME on a local-provider cluster', () => {
  it('runs one local worker per engine slot with the cluster’s own keys; cluster names the pipeline', async () => {
    // A local cluster as the engine state records it (two nodes × 1 engine, its CURVE keys); the
    // pipeline needs only that, not the cluster's controller, so none is started here.
    const home = await scratch();
    const stateDir = join(home, 'clusters', 'loc');
    await writeClusterKeys(stateDir, newClusterKeys());
    await writeFile(
      join(stateDir, 'engines.json'),
      JSON.stringify({
        provider: 'local',
        host: '127.0.0.1',
        clientPort: 1,
        enginePort: 2,
        engines: { master: 1, node001: 1 },
        startedAt: new Date().toISOString(),
      }),
    );
    const result = await runJob({
      file: join(ROOT, 'test/_fixtures/jobs/squares.ts'),
      target: { cluster: 'loc', pipeline: true },
      params: { n: '3000' },
      io: new RecordingIoHost(),
      env: { ...process.env, STARCLUSTER_HOME: home },
      outDir: join(home, 'out'),
    });
    expect(result).toMatchObject({ cluster: 'loc (pipeline)', engines: 2, tasks: 8 });
    expect(result.result).toMatchObject({ sum: (2999 * 3000 * 5999) / 6, exact: true });
  }, 60_000);
});
