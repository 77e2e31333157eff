import type { Reporter, TestModule } from 'vitest/node';

/**
 * The e2e flow's own closing line, `N passed, N failed`. A step skipped because an earlier step
 * failed was not done, so it counts as failed; the line before names those steps.
 */
export default class E2eSummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    const notReached: string[] = [];
    for (const mod of testModules) {
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed += 1;
        else {
          failed += 1;
          if (state !== 'failed') notReached.push(test.name);
        }
      }
      if (mod.state() === 'failed' && [...mod.children.allTests()].length === 0) failed += 1;
    }
    if (notReached.length) process.stdout.write(`\nnot reached: ${notReached.join('; ')}\n`);
    process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
  }
}
