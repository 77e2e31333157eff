/**
 * Controller process entry:
 *   node --import tsx src/engines/controller/main.ts --host 10.0.0.5 --keys PATH
 *        [--port N] [--engine-port N] [--heartbeat-port N] [--scheme leastload] [--hwm auto|N] [--heartbeat-ms 500]
 * PATH is curve-controller.json or the keys dir holding it. Prints one JSON line
 * {"clientEndpoint":…,"engineEndpoint":…,"heartbeatEndpoint":…,"pid":…,"scheme":…} on stdout when ready, so a supervisor
 * can read it. SIGTERM/SIGINT: tells the engines to stop, closes, exits 0.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KEY_FILES, loadControllerKeys } from '../protocol/keys.js';
import type { HighWaterMark } from './controller.js';
import { startController } from './controller.js';
import type { Scheme } from './schedulers.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string' },
    port: { type: 'string' },
    'engine-port': { type: 'string' },
    'heartbeat-port': { type: 'string' },
    keys: { type: 'string' },
    scheme: { type: 'string' },
    hwm: { type: 'string' },
    'heartbeat-ms': { type: 'string' },
  },
});

async function main(): Promise<void> {
  const host = values.host ?? process.env.STARCLUSTER_CONTROLLER_HOST ?? '127.0.0.1';
  let keysPath = values.keys ?? process.env.STARCLUSTER_CONTROLLER_KEYS;
  if (!keysPath) {
    console.error('usage: controller/main.ts --host IP --keys curve-controller.json [--port N] [--engine-port N]');
    process.exit(2);
  }
  if ((await stat(keysPath)).isDirectory()) keysPath = join(keysPath, KEY_FILES.controller);
  const keys = await loadControllerKeys(keysPath);
  const hwm: HighWaterMark | undefined =
    values.hwm === undefined ? undefined : values.hwm === 'auto' ? 'auto' : Number(values.hwm);
  const controller = await startController({
    host,
    keys,
    ...(values.port ? { port: Number(values.port) } : {}),
    ...(values['engine-port'] ? { enginePort: Number(values['engine-port']) } : {}),
    ...(values['heartbeat-port'] ? { heartbeatPort: Number(values['heartbeat-port']) } : {}),
    ...(values.scheme ? { scheme: values.scheme as Scheme } : {}),
    ...(hwm !== undefined ? { hwm } : {}),
    ...(values['heartbeat-ms'] ? { heartbeatMs: Number(values['heartbeat-ms']) } : {}),
  });
  console.log(
    JSON.stringify({
      clientEndpoint: controller.clientEndpoint,
      engineEndpoint: controller.engineEndpoint,
      heartbeatEndpoint: controller.heartbeatEndpoint,
      pid: process.pid,
      scheme: controller.scheme,
    }),
  );
  const keepAlive = setInterval(() => {}, 1 << 30);
  const stop = (): void => {
    clearInterval(keepAlive);
    void controller.close({ stopEngines: true }).then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  console.error(`controller: ${(error as Error).message}`);
  process.exit(1);
});
