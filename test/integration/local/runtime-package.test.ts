import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Client } from '../../../src/engines/client/client.js';
import { buildEngineRuntime } from '../../../src/deploy/index.js';
import { generateClusterKeys } from '../../../src/engines/protocol/keys.js';
import { freePortPair } from '../../_helpers/ports.js';

// The folder `start` uploads to EC2 nodes, run here from a copy outside the project: if anything
// it needs were missing (a bundled import, zeromq's addon, cmake-ts' loader) nothing would start.
const scratch = await mkdtemp(join(tmpdir(), 'sc-runtime-'));
let supervisor: ChildProcess | undefined;
afterAll(async () => {
  if (supervisor && supervisor.exitCode === null) {
    const exited = new Promise((r) => supervisor!.once('exit', r));
    supervisor.kill('SIGTERM');
    await exited;
  }
  await rm(scratch, { recursive: true, force: true });
});

const spin = (): never => {
  for (;;) {
    /* computes until interrupted */
  }
};

describe('the engine runtime package for remote nodes', () => {
  it('runs controller, engines and supervisor with only what it ships', async () => {
    const pkg = await buildEngineRuntime('x64', join(scratch, 'cache'));
    expect(pkg.dir).toMatch(/engine-runtime-x64-[0-9a-f]{16}$/);
    const again = await buildEngineRuntime('x64', join(scratch, 'cache'));
    expect(again.dir).toBe(pkg.dir);

    const runtime = join(scratch, 'node', 'runtime');
    const nodeDir = join(scratch, 'node', 'state');
    await cp(pkg.dir, runtime, { recursive: true });
    await mkdir(nodeDir, { recursive: true });
    const keys = await generateClusterKeys(join(scratch, 'node', 'keys'));
    const [clientPort, enginePort] = await freePortPair();
    const engine = (n: number): { name: string; argv: string[] } => ({
      name: `engine-${n}`,
      argv: [
        'node',
        join(runtime, 'engine.mjs'),
        '--controller',
        `tcp://127.0.0.1:${enginePort}`,
        '--keys',
        join(scratch, 'node', 'keys'),
        '--node',
        'node001',
      ],
    });
    await writeFile(
      join(nodeDir, 'desired.json'),
      JSON.stringify({
        processes: [
          {
            name: 'controller',
            argv: [
              'node',
              join(runtime, 'controller.mjs'),
              '--host',
              '127.0.0.1',
              '--port',
              String(clientPort),
              '--engine-port',
              String(enginePort),
              '--keys',
              join(scratch, 'node', 'keys'),
            ],
          },
          engine(1),
          engine(2),
        ],
      }),
    );
    // A bare environment and a cwd outside the project: nothing can be found in node_modules here.
    supervisor = spawn('node', [join(runtime, 'supervisor.mjs'), '--sc-node=pkg/node001', '--dir', nodeDir], {
      cwd: scratch,
      stdio: 'ignore',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    let client: Client | undefined;
    for (let i = 0; i < 60 && !client; i++) {
      client = await Client.connect({ endpoint: `tcp://127.0.0.1:${clientPort}`, keys, timeoutMs: 500 }).catch(
        () => undefined,
      );
    }
    expect(client).toBeDefined();
    try {
      await client!.waitForEngines(2, 30_000);
      expect(client!.engines.map((e) => e.node)).toEqual(['node001', 'node001']);
      const squares = await client!.loadBalancedView().map((x: number) => x * x, [1, 2, 3, 4, 5]);
      expect(squares).toEqual([1, 4, 9, 16, 25]);
      // The engines' threads are modules of their own next to engine.mjs: the heart (heart-worker.mjs)
      // is what stops a computing task, the SIGINT keeper (sigint-keeper.mjs) what keeps the engine alive.
      expect(existsSync(join(runtime, 'heart-worker.mjs')) && existsSync(join(runtime, 'sigint-keeper.mjs'))).toBe(
        true,
      );
      const spinning = client!.directView(0).apply(spin);
      await new Promise((r) => setTimeout(r, 1_000)); // long enough to be running (no assertion rests on it)
      spinning.abort({ running: true });
      const error = await Promise.resolve(spinning.get(20_000)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: 'TaskAborted', running: true });
      expect(await client!.directView(0).apply(() => 'after')).toEqual(['after']);
    } finally {
      await client!.close();
    }
  });
});
