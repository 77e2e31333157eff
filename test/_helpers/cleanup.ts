import { afterEach } from 'vitest';

/** What a test file undoes after each test: close clients, stop controllers, kill processes, remove folders. */
export type Cleanup = (() => Promise<unknown> | unknown)[];

/**
 * The list a test pushes its undo steps onto, emptied after each test in reverse order (last made,
 * first undone); one that fails does not stop the others. Call once at the top of a test file.
 */
export function useCleanup(): Cleanup {
  const cleanup: Cleanup = [];
  afterEach(async () => {
    while (cleanup.length) await Promise.resolve(cleanup.pop()!()).catch(() => {});
  });
  return cleanup;
}
