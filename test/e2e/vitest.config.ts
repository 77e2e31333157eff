import { defineConfig } from 'vitest/config';

/**
 * `npm run test:e2e`: the used-by flow on LocalStack + the test fleet, one file at a time, steps in
 * order. Not part of `npm test` (it needs root for the fleet and takes minutes). LocalStack is
 * started by the same setup file and global setup as the integration project.
 */
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    reporters: ['default', './test/e2e/summary-reporter.ts'],
    setupFiles: ['./test/_helpers/localstack-env.ts'],
    globalSetup: ['./test/_helpers/localstack-setup.ts'],
    testTimeout: 900_000,
    hookTimeout: 900_000,
    fileParallelism: false,
    pool: 'forks',
    sequence: { concurrent: false },
  },
});
