import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Cleanup } from '../../_helpers/cleanup.js';
import {
  Client,
  newClusterKeys,
  startController,
  startEngine,
  writeClusterKeys,
  type ClusterKeys,
  type ControllerHandle,
  type EngineHandle,
} from '../../../src/engines/index.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** What a task reaches on its engine through the namespace's `require` (it runs there, not here). */
export type TaskGlobals = { require: (id: 'node:fs') => { writeFileSync: (path: string, data: string) => void } };

/**
 * A folder for tasks to leave marks in when they start (`globalThis.require('node:fs').writeFileSync(mark, '')`),
 * and `started(name)`, which waits until the mark `name` exists: the task is then running on its engine
 * (engines here share this machine's files). A test waits for that event instead of guessing a time.
 */
export async function taskMarks(
  cleanup: Cleanup,
): Promise<{ mark: (name: string) => string; started: (name: string) => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'task-marks-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const mark = (name: string): string => join(dir, name);
  return {
    mark,
    started: async (name) => void (await waitFor(() => existsSync(mark(name)), 30_000, `task ${name} to start`)),
  };
}

/** Polls `check` until it is truthy (or throws after `timeoutMs`): waits for events, never asserts on time. */
export async function waitFor<T>(
  check: () => T | undefined | false,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Starts a real engine process (src/engines/engine/main.ts under tsx); resolves with it once registered. */
export async function spawnEngine(controller: string, keysDir: string): Promise<{ child: ChildProcess; id: number }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', `${ROOT}src/engines/engine/main.ts`, '--controller', controller, '--keys', keysDir],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const rl = createInterface({ input: child.stdout! });
  for await (const line of rl) {
    if (line.startsWith('{')) return { child, id: (JSON.parse(line) as { engine: number }).engine };
  }
  throw new Error('engine process exited before registering');
}

/** Runs sequential applies until one of them bypasses the controller (the lane is up), or fails. */
export async function untilLaned(run: () => PromiseLike<unknown>, submitted: () => number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const before = submitted();
    await run();
    if (submitted() === before) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('no task took the lane');
}

export type { Cleanup } from '../../_helpers/cleanup.js';

/**
 * A controller on loopback, `engines` engines in this process (heart on the main thread) and a
 * connected client that has seen them all.
 */
export async function inProcessCluster(
  cleanup: Cleanup,
  engines: number,
  options: { lanes?: 'auto' | 'on' | 'off'; keys?: ClusterKeys; heartbeatMs?: number } = {},
): Promise<{ keys: ClusterKeys; controller: ControllerHandle; engines: EngineHandle[]; client: Client }> {
  const keys = options.keys ?? newClusterKeys();
  const controller = await startController({ host: '127.0.0.1', keys, heartbeatMs: options.heartbeatMs ?? 100 });
  cleanup.push(() => controller.close());
  const handles: EngineHandle[] = [];
  for (let i = 0; i < engines; i++) {
    const e = await startEngine({ controller: controller.engineEndpoint, keys, heart: 'main' });
    cleanup.push(() => e.close());
    handles.push(e);
  }
  const client = await Client.connect({ endpoint: controller.clientEndpoint, keys, lanes: options.lanes ?? 'auto' });
  cleanup.push(() => client.close());
  await client.waitForEngines(engines, 10_000);
  return { keys, controller, engines: handles, client };
}

/**
 * A controller here, `engines` real engine processes (engine/main.ts: interruptible, heart thread)
 * and a connected client that has seen them all.
 */
export async function processCluster(
  cleanup: Cleanup,
  engines: number,
  lanes: 'on' | 'off',
  heartbeatMs = 200,
): Promise<{ controller: ControllerHandle; engines: { child: ChildProcess; id: number }[]; client: Client }> {
  const keys = newClusterKeys();
  const dir = await mkdtemp(join(tmpdir(), 'sc-proc-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  await writeClusterKeys(dir, keys);
  const controller = await startController({ host: '127.0.0.1', keys, heartbeatMs });
  cleanup.push(() => controller.close());
  const spawned: { child: ChildProcess; id: number }[] = [];
  for (let i = 0; i < engines; i++) {
    const engine = await spawnEngine(controller.engineEndpoint, dir);
    cleanup.push(() => engine.child.kill('SIGKILL'));
    spawned.push(engine);
  }
  const client = await Client.connect({ endpoint: controller.clientEndpoint, keys, lanes });
  cleanup.push(() => client.close());
  await client.waitForEngines(engines, 20_000);
  return { controller, engines: spawned, client };
}

/**
 * A TCP relay on loopback to `target` (tcp://HOST:PORT), for tests that watch or tamper with a
 * connection: `forward` sends each client → server chunk on (as it is, rewritten, or not at all);
 * server → client bytes pass untouched. Closed, with its sockets, by `cleanup`.
 */
export async function tcpRelay(
  cleanup: Cleanup,
  target: string,
  forward: (chunk: Buffer, up: Socket) => void = (chunk, up) => up.write(chunk),
  backward: (chunk: Buffer, down: Socket) => void = (chunk, down) => down.write(chunk),
): Promise<{ endpoint: string; lastUpstream(): Socket | undefined }> {
  const [, host, port] = /^tcp:\/\/(.+):(\d+)$/.exec(target)!;
  const sockets = new Set<Socket>();
  let last: Socket | undefined;
  const server = createServer((down) => {
    const up = createConnection({ host: host!, port: Number(port) });
    last = up;
    sockets.add(down).add(up);
    down.on('data', (chunk: Buffer) => forward(chunk, up));
    up.on('data', (chunk: Buffer) => backward(chunk, down));
    const end = (): void => {
      down.destroy();
      up.destroy();
    };
    down.on('error', end).on('close', end);
    up.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => server.close(r));
  });
  return { endpoint: `tcp://127.0.0.1:${(server.address() as { port: number }).port}`, lastUpstream: () => last };
}
