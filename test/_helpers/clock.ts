import type { Clock } from '../../src/clock.js';
import { AbortError } from '../../src/errors.js';

/**
 * A clock whose time moves only when the code under test waits: `sleep(ms)` adds `ms` at once and
 * is recorded, so a wait of minutes takes no time and a deadline is reached after exactly the
 * waits the code chose (no real timer, nothing to guess).
 */
export class ManualClock implements Clock {
  /** Every wait asked for, in order. */
  readonly sleeps: number[] = [];

  constructor(private time = 0) {}

  now(): number {
    return this.time;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(new AbortError());
    this.sleeps.push(ms);
    this.time += ms;
    return Promise.resolve();
  }

  /** Time passing while no one waits (a command that ran long). */
  advance(ms: number): void {
    this.time += ms;
  }
}
