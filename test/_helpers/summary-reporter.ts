import type { Reporter, TestModule } from 'vitest/node';

/**
 * Ends the run with the plain closing line CI reads: `tests: N passed, N failed, N skipped`.
 * Under CI a skipped test is a failure (a suite that skips itself for want of a tool would
 * otherwise pass while proving nothing): the run exits non-zero and names what was skipped.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    const skipped: string[] = [];
    for (const mod of testModules) {
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed += 1;
        else if (state === 'failed') failed += 1;
        else skipped.push(`${mod.moduleId}: ${test.fullName}`);
      }
      // A file that failed to load has no tests but is a failure.
      if (mod.state() === 'failed' && [...mod.children.allTests()].length === 0) failed += 1;
    }
    if (process.env.CI && skipped.length > 0) {
      process.stdout.write(
        `\nUnder CI a skipped test is a failure; skipped:\n${skipped.map((s) => `  ${s}`).join('\n')}\n`,
      );
      process.exitCode = 1;
    }
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped.length} skipped\n`);
  }
}
