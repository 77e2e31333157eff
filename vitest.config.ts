import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**', 'node_modules/**'],
    reporters: ['default', './test/_helpers/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 300_000,
    // Integration tests share one LocalStack and one fleet; they run one file at a time.
    fileParallelism: true,
    pool: 'forks',
    projects: [
      // `extends` concatenates include/exclude lists with the root's, so each project excludes the other's folder.
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], exclude: ['test/integration/**'] } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          exclude: ['test/unit/**'],
          // LocalStack (localstack/start.sh) starts when an integration test file runs, and is
          // stopped at the end only if this run started it.
          setupFiles: ['./test/_helpers/localstack-env.ts'],
          globalSetup: ['./test/_helpers/localstack-setup.ts'],
          fileParallelism: false,
        },
      },
    ],
  },
});
