import { StarclusterError } from '../../src/errors.js';

/** The StarclusterError `promise` rejects with; anything else (another error, or no failure) fails the test. */
export async function failure(promise: Promise<unknown>): Promise<StarclusterError> {
  try {
    await promise;
  } catch (error) {
    if (StarclusterError.is(error)) return error;
    throw error;
  }
  throw new Error('expected a StarclusterError');
}
