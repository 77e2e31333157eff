import type { Deadline } from '../clock.js';
import { throwIfAborted } from '../errors.js';

/**
 * Calls `attempt` until it succeeds (each attempt bounds its own wait, as Client.connect's timeout
 * does); once `deadline` has passed, the last attempt's error goes to `expired`, which returns what
 * to throw.
 */
export async function retryUntil<T>(
  deadline: Deadline,
  attempt: () => Promise<T>,
  options: { signal?: AbortSignal | undefined; expired?: (error: unknown) => unknown | Promise<unknown> } = {},
): Promise<T> {
  for (;;) {
    throwIfAborted(options.signal);
    try {
      return await attempt();
    } catch (error) {
      if (deadline.expired()) throw options.expired ? await options.expired(error) : error;
    }
  }
}
