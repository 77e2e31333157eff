import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { curveKeyPair } from 'zeromq';
import { describe, expect, it } from 'vitest';
import { useCleanup } from '../../_helpers/cleanup.js';
import { RemoteTaskError, newClusterKeys, writeClusterKeys } from '../../../src/engines/index.js';
import { runPipeline, startPipelineWorker } from '../../../src/engines/pipeline/pipeline.js';
import { ROOT } from './helpers.js';

const cleanup = useCleanup();

describe('pipeline mode (PUSH/PULL/PUB with CURVE)', () => {
  it('distributes tasks to workers behind a start barrier and collects every result in order', async () => {
    const tasks = Array.from({ length: 300 }, (_, i) => new Float64Array([i, i + 0.5]));
    const seen = new Set<number>();
    const out = await runPipeline({
      tasks,
      worker: (x: Float64Array) => x.map((v) => v * 2),
      workers: 2,
      inline: true,
      onProgress: (done) => seen.add(done),
    });
    expect(out.results).toHaveLength(300);
    expect(out.results[7]).toEqual(new Float64Array([14, 15]));
    expect(out.results.every((r, i) => r[0] === i * 2)).toBe(true);
    expect(out.resent).toBe(0);
    expect(out.workers).toBe(2);
    expect(seen.size).toBe(300);
  });

  it('starts local worker processes when not inline', async () => {
    const out = await runPipeline({ tasks: ['a', 'b', 'c'], worker: (s: string) => s.toUpperCase(), workers: 2 });
    expect(out.results).toEqual(['A', 'B', 'C']);
  }, 60_000);

  it('runs module exports and reports remote errors', async () => {
    const modules = { job: 'export function run(x) { if (x === 3) throw new RangeError("three"); return x + 1; }' };
    await expect(
      runPipeline({ tasks: [1, 2, 3], worker: { module: 'job', export: 'run' }, modules, workers: 1, inline: true }),
    ).rejects.toBeInstanceOf(RemoteTaskError);
    const ok = await runPipeline({
      tasks: [1, 2],
      worker: { module: 'job', export: 'run' },
      modules,
      workers: 1,
      inline: true,
    });
    expect(ok.results).toEqual([2, 3]);
  });

  it('stops a task past timeLimitMs on its worker (TaskTimeLimit), and the worker carries on', async () => {
    const spin = (x: number): number => {
      if (x === 2)
        for (;;) {
          /* spin */
        }
      return x;
    };
    const error = await runPipeline({
      tasks: [1, 2, 3],
      worker: spin,
      workers: 1,
      inline: true,
      timeLimitMs: 200,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RemoteTaskError);
    expect(error).toMatchObject({ remoteName: 'TaskTimeLimit' });
    expect((error as RemoteTaskError).remoteMessage).toMatch(/time limit of 200 ms/);
    const ok = await runPipeline({ tasks: [1, 3], worker: spin, workers: 1, inline: true, timeLimitMs: 5_000 });
    expect(ok.results).toEqual([1, 3]);
  });

  it('re-sends the tasks a killed worker process lost; each result is kept once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sc-pipe-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const keys = newClusterKeys();
    await writeClusterKeys(dir, keys);
    const procs: ChildProcess[] = [];
    cleanup.push(() => procs.forEach((p) => p.kill('SIGKILL')));
    let killed = false;
    const out = await runPipeline({
      tasks: Array.from({ length: 400 }, (_, i) => i),
      worker: (i: number) => {
        const until = Date.now() + 2;
        while (Date.now() < until);
        return i * 3;
      },
      keys,
      workers: 0,
      externalWorkers: 2,
      resendAfterMs: 500,
      onListening: (ep) => {
        for (let id = 0; id < 2; id++) {
          procs.push(
            spawn(
              process.execPath,
              [
                '--import',
                'tsx',
                `${ROOT}src/engines/pipeline/worker-main.ts`,
                '--distributor',
                ep.distributor,
                '--collector',
                ep.collector,
                '--control',
                ep.control,
                '--keys',
                dir,
                '--id',
                String(id),
              ],
              { cwd: ROOT, stdio: 'ignore' },
            ),
          );
        }
      },
      onProgress: (done) => {
        if (done === 40 && !killed) {
          killed = true;
          procs[1]!.kill('SIGKILL');
        }
      },
    });
    expect(killed).toBe(true);
    expect(out.results).toEqual(Array.from({ length: 400 }, (_, i) => i * 3));
    expect(out.resent).toBeGreaterThan(0);
  }, 120_000);

  it('a worker without the cluster engine key never gets tasks', async () => {
    const keys = newClusterKeys();
    const rogueKeys = { serverPublicKey: keys.server.publicKey, ...curveKeyPair() };
    let rogue: Promise<unknown> = Promise.resolve();
    await expect(
      runPipeline({
        tasks: [1],
        worker: (x: number) => x,
        keys,
        workers: 0,
        externalWorkers: 1,
        startTimeoutMs: 1500,
        onListening: (endpoints) => {
          rogue = startPipelineWorker({ endpoints, keys: rogueKeys, id: 9, connectTimeoutMs: 2000 });
        },
      }),
    ).rejects.toMatchObject({ code: 'PipelineStartTimeout' });
    // its CURVE handshake is refused, so it gives up
    await expect(rogue).rejects.toMatchObject({ code: 'PipelineConnectTimeout' });
  });
});
