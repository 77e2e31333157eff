import { describe, expect, it } from 'vitest';
import { useCleanup } from '../../_helpers/cleanup.js';
import { StarclusterError } from '../../../src/errors.js';
import { inProcessCluster } from './helpers.js';

const cleanup = useCleanup();

const cluster = async (engines: number) => (await inProcessCluster(cleanup, engines)).client;

const slow = (ms: number, v: string): Promise<string> => new Promise((r) => setTimeout(() => r(v), ms));

async function codeOf(p: PromiseLike<unknown>): Promise<string | undefined> {
  return Promise.resolve(p).then(
    () => undefined,
    (e: unknown) => (StarclusterError.is(e) ? e.code : String(e)),
  );
}

describe('task dependencies (IPython after / follow)', () => {
  it('after: the task starts only once the tasks it waits for have completed', async () => {
    const client = await cluster(2);
    const view = client.loadBalancedView();
    const first = [view.apply(slow, 300, 'a'), view.apply(slow, 200, 'b')];
    const then = client.loadBalancedView({ after: first }).apply(() => 'c');
    expect(await then).toBe('c');
    const lastDone = Math.max(...first.map((ar) => ar.metadata[0]!.completed!));
    expect(then.metadata[0]!.started!).toBeGreaterThanOrEqual(lastDone);
    // a map after them, too
    expect(await client.loadBalancedView({ after: [then] }).map((x: number) => x * 2, [1, 2, 3])).toEqual([2, 4, 6]);
  });

  it('follow: the task runs on the engine where the followed result ran', async () => {
    const client = await cluster(2);
    // The setups alternate between the two engines, so a scheduler that ignored `follow` (a lease, or
    // leastload's choice) would miss the engine in some trial.
    for (let trial = 0; trial < 6; trial++) {
      const engine = client.ids[trial % 2]!;
      const setup = client.directView(engine).apply((v: number) => ((globalThis as { mine?: number }).mine = v), trial);
      const use = client.loadBalancedView({ follow: [setup] }).apply(() => (globalThis as { mine?: number }).mine);
      expect(await use).toBe(trial);
      expect(use.metadata[0]!.engine).toBe(engine);
    }
  });

  it('a failed dependency fails the task unrun; following two engines is impossible', async () => {
    const client = await cluster(2);
    const view = client.loadBalancedView();
    const bad = view.apply(() => {
      throw new Error('no');
    });
    const after = client.loadBalancedView({ after: [bad] }).apply(() => 1);
    expect(await codeOf(after)).toBe('DependencyFailed');
    expect(after.metadata[0]!.taskId).toBe(-1); // never sent

    const both = client.directView('all').apply(() => 0);
    await both;
    expect(await codeOf(client.loadBalancedView({ follow: [both] }).apply(() => 1))).toBe('ImpossibleDependency');
  });

  it('abort while waiting for dependencies: the task fails TaskAborted and is never sent', async () => {
    const client = await cluster(1);
    const blocker = client.loadBalancedView().apply(slow, 500, 'x');
    const waiting = client.loadBalancedView({ after: [blocker] }).apply(() => 1);
    waiting.abort();
    expect(await codeOf(waiting)).toBe('TaskAborted');
    expect(await blocker).toBe('x');
    expect(waiting.metadata[0]!.taskId).toBe(-1);
  });
});

describe('queueStatus (IPython queue_status)', () => {
  it('counts per engine the tasks sent and not answered, those answered, and those waiting', async () => {
    const client = await cluster(2);
    const view = client.loadBalancedView();
    expect(await view.map((x: number) => x, [1, 2, 3, 4])).toEqual([1, 2, 3, 4]);
    const idle = await client.queueStatus();
    expect(idle.engines.map((e) => e.id)).toEqual(client.ids);
    expect(idle.engines.reduce((s, e) => s + e.completed, 0)).toBe(4);
    expect(idle.engines.every((e) => e.queue === 0)).toBe(true);
    expect(idle.unassigned).toBe(0);
    const busy = view.map((ms: number) => new Promise((r) => setTimeout(r, ms)), [400, 400, 400, 400, 400, 400]);
    const status = await client.queueStatus(); // asked before any 400 ms task can have finished
    expect(status.engines.reduce((s, e) => s + e.queue, 0) + status.unassigned).toBeGreaterThan(0);
    await busy;
  });
});
