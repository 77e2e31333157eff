/**
 * The SIGINT keeper's thread (see SigintKeeper in heart.ts, which starts it): it holds one `vm`
 * SIGINT watchdog for the life of the engine, only waiting. Node starts its SIGINT watchdog machinery
 * (a thread of its own) with the first registration and stops it with the last; with this one always
 * there, a task run with `breakOnSigint` costs about a microsecond instead of tens, and a SIGINT that
 * finds no task computing is swallowed here instead of ending the process.
 */
import vm from 'node:vm';
import { workerData } from 'node:worker_threads';

/** `workerData`: a SharedArrayBuffer of one Int32; the main thread sets it to 1 to stop the keeper. */
const cell = new Int32Array(workerData as SharedArrayBuffer);
(globalThis as { __starclusterKeeperCell?: Int32Array }).__starclusterKeeperCell = cell;
const wait = new vm.Script('Atomics.wait(__starclusterKeeperCell, 0, 0)', { filename: 'sigint-keeper' });
for (;;) {
  try {
    wait.runInThisContext({ breakOnSigint: true });
  } catch {
    // a SIGINT (no task was computing): wait again
  }
  if (Atomics.load(cell, 0) !== 0) break;
}
