import { describe, expect, it } from 'vitest';
import { deadlineIn } from '../../../src/clock.js';
import { retryUntil } from '../../../src/deploy/retry.js';
import { ManualClock } from '../../_helpers/clock.js';

describe('retryUntil (reaching a controller that is still starting)', () => {
  it('tries again until an attempt succeeds', async () => {
    const clock = new ManualClock();
    let attempts = 0;
    const value = await retryUntil(deadlineIn(30_000, clock), async () => {
      attempts++;
      clock.advance(3_000); // an attempt waits out its own timeout
      if (attempts < 4) throw new Error('no answer');
      return 'connected';
    });
    expect(value).toBe('connected');
    expect(attempts).toBe(4);
  });

  it('after the deadline, throws what `expired` makes of the last error', async () => {
    const clock = new ManualClock();
    let attempts = 0;
    const failing = retryUntil(
      deadlineIn(10_000, clock),
      async () => {
        attempts++;
        clock.advance(3_000);
        throw new Error(`no answer ${attempts}`);
      },
      { expired: (error) => new Error(`gave up: ${(error as Error).message}`) },
    );
    await expect(failing).rejects.toThrow('gave up: no answer 4');
    expect(attempts).toBe(4);
  });

  it('an aborted signal stops before the next attempt', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      retryUntil(deadlineIn(10_000, new ManualClock()), () => Promise.resolve(1), { signal: controller.signal }),
    ).rejects.toMatchObject({ code: 'Interrupted' });
  });
});
