// Prints the plain closing line CI reads ("tests: N passed, N failed, N skipped") after Jest's own summary.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const broken = results.numRuntimeErrorTestSuites;
    process.stdout.write(
      `\ntests: ${results.numPassedTests} passed, ${results.numFailedTests + broken} failed, ${skipped} skipped\n`,
    );
  }
}
module.exports = SummaryReporter;
