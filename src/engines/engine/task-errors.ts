import { INTERRUPTED_MESSAGE } from '../protocol/messages.js';

/** A task aborted before it started, or interrupted while it ran (`running`). */
export function abortedError(running: boolean): Error {
  const err = new Error(running ? INTERRUPTED_MESSAGE : 'aborted before it started');
  err.name = 'TaskAborted';
  return err;
}

export function toError(value: unknown): Error {
  if (value instanceof Error || Object.prototype.toString.call(value) === '[object Error]') return value as Error;
  const err = new Error(typeof value === 'string' ? value : `non-error thrown: ${safeString(value)}`);
  err.name = 'Error';
  return err;
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
