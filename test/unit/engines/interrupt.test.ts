import { describe, expect, it } from 'vitest';
import { useCleanup } from '../../_helpers/cleanup.js';
import { CompositeTaskError, TaskAbortedError } from '../../../src/engines/index.js';
import { processCluster, taskMarks, untilLaned, type TaskGlobals } from './helpers.js';

const cleanup = useCleanup();

/** A controller here and one real engine process (engine/main.ts: interruptible, heart thread). */
async function cluster(lanes: 'on' | 'off') {
  const { controller, client, engines } = await processCluster(cleanup, 1, lanes);
  return { controller, client, engine: engines[0]! };
}

/** Computes forever, after leaving the file `mark`. */
const spin = (mark: string): never => {
  (globalThis as unknown as TaskGlobals).require('node:fs').writeFileSync(mark, '');
  for (;;) {
    /* computes forever */
  }
};

async function rejection(p: PromiseLike<unknown>): Promise<unknown> {
  return Promise.resolve(p).then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe('abort({ running: true }) on engine processes', () => {
  it('stops a task computing forever; the engine process, its namespace and its queue carry on', async () => {
    const { client, engine } = await cluster('off');
    const dview = client.directView(0);
    await dview.push({ kept: 5 });
    const view = client.loadBalancedView();
    const marks = await taskMarks(cleanup);
    const running = view.apply(spin, marks.mark('spin'));
    const queued = view.apply((x: number) => x + 1, 1);
    await marks.started('spin');
    running.abort({ running: true });
    const error = await rejection(running.get(20_000));
    expect(error).toBeInstanceOf(TaskAbortedError);
    expect(error).toMatchObject({ running: true });
    expect((error as Error).message).toMatch(/interrupted while it ran/);
    expect(await queued.get(20_000)).toBe(2);
    expect(await dview.apply(() => (globalThis as { kept?: number }).kept)).toEqual([5]);
    expect(client.engines[0]!.pid).toBe(engine.child.pid);
    expect(engine.child.exitCode).toBeNull();
  }, 60_000);

  it('abandons an asynchronous task that never settles', async () => {
    const { client } = await cluster('off');
    const marks = await taskMarks(cleanup);
    const ar = client
      .directView(0)
      .apply(
        (m: string) =>
          new Promise(() => (globalThis as unknown as TaskGlobals).require('node:fs').writeFileSync(m, '')),
        marks.mark('hang'),
      );
    await marks.started('hang');
    ar.abort({ running: true });
    expect(await rejection(ar.get(20_000))).toMatchObject({ code: 'TaskAborted', running: true });
    expect(await client.directView(0).apply(() => 'next')).toEqual(['next']);
  }, 60_000);

  it('stops a computing task that came by the lane (the heart is reached through the controller)', async () => {
    const { client, controller } = await cluster('on');
    const dview = client.directView(0);
    await untilLaned(
      () => dview.apply(() => 0),
      () => controller.stats().submitted,
    );
    const before = controller.stats().submitted;
    const marks = await taskMarks(cleanup);
    const ar = dview.apply(spin, marks.mark('spin'));
    await marks.started('spin');
    expect(controller.stats().submitted).toBe(before); // it went by the lane
    ar.abort({ running: true });
    expect(await rejection(ar.get(20_000))).toMatchObject({ code: 'TaskAborted', running: true });
    expect(await dview.apply(() => 'after')).toEqual(['after']);
  }, 60_000);

  it('a map of endless tasks: the running one is interrupted, the queued ones never start', async () => {
    const { client } = await cluster('off');
    const marks = await taskMarks(cleanup);
    const ar = client.loadBalancedView().map(
      spin,
      [1, 2, 3, 4].map(() => marks.mark('spin')),
    );
    await marks.started('spin'); // one of them runs (the engine runs one task at a time)
    ar.abort({ running: true });
    const error = await rejection(ar.get(20_000));
    expect(error).toBeInstanceOf(CompositeTaskError);
    const errors = (error as CompositeTaskError).errors as TaskAbortedError[];
    expect(errors).toHaveLength(4);
    expect(errors.every((e) => e instanceof TaskAbortedError)).toBe(true);
    expect(errors.filter((e) => e.running)).toHaveLength(1);
  }, 60_000);
});
