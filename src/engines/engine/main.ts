/**
 * Engine process entry:
 *   node --import tsx src/engines/engine/main.ts --controller tcp://HOST:PORT --keys PATH [--node NAME]
 * (or env STARCLUSTER_CONTROLLER, STARCLUSTER_ENGINE_KEYS, STARCLUSTER_NODE). PATH is curve-engine.json
 * or the keys dir holding it. Prints one JSON line {"engine":ID,"uuid":…,"pid":…} once registered;
 * exits 0 when the controller stops it, 1 when the controller is lost or registration fails. SIGINT
 * interrupts the task being computed (the engine lives on); SIGTERM ends the engine.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KEY_FILES, loadPeerKeys } from '../protocol/keys.js';
import { startEngine } from './engine.js';

const { values } = parseArgs({
  options: {
    controller: { type: 'string' },
    keys: { type: 'string' },
    node: { type: 'string' },
    'register-timeout-ms': { type: 'string' },
  },
});

async function main(): Promise<number> {
  const controller = values.controller ?? process.env.STARCLUSTER_CONTROLLER;
  let keysPath = values.keys ?? process.env.STARCLUSTER_ENGINE_KEYS;
  if (!controller || !keysPath) {
    console.error('usage: engine/main.ts --controller tcp://HOST:PORT --keys curve-engine.json [--node NAME]');
    return 2;
  }
  if ((await stat(keysPath)).isDirectory()) keysPath = join(keysPath, KEY_FILES.engine);
  const keys = await loadPeerKeys(keysPath);
  const timeout = values['register-timeout-ms'];
  const engine = await startEngine({
    controller,
    keys,
    node: values.node ?? process.env.STARCLUSTER_NODE,
    exitOnLost: true,
    interruptible: true,
    ...(timeout ? { registerTimeoutMs: Number(timeout) } : {}),
  });
  console.log(JSON.stringify({ engine: engine.id, uuid: engine.uuid, pid: process.pid }));
  // SIGINT interrupts the running task (as in IPython); SIGTERM ends the process.
  const why = await engine.ended;
  return why === 'lost' ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`engine: ${(error as Error).message}`);
    process.exit(1);
  },
);
