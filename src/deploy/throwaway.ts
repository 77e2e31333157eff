import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '../engines/client/client.js';
import { startController } from '../engines/controller/controller.js';
import { engineKeysOf, KEY_FILES, newClusterKeys } from '../engines/protocol/keys.js';
import type { IoHost } from '../io-host.js';
import { waitForAll } from './connect.js';
import { localEntryCommand } from './local-runner.js';
import { engineArgv } from './plan.js';

export interface ThrowawayCluster {
  client: Client;
  close(): Promise<void>;
}

/** An engine process on this machine; what it printed last on stderr goes to the debug log if it fails. */
function spawnEngine(endpoint: string, keyFile: string, index: number, io: IoHost): ChildProcess {
  const [command, ...args] = engineArgv(localEntryCommand('engine'), endpoint, keyFile, 'local');
  const child = spawn(command!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  child.once('exit', (code) => {
    if (code !== 0 && code !== null)
      io.notify({
        level: 'debug',
        code: 'SC_LOCAL_D0001',
        message: `engine ${index} exited ${code}: ${stderr.trim()}`,
      });
  });
  return child;
}

/** SIGTERM, then SIGKILL after 3 s; resolves once the child is gone. */
function endChild(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * `run --local -n N`: a controller in this process on 127.0.0.1 with fresh keys, N engine
 * processes, and a connected client; `close` stops all of it and deletes the keys.
 */
export async function startThrowawayCluster(options: {
  engines: number;
  io: IoHost;
  signal?: AbortSignal | undefined;
}): Promise<ThrowawayCluster> {
  const { io } = options;
  const id = 'local:cluster';
  const title = `start a local cluster of ${options.engines} engine${options.engines === 1 ? '' : 's'}`;
  io.progress({ id, state: 'start', title });
  const keys = newClusterKeys();
  const dir = await mkdtemp(join(tmpdir(), 'starcluster-local-'));
  const keyFile = join(dir, KEY_FILES.engine);
  await writeFile(keyFile, JSON.stringify(engineKeysOf(keys)), { mode: 0o600 });
  const controller = await startController({ host: '127.0.0.1', port: 0, enginePort: 0, keys });
  const children: ChildProcess[] = [];
  let client: Client | undefined;
  const close = async (): Promise<void> => {
    await client?.close().catch(() => undefined);
    await controller.close({ stopEngines: true }).catch(() => undefined);
    await Promise.all(children.map(endChild));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 1; i <= options.engines; i++) children.push(spawnEngine(controller.engineEndpoint, keyFile, i, io));
    client = await Client.connect({ endpoint: controller.clientEndpoint, keys });
    await waitForAll(client, { local: options.engines }, options.signal);
  } catch (error) {
    io.progress({ id, state: 'fail', title, detail: (error as Error).message });
    await close();
    throw error;
  }
  io.progress({ id, state: 'done', title });
  return { client, close };
}
