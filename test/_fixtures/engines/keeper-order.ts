/**
 * A process for sigint-keeper.test.ts. A task computes under `vm`'s breakOnSigint (in a thread here,
 * so that this thread can watch), and only then does the SIGINT keeper start, so its watchdog is
 * registered AFTER the task's: the order that used to swallow every interrupt (Node hands a SIGINT to
 * the newest watchdog only). Prints `keeper registered`; the parent then signals SIGINT every 50 ms, as
 * the heart does, and this prints what the task's run ended with (`ERR_SCRIPT_EXECUTION_INTERRUPTED`).
 */
import { Worker } from 'node:worker_threads';
import { INTERRUPT_SLOTS, SigintKeeper } from '../../../src/engines/engine/heart.js';

const slots = new BigInt64Array(new SharedArrayBuffer(INTERRUPT_SLOTS * 8));
const task = new Worker(
  `const { parentPort, workerData } = require('node:worker_threads');
  const slots = new BigInt64Array(workerData);
  Atomics.store(slots, 1, 1n); // computing, as Engine.runOne marks it
  parentPort.postMessage('computing');
  try {
    require('node:vm').runInThisContext('for (;;) {}', { breakOnSigint: true });
  } catch (error) {
    parentPort.postMessage(error.code);
  }
  Atomics.store(slots, 1, 0n);`,
  { eval: true, workerData: slots.buffer },
);
const said = (): Promise<string> => new Promise((resolve) => task.once('message', resolve));
await said(); // computing
const keeper = new SigintKeeper(slots.buffer as SharedArrayBuffer);
console.log((await keeper.ready(30_000)) ? 'keeper registered' : 'keeper not registered');
console.log(await said());
await keeper.ready(30_000);
await keeper.stop();
