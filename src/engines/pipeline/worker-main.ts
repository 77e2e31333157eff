/**
 * Pipeline worker process entry:
 *   node --import tsx src/engines/pipeline/worker-main.ts --distributor EP --collector EP --control EP
 *        --keys DIR|curve-engine.json [--id N] [--module name=file.mjs]… [--idle-exit MS]
 *        [--sc-pipeline=CLUSTER/RUN]
 * Exits 0 when the control socket says STOP, or (with --idle-exit) when the distributor has been
 * silent that long. `--sc-pipeline` only marks the process, so a run's workers on a node can be
 * found and stopped (pkill -f) as a group.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KEY_FILES, loadPeerKeys } from '../protocol/keys.js';
import { startPipelineWorker } from './worker.js';

const { values } = parseArgs({
  options: {
    distributor: { type: 'string' },
    collector: { type: 'string' },
    control: { type: 'string' },
    keys: { type: 'string' },
    id: { type: 'string' },
    module: { type: 'string', multiple: true },
    'idle-exit': { type: 'string' },
    'sc-pipeline': { type: 'string' },
  },
});

async function main(): Promise<number> {
  const { distributor, collector, control } = values;
  let keysPath = values.keys;
  if (!distributor || !collector || !control || !keysPath) {
    process.stderr.write('usage: worker-main.ts --distributor EP --collector EP --control EP --keys PATH [--id N]\n');
    return 2;
  }
  if ((await stat(keysPath)).isDirectory()) keysPath = join(keysPath, KEY_FILES.engine);
  const modules: Record<string, Uint8Array> = {};
  for (const spec of values.module ?? []) {
    const eq = spec.indexOf('=');
    modules[spec.slice(0, eq)] = await readFile(spec.slice(eq + 1));
  }
  const worker = await startPipelineWorker({
    endpoints: { distributor, collector, control },
    keys: await loadPeerKeys(keysPath),
    ...(values.id ? { id: Number(values.id) } : {}),
    ...(values['idle-exit'] ? { idleExitMs: Number(values['idle-exit']) } : {}),
    modules,
  });
  process.once('SIGTERM', () => void worker.close());
  process.once('SIGINT', () => void worker.close());
  process.once('SIGHUP', () => void worker.close());
  await worker.done;
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`pipeline worker: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
