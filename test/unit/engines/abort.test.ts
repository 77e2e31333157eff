import { describe, expect, it } from 'vitest';
import { useCleanup } from '../../_helpers/cleanup.js';
import { CompositeTaskError, TaskAbortedError, TaskTimeLimitError } from '../../../src/engines/index.js';
import { inProcessCluster, taskMarks, untilLaned, type TaskGlobals } from './helpers.js';

const cleanup = useCleanup();

const cluster = (engines: number, lanes: 'auto' | 'on' | 'off') => inProcessCluster(cleanup, engines, { lanes });

/**
 * A task that leaves the file `mark` when it starts, then holds its engine for `ms` (an engine runs one
 * task at a time, so nothing sent to it can release it early); the aborts below are sent once the mark
 * is there and reach the engine within milliseconds.
 */
const held = (label: string, ms: number, mark: string): Promise<string> => {
  (globalThis as unknown as TaskGlobals).require('node:fs').writeFileSync(mark, '');
  return new Promise((resolve) => setTimeout(() => resolve(label), ms));
};
const HOLD_MS = 2_000;

describe('abort', () => {
  it('through the controller: tasks not started fail TaskAborted, the running one finishes', async () => {
    const { client } = await cluster(1, 'off');
    const view = client.loadBalancedView();
    const marks = await taskMarks(cleanup);
    const running = view.apply(held, 'first', HOLD_MS, marks.mark('first'));
    await marks.started('first');
    const queued = Array.from({ length: 5 }, (_, i) => view.apply((x: number) => x, i));
    // let some reach the engine's own queue (the high-water mark) and some stay in the controller's
    await new Promise((r) => setTimeout(r, 100));
    for (const ar of queued) ar.abort();
    running.abort(); // already started: runs on
    expect(await running).toBe('first');
    for (const ar of queued) await expect(ar).rejects.toBeInstanceOf(TaskAbortedError);
    // the engine goes on working
    expect(await view.apply((x: number) => x * 3, 7)).toBe(21);
  });

  it('a map aborted part-way: finished parts keep their values, the rest fail TaskAborted', async () => {
    const { client } = await cluster(1, 'off');
    const view = client.loadBalancedView();
    const marks = await taskMarks(cleanup);
    const ar = view.map(
      (mark: string) => {
        (globalThis as unknown as TaskGlobals).require('node:fs').writeFileSync(mark, '');
        return new Promise<string>((resolve) => setTimeout(() => resolve(mark.slice(-1)), 2_000));
      },
      ['a', 'b', 'c', 'd'].map((x) => marks.mark(x)),
      { chunksize: 1 },
    );
    await marks.started('a');
    ar.abort();
    const err = await ar.then(
      () => undefined,
      (e: unknown) => e,
    );
    // 'a' was running and finished; the three behind it never started
    expect(err).toBeInstanceOf(CompositeTaskError);
    const errors = (err as CompositeTaskError).errors;
    expect(errors).toHaveLength(3);
    for (const e of errors) expect(e).toBeInstanceOf(TaskAbortedError);
    expect(ar.progress).toBe(4);
  });

  it('on a lane: direct tasks queued behind a running one on the engine are aborted there', async () => {
    const { client, controller } = await cluster(1, 'on');
    const dview = client.directView(0);
    await untilLaned(
      () => dview.apply(() => 0),
      () => controller.stats().submitted,
    );
    const before = controller.stats().submitted;
    const marks = await taskMarks(cleanup);
    const running = dview.apply(held, 'lane', HOLD_MS, marks.mark('lane'));
    const queued = [dview.apply(() => 1), dview.apply(() => 2)];
    await marks.started('lane');
    for (const ar of queued) ar.abort();
    expect(await running).toEqual(['lane']);
    for (const ar of queued) await expect(ar).rejects.toBeInstanceOf(TaskAbortedError);
    expect(controller.stats().submitted - before).toBeLessThanOrEqual(1); // only the push may relay
  });
});

describe('time limits', () => {
  it('a synchronous task past its limit is stopped with TaskTimeLimit; the engine keeps working', async () => {
    const { client } = await cluster(1, 'auto');
    const view = client.loadBalancedView({ timeLimitMs: 200 });
    const ar = view.apply(() => {
      for (;;) {
        /* spin */
      }
    });
    const err = await ar.get(10_000).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TaskTimeLimitError);
    expect((err as TaskTimeLimitError).message).toMatch(/time limit of 200 ms/);
    expect(await view.apply((x: number) => x + 1, 1)).toBe(2);
    // the engine's namespace survives the stop
    await client.directView(0).push({ kept: 5 });
    expect(
      await client.directView(0, { timeLimitMs: 1000 }).apply(() => (globalThis as { kept?: number }).kept),
    ).toEqual([5]);
  });

  it('an asynchronous task that does not settle in time is abandoned with TaskTimeLimit', async () => {
    const { client } = await cluster(1, 'off');
    const dview = client.directView(0, { timeLimitMs: 150 });
    await expect(dview.apply(() => new Promise(() => {})).get(10_000)).rejects.toBeInstanceOf(TaskTimeLimitError);
    expect(await dview.apply(() => Promise.resolve('fast'))).toEqual(['fast']);
  });

  it('tasks within their limit are unaffected, and a bad limit is refused before anything is sent', async () => {
    const { client } = await cluster(1, 'auto');
    const view = client.loadBalancedView({ timeLimitMs: 5_000 });
    expect(await view.map((x: number) => x * x, [1, 2, 3])).toEqual([1, 4, 9]);
    expect(() => client.loadBalancedView({ timeLimitMs: -1 })).toThrow(/timeLimitMs must be a positive number/);
    expect(() => client.directView(0, { timeLimitMs: Number.NaN })).toThrow(/got NaN/);
  });
});
