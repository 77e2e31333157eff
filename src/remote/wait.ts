import { AbortError, RemoteError, StarclusterError } from '../errors.js';
import { connect, type ConnectTarget, type SshConnection } from './connection.js';
import { deadlineIn, systemClock, type Clock } from '../clock.js';

export interface WaitForSshOptions {
  /** Give up after this long in total (default 300 s). */
  timeoutMs?: number;
  /** First pause between attempts; it grows ×1.6 up to `maxDelayMs` (defaults 250 ms, 2 s). */
  initialDelayMs?: number;
  maxDelayMs?: number;
  signal?: AbortSignal;
  /** Whose time the waits and the total are measured in (default the wall clock). */
  clock?: Clock;
  /** Told about each failed attempt (for progress: "waiting for sshd on node001"). */
  onRetry?: (attempt: number, error: unknown) => void;
}

/** Codes of the SSH errors no amount of waiting fixes (a changed host key, an unusable private key, an interrupt). */
export const SSH_FATAL: ReadonlySet<string> = new Set([
  'HostKeyChanged',
  'PrivateKeyMissing',
  'PrivateKeyPermissions',
  'PrivateKeyInvalid',
  'Interrupted',
]);

/**
 * Connects to a node that may still be booting: retries with backoff until it accepts our key,
 * or fails with `SshTimeout` naming the node, the address and the last error. Never hangs: each
 * attempt has its own deadline within the total.
 */
export async function waitForSsh(target: ConnectTarget, options: WaitForSshOptions = {}): Promise<SshConnection> {
  const timeoutMs = options.timeoutMs ?? 300_000;
  const clock = options.clock ?? systemClock;
  const deadline = deadlineIn(timeoutMs, clock);
  let delay = options.initialDelayMs ?? 250;
  const maxDelay = options.maxDelayMs ?? 2_000;
  let attempt = 0;
  let last: unknown;
  for (;;) {
    if (options.signal?.aborted) throw new AbortError();
    const remaining = deadline.remaining();
    if (remaining <= 0) break;
    attempt += 1;
    try {
      return await connect(
        { ...target, connectTimeoutMs: Math.min(target.connectTimeoutMs ?? 10_000, Math.max(remaining, 1)) },
        options.signal,
      );
    } catch (error) {
      if (StarclusterError.is(error) && SSH_FATAL.has(error.code)) throw error;
      last = error;
      options.onRetry?.(attempt, error);
    }
    const pause = Math.min(delay, deadline.remaining());
    if (pause <= 0) break;
    await clock.sleep(pause, options.signal);
    delay = Math.min(delay * 1.6, maxDelay);
  }
  const reason = last instanceof Error ? last.message : 'no attempt finished';
  throw new RemoteError(
    'SshTimeout',
    `${target.alias} (${target.address}:${target.port ?? 22}) did not accept ssh within ${Math.round(timeoutMs / 1000)}s after ${attempt} attempts; last error: ${reason}`,
    {
      hint: 'check that the instance is running, that its security group lets this machine reach port 22, and that KEY_LOCATION is the key it was launched with',
      cause: last,
    },
  );
}
