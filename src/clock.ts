import { AbortError } from './errors.js';

/**
 * Time, for code that waits or gives up: the one place that reads the wall clock and sets timers
 * for waits, so a test can hand in a clock of its own (test/_helpers/clock.ts: `ManualClock`, where
 * a wait of minutes passes at once and a deadline can be reached without waiting for it).
 */
export interface Clock {
  /** Milliseconds since the epoch, as `Date.now()`. */
  now(): number;
  /** Waits `ms`; an abort of `signal` ends the wait at once with an AbortError. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** A point in time that a wait must not pass, read on its clock. */
export interface Deadline {
  /** Milliseconds left, never below 0. */
  remaining(): number;
  expired(): boolean;
}

/** Waits `ms` on the real timers; an abort of `signal` ends the wait at once with an AbortError. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(new AbortError());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The wall clock and real timers. */
export const systemClock: Clock = { now: () => Date.now(), sleep };

/** The deadline `ms` from now on `clock`. */
export function deadlineIn(ms: number, clock: Clock = systemClock): Deadline {
  const at = clock.now() + ms;
  return {
    remaining: () => Math.max(0, at - clock.now()),
    expired: () => clock.now() >= at,
  };
}
