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
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // Starts LocalStack (localstack/start.sh) only when integration tests are in the run.
          globalSetup: ['./test/_helpers/localstack-setup.ts'],
          fileParallelism: false,
        },
      },
    ],
  },
});
