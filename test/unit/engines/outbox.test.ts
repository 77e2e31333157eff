import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../_helpers/clock.js';
import type { Frames } from '../../../src/engines/protocol/sockets.js';
import { Outbox } from '../../../src/engines/protocol/sockets.js';

/** A socket whose sends finish only when the test says so. */
function slowSocket(): { socket: { send(f: Frames): Promise<void>; closed: boolean }; sent: Frames[]; finish(): void } {
  const sent: Frames[] = [];
  const waiting: (() => void)[] = [];
  return {
    sent,
    socket: {
      closed: false,
      send(frames: Frames): Promise<void> {
        sent.push(frames);
        return new Promise((resolve) => waiting.push(resolve));
      },
    },
    finish: () => waiting.shift()?.(),
  };
}

describe('Outbox', () => {
  it('sends in order, one at a time, and drain gives up at its deadline on the clock it is given', async () => {
    const { socket, sent, finish } = slowSocket();
    const out = new Outbox(socket);
    out.send(['a']);
    out.send(['b']);
    expect(sent).toEqual([['a']]);
    expect(out.pending).toBe(2);
    const clock = new ManualClock();
    // nothing finishes: drain waits on the clock until 10 s have passed on it (no real time)
    await out.drain(10_000, clock);
    expect(clock.now()).toBeGreaterThanOrEqual(10_000);
    expect(clock.sleeps.every((ms) => ms === 2)).toBe(true);
    finish();
    await Promise.resolve();
    await Promise.resolve();
    expect(sent).toEqual([['a'], ['b']]);
    finish();
    const done = new ManualClock();
    await out.drain(10_000, done);
    expect(out.pending).toBe(0);
    expect(done.now()).toBeLessThan(10_000); // it returned once the queue emptied, not at the deadline
  });

  it('sends to a synchronous socket (sendTimeout 0) at once, without waiting for the previous send, and reports refusals', async () => {
    const { socket, sent } = slowSocket();
    const errors: string[] = [];
    const sync = Object.assign(socket, { sendTimeout: 0 });
    let refuse = false;
    const send = sync.send.bind(sync);
    sync.send = (frames: Frames): Promise<void> => (refuse ? Promise.reject(new Error('EHOSTUNREACH')) : send(frames));
    const out = new Outbox(sync, (error) => errors.push((error as Error).message));
    out.send(['a']);
    out.send(['b']); // the first send's promise has not settled: a queued Outbox would hold this one back
    expect(sent).toEqual([['a'], ['b']]);
    expect(out.pending).toBe(0);
    refuse = true;
    out.send(['c']);
    await Promise.resolve();
    await Promise.resolve();
    expect(errors).toEqual(['EHOSTUNREACH']);
  });
});
