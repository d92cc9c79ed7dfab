/**
 * The test command's own parts: the prerequisite check (scripts/prereqs.ts) and the closing summary
 * (scripts/test-summary.ts) in which cancelled tests count as failures.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { ensurePrerequisites, javaMajor, prerequisites, type Prerequisite } from '../../scripts/prereqs.ts'
import { closingSummary, type TestSummary } from '../../scripts/test-summary.ts'

const root = path.resolve(import.meta.dirname, '../..')

/** Runs node's test runner on fixture files with the summary reporter; returns the summary and exit status. */
function runFixtures(...files: string[]): { summary: TestSummary; status: number } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-summary-'))
  try {
    const out = path.join(dir, 'summary.json')
    const r = spawnSync(
      process.execPath,
      ['--test', `--test-reporter=${path.join(root, 'scripts/test-summary.ts')}`, `--test-reporter-destination=${out}`, ...files.map((f) => path.join(import.meta.dirname, 'fixtures', f))],
      // Without NODE_TEST_CONTEXT the nested runner reports as a top-level run would.
      { cwd: root, encoding: 'utf8', env: { ...process.env, NODE_TEST_CONTEXT: undefined } },
    )
    return { summary: JSON.parse(fs.readFileSync(out, 'utf8')) as TestSummary, status: r.status ?? 1 }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

describe('npm test summary', () => {
  it('counts a cancelled (timed-out) test as failed in the closing line and exits non-zero', () => {
    const { summary, status } = runFixtures('runner-mixed.ts')
    assert.deepEqual(
      { passed: summary.counts.passed, failed: summary.counts.failed, cancelled: summary.counts.cancelled, skipped: summary.counts.skipped },
      { passed: 1, failed: 1, cancelled: 1, skipped: 1 },
    )
    assert.deepEqual(summary.failed.map((p) => [p.name, p.failureType, p.message]), [['fails', 'testCodeFailure', 'expected 2, got 3']])
    assert.deepEqual(summary.cancelled.map((p) => [p.name, p.failureType]), [['times out', 'testTimeoutFailure']])
    const { lines, exitCode } = closingSummary(summary, { status, root })
    assert.notEqual(exitCode, 0)
    assert.equal(lines.at(-1), 'summary: 1 passed, 2 failed, 1 skipped', 'the plain closing line counts the cancelled test as failed')
    assert.match(lines.join('\n'), /cancelled .*counted as failed\):\n {2}test\/cli\/fixtures\/runner-mixed\.ts: times out \(testTimeoutFailure\)/)
    assert.match(lines.join('\n'), /# FAILED: 4 tests/)
  })

  it('a cancelled test alone still fails the run even if the runner exited 0', () => {
    const summary: TestSummary = {
      counts: { tests: 2, passed: 1, failed: 0, cancelled: 1, skipped: 0, todo: 0 },
      durationMs: 10,
      failed: [],
      cancelled: [{ file: path.join(root, 'test/x.test.ts'), name: 'slow', failureType: 'cancelledByParent', message: '' }],
    }
    const { lines, exitCode } = closingSummary(summary, { status: 0, root })
    assert.equal(exitCode, 1)
    assert.equal(lines.at(-1), 'summary: 1 passed, 1 failed')
  })

  it('passes a clean run with exit 0', () => {
    const { summary, status } = runFixtures('runner-passing.ts')
    const { lines, exitCode } = closingSummary(summary, { status, root })
    assert.equal(exitCode, 0)
    assert.equal(lines.at(-1), 'summary: 2 passed, 0 failed')
    assert.match(lines.join('\n'), /# PASSED: 2 tests/)
  })

  it('fails when the runner gave no summary, and when interrupted', () => {
    assert.deepEqual(closingSummary(undefined, { status: 0, root }).exitCode, 1)
    const { summary } = runFixtures('runner-passing.ts')
    const interrupted = closingSummary(summary, { status: 0, interrupted: 'SIGINT', root })
    assert.equal(interrupted.exitCode, 130)
    assert.match(interrupted.lines.join('\n'), /# FAILED: .*interrupted by SIGINT/)
  })
})

describe('npm test prerequisites', () => {
  it('reads Java major versions in both version formats', () => {
    assert.equal(javaMajor('openjdk version "17.0.15" 2025-04-15'), 17)
    assert.equal(javaMajor('java version "1.8.0_402"'), 8)
    assert.equal(javaMajor('openjdk version "21" 2023-09-19'), 21)
    assert.equal(javaMajor('no java here'), undefined)
  })

  it('names Java, Maven, Chromium and PostgreSQL with their Debian packages', () => {
    assert.deepEqual(prerequisites.map((p) => [p.name, p.packages[0]]), [
      ['Java 17+', 'openjdk-17-jre-headless'],
      ['Maven', 'maven'],
      ['Chromium', 'chromium'],
      ['PostgreSQL', 'postgresql'],
    ])
  })

  it('finds everything present on this machine (the test command installed what was missing)', () => {
    const lines: string[] = []
    const report = ensurePrerequisites({ install: false, print: (l) => lines.push(l) })
    assert.deepEqual(report, { ok: true, missing: [], installed: [] })
    assert.deepEqual(lines, [])
  })

  it('stops at once with the exact install command when it may not install', () => {
    const absent: Prerequisite = { name: 'Frobnicator', why: 'frobs', packages: ['frobnicator-bin'], problem: () => 'frob not found' }
    const lines: string[] = []
    const started = Date.now()
    const report = ensurePrerequisites({ install: false, print: (l) => lines.push(l), list: [prerequisites[1], absent] })
    assert.ok(Date.now() - started < 5_000, 'within seconds')
    assert.equal(report.ok, false)
    assert.deepEqual(report.missing, ['Frobnicator'])
    const sudo = process.getuid?.() === 0 ? '' : 'sudo '
    assert.equal(report.installCommand, `${sudo}apt-get update && ${sudo}DEBIAN_FRONTEND=noninteractive apt-get install -y frobnicator-bin`)
    assert.match(lines.join('\n'), /prerequisite missing: Frobnicator \(frobs\): frob not found\ninstall it and run the tests again:\n {2}.*apt-get install -y frobnicator-bin/)
  })
})
