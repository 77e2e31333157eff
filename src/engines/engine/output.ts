/* eslint-disable no-console -- this module routes console output into task results; it prints nothing itself */
import { format } from 'node:util';

/** What one task printed through `console` (IPython's per-task stdout/stderr). */
export interface TaskOutput {
  out: string;
  err: string;
}

/** Per stream and task; the rest is cut with a note of how much. */
const MAX_CHARS = 64 * 1024;

const STREAM_OF = { log: 'out', info: 'out', debug: 'out', warn: 'err', error: 'err' } as const;

let current: TaskOutput | undefined;
let hooked = false;

/**
 * Routes `console.log/info/debug` (stdout) and `console.warn/error` (stderr) into the output of the
 * task running now, so it travels back with the task's result instead of into the engine's log; with
 * no task running they print as usual. Installed once per process (the shipped functions' namespace
 * and imported job modules share this console). An engine runs one task at a time, so the task
 * running now owns what is printed, including after its awaits.
 */
export function captureConsole(): void {
  if (hooked) return;
  hooked = true;
  for (const name of Object.keys(STREAM_OF) as (keyof typeof STREAM_OF)[]) {
    const original = console[name].bind(console);
    const stream = STREAM_OF[name];
    console[name] = (...args: unknown[]): void => {
      const out = current;
      if (!out) return original(...args);
      const text = `${format(...args)}\n`;
      const room = MAX_CHARS - out[stream].length;
      if (room > 0)
        out[stream] += text.length <= room ? text : `${text.slice(0, room)}\n[output cut at ${MAX_CHARS} characters]\n`;
    };
  }
}

/** Starts collecting for a task; returns its output record. */
export function beginOutput(): TaskOutput {
  current = { out: '', err: '' };
  return current;
}

/** Stops collecting into `output` (if it is still the current one). */
export function endOutput(output: TaskOutput | undefined): void {
  if (output && current === output) current = undefined;
}
