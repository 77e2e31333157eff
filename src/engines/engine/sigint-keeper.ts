/**
 * The SIGINT keeper's thread (see SigintKeeper in heart.ts, which starts it): it holds one `vm`
 * SIGINT watchdog for the life of the engine, only waiting. Node starts its SIGINT watchdog machinery
 * (a thread of its own) with the first registration and stops it with the last; with this one always
 * there, a task run with `breakOnSigint` costs about a microsecond instead of tens, and a SIGINT that
 * finds no task computing is swallowed here instead of ending the process.
 *
 * Order matters: Node hands a SIGINT only to the most recently registered watchdog. The keeper's must
 * be older than any computing task's, or the task's interrupts would all land here. So the keeper says
 * when it is registered (the main thread runs no interruptible task before that), and after it has
 * swallowed a SIGINT it registers again only once the engine computes nothing (slot 1 of the interrupt
 * slots, see INTERRUPT_SLOTS in heart.ts): while a task computes, its own watchdog takes the heart's
 * next signal.
 */
import vm from 'node:vm';
import { workerData } from 'node:worker_threads';

/** `workerData`: see SigintKeeperData in heart.ts. */
const data = workerData as { cell: SharedArrayBuffer; interrupts?: SharedArrayBuffer };
const cell = new Int32Array(data.cell);
const slots = data.interrupts ? new BigInt64Array(data.interrupts) : undefined;
(globalThis as { __starclusterKeeperCell?: Int32Array }).__starclusterKeeperCell = cell;
// runs inside the watchdog's registration: [1] = 1 says so, then the thread sleeps until [0] is set
const wait = new vm.Script(
  'Atomics.store(__starclusterKeeperCell, 1, 1), Atomics.notify(__starclusterKeeperCell, 1), ' +
    'Atomics.wait(__starclusterKeeperCell, 0, 0)',
  { filename: 'sigint-keeper' },
);
const computing = (): boolean => slots !== undefined && (Atomics.load(slots, 1) & 1n) !== 0n;
for (;;) {
  try {
    wait.runInThisContext({ breakOnSigint: true });
  } catch {
    // a SIGINT that no newer watchdog took
  }
  Atomics.store(cell, 1, 0);
  if (Atomics.load(cell, 0) !== 0) break;
  // a task computing now registered its watchdog before ours would be: stay out of its way until it ends
  while (computing() && Atomics.load(cell, 0) === 0) Atomics.wait(cell, 0, 0, 1);
}
