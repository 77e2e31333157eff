import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { isAlive, nodeEntryCommand } from '../cloud/local/entry.js';
import { readNodeStatus, writeDesired } from '../cloud/local/index.js';
import type { DesiredProcess } from '../cloud/local/node/files.js';
import type { NodeRecord } from '../model/node.js';
import { RUNTIME_ENTRIES } from '../engines/entries.js';
import { KEY_FILES } from '../engines/protocol/keys.js';
import { deadlineIn, systemClock, type Clock } from '../clock.js';
import type { NodeLayout, PreparedRuntime } from './plan.js';
import type { NodeRunner } from './runner.js';
import type { EngineState } from './state.js';

/** How long `stop` gives local supervisors to end their children; terminate kills whatever remains. */
const STOP_WAIT_MS = 5_000;

/** A free TCP port on `host` (the kernel's pick). */
export async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Our own entry points as this machine runs them: from dist/, or the sources under tsx. */
export function localEntryCommand(entry: keyof typeof RUNTIME_ENTRIES): string[] {
  return nodeEntryCommand(RUNTIME_ENTRIES[entry], ['--enable-source-maps']);
}

export function localLayout(stateDir: string): NodeLayout {
  return {
    command: { controller: localEntryCommand('controller'), engine: localEntryCommand('engine') },
    keys: { controller: join(stateDir, KEY_FILES.controller), engine: join(stateDir, KEY_FILES.engine) },
  };
}

/**
 * PROVIDER = local: each node is a supervisor process on this machine (src/cloud/local/node) that
 * keeps running what its desired.json lists; the runtime runs from this checkout, with the keys in
 * the cluster's state folder, and the controller on 127.0.0.1.
 */
export class LocalNodeRunner implements NodeRunner {
  constructor(
    private readonly stateDir: string,
    private readonly clock: Clock = systemClock,
  ) {}

  async prepare(nodes: readonly NodeRecord[], previous: EngineState | undefined): Promise<PreparedRuntime> {
    const host = '127.0.0.1';
    const layout = localLayout(this.stateDir);
    return {
      provider: 'local',
      controller: {
        host,
        clientPort: previous?.clientPort ?? (await freePort(host)),
        enginePort: previous?.enginePort ?? (await freePort(host)),
      },
      nodes: nodes.map((n) => ({ alias: n.alias, cores: 1, layout })),
    };
  }

  async run(processes: ReadonlyMap<string, DesiredProcess[]>): Promise<void> {
    for (const [alias, list] of processes) await writeDesired(this.stateDir, alias, { processes: list });
  }

  async stop(nodes: readonly NodeRecord[], whole: boolean): Promise<void> {
    for (const n of nodes) await writeDesired(this.stateDir, n.alias, { processes: [] });
    // The whole runtime is going: its keys go too (a new start makes new ones).
    if (whole) for (const file of Object.values(KEY_FILES)) await rm(join(this.stateDir, file), { force: true });
    const deadline = deadlineIn(STOP_WAIT_MS, this.clock);
    for (const n of nodes) {
      while (!deadline.expired()) {
        const status = await readNodeStatus(this.stateDir, n.alias);
        if (!status || status.children.every((c) => c.state !== 'running' && c.state !== 'restarting')) break;
        await this.clock.sleep(100);
      }
    }
  }

  /** True while the master's supervisor reports a live controller. */
  async controllerAlive(): Promise<boolean> {
    const status = await readNodeStatus(this.stateDir, 'master');
    const controller = status?.children.find((c) => c.name === 'controller');
    return controller?.state === 'running' && isAlive(controller.pid);
  }

  close(): void {}
}
