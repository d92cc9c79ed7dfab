/**
 * A node:test reporter that writes one JSON object — the run's counts and every test that failed or
 * was cancelled, with its file — for scripts/test.ts to print as the closing summary. Cancelled tests
 * (timed out, or their file crashed or ended first) are listed apart from failed ones, and the summary
 * counts both as failures.
 * @module
 */
import path from 'node:path'
import type { TestEvent } from 'node:test/reporters'

/** One test that did not pass. */
export interface TestProblem {
  file: string | undefined
  name: string
  /** node:test's failure type: testCodeFailure, testTimeoutFailure, cancelledByParent, hookFailure... */
  failureType: string
  message: string
}

/** What the reporter writes. */
export interface TestSummary {
  counts: { tests: number; passed: number; failed: number; cancelled: number; skipped: number; todo: number }
  durationMs: number
  failed: TestProblem[]
  cancelled: TestProblem[]
}

/** Failure types that mean the test did not get to finish. */
export const CANCELLED_TYPES = new Set(['testTimeoutFailure', 'cancelledByParent'])

export default async function* summaryReporter(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const summary: TestSummary = { counts: { tests: 0, passed: 0, failed: 0, cancelled: 0, skipped: 0, todo: 0 }, durationMs: 0, failed: [], cancelled: [] }
  for await (const event of source) {
    if (event.type === 'test:fail') {
      const data = event.data as { name: string; file?: string; details: { type?: string; error?: { failureType?: string; cause?: unknown; message?: string } } }
      if (data.details.type === 'suite') continue
      const error = data.details.error
      const failureType = error?.failureType ?? 'unknown'
      const cause = error?.cause
      const message = (cause instanceof Error ? cause.message : typeof cause === 'string' ? cause : error?.message ?? '').split('\n')[0].slice(0, 300)
      const problem = { file: data.file, name: data.name, failureType, message }
      ;(CANCELLED_TYPES.has(failureType) ? summary.cancelled : summary.failed).push(problem)
    } else if (event.type === 'test:summary') {
      const data = event.data as unknown as { file?: string; counts: TestSummary['counts']; duration_ms: number }
      if (data.file !== undefined) continue
      const { tests, passed, failed, cancelled, skipped, todo } = data.counts
      summary.counts = { tests, passed, failed, cancelled, skipped, todo }
      summary.durationMs = data.duration_ms
    }
  }
  yield `${JSON.stringify(summary)}\n`
}

/**
 * The closing lines of a test run and its exit code: the tests that failed and those cancelled, a
 * verdict, and last the plain `summary: N passed, N failed[, N skipped]` line in which cancelled
 * tests count as failed. Non-zero unless every test passed and the runner exited 0.
 *
 * @example
 * ```ts
 * const { lines, exitCode } = closingSummary(summary, { status: 0, root: process.cwd() })
 * ```
 */
export function closingSummary(
  summary: TestSummary | undefined,
  run: { status: number; interrupted?: string; root: string },
): { lines: string[]; exitCode: number } {
  const lines: string[] = []
  const interrupted = run.interrupted ? `; interrupted by ${run.interrupted}` : ''
  if (!summary) {
    lines.push(`\n# FAILED: the test runner exited ${run.status} without a summary${interrupted}`, 'summary: 0 passed, 1 failed')
    return { lines, exitCode: run.status === 0 ? 1 : run.status }
  }
  const show = (p: TestProblem): string =>
    `  ${p.file ? path.relative(run.root, p.file) : '?'}: ${p.name} (${p.failureType})${p.message ? `: ${p.message}` : ''}`
  if (summary.failed.length > 0) lines.push('', 'failed:', ...summary.failed.map(show))
  if (summary.cancelled.length > 0) lines.push('', 'cancelled (timed out, or the file crashed or ended first; counted as failed):', ...summary.cancelled.map(show))
  const { counts } = summary
  const bad = counts.failed + counts.cancelled
  const passed = bad === 0 && run.status === 0 && !run.interrupted
  lines.push(
    '',
    `# ${passed ? 'PASSED' : 'FAILED'}: ${counts.tests} tests in ${(summary.durationMs / 1000).toFixed(1)} s: ${counts.passed} passed, ${counts.failed} failed, ` +
      `${counts.cancelled} cancelled${counts.todo ? `, ${counts.todo} todo` : ''}${interrupted}`,
    // The closing line, in the plain form CI reads.
    `summary: ${counts.passed} passed, ${bad} failed${counts.skipped ? `, ${counts.skipped} skipped` : ''}`,
  )
  return { lines, exitCode: passed ? 0 : run.interrupted ? 130 : run.status !== 0 ? run.status : 1 }
}
