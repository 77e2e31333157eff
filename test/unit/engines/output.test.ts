import { describe, expect, it } from 'vitest';
import { useCleanup } from '../../_helpers/cleanup.js';
import { processCluster } from './helpers.js';

const cleanup = useCleanup();

const cluster = async (engines: number, lanes: 'on' | 'off') => (await processCluster(cleanup, engines, lanes)).client;

describe('what tasks print comes back with their results (IPython ar.stdout / ar.stderr)', () => {
  it.each(['off', 'on'] as const)(
    'console output of each task, through the controller or a lane (%s)',
    async (lanes) => {
      const client = await cluster(2, lanes);
      const ar = client.loadBalancedView().map(
        async (x: number) => {
          console.log('task', x, { twice: x * 2 });
          await new Promise((r) => setTimeout(r, 5));
          console.warn(`after await ${x}`);
          return x;
        },
        [1, 2, 3],
      );
      expect(await ar).toEqual([1, 2, 3]);
      expect(ar.stdout).toEqual(['task 1 { twice: 2 }\n', 'task 2 { twice: 4 }\n', 'task 3 { twice: 6 }\n']);
      expect(ar.stderr).toEqual(['after await 1\n', 'after await 2\n', 'after await 3\n']);
      const quiet = client.directView(0).apply(() => 1);
      await quiet;
      expect(quiet.stdout).toEqual(['']);
      expect(quiet.metadata[0]!.stdout).toBeUndefined();
    },
    60_000,
  );

  it('a failing task keeps what it printed; a flood is cut', async () => {
    const client = await cluster(1, 'off');
    const failing = client.loadBalancedView().apply(() => {
      console.error('about to fail');
      throw new Error('no');
    });
    await expect(failing).rejects.toThrow(/no/);
    expect(failing.stderr).toEqual(['about to fail\n']);
    const flood = client.directView(0).apply(() => {
      for (let i = 0; i < 20_000; i++) console.log('x'.repeat(20));
    });
    await flood;
    expect(flood.stdout[0]!.length).toBeLessThan(70_000);
    expect(flood.stdout[0]).toMatch(/\[output cut at 65536 characters\]\n$/);
  }, 60_000);
});
