import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { describe, it } from 'node:test'

const main = path.join(import.meta.dirname, '../../src/cli/main.ts')

/** Runs `tributary bench ...` and returns the JSON objects it printed. */
function bench(args: string[]): { [field: string]: unknown }[] {
  const result = spawnSync(process.execPath, [main, 'bench', ...args, '--json'], { encoding: 'utf8', timeout: 120_000 })
  assert.equal(result.status, 0, `bench ${args.join(' ')} exits 0: ${result.stderr}`)
  return result.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { [field: string]: unknown })
}

describe('benchmarks (small runs: output shape and self-checks, not speed)', () => {
  it('count prints the fields the issue names, after checking the recovered table against the input', () => {
    const [result] = bench(['count', '--backend', 'memory', '--records', '20000'])
    for (const field of ['perSec', 'ceilingPerSec', 'ratio', 'p99Ms', 'recoveryPerSec', 'rssMb', 'changelogRecords', 'ceilingChangelogRecords', 'uncoalescedCeilingPerSec', 'ratioUncoalesced']) {
      assert.equal(typeof result[field], 'number', `${field} is a number`)
      assert.ok((result[field] as number) > 0, `${field} is positive`)
    }
    assert.equal(result.bench, 'count')
    assert.equal(result.backend, 'memory')
    assert.equal(result.records, 20_000)
    assert.ok((result.changelogRecords as number) < 20_000 + 4_000, 'at most one changelog record per input')
    // The ceiling does the processor's work: one changelog record per key changed per poll, far fewer than one per input.
    const ceilingChangelog = result.ceilingChangelogRecords as number
    const ours = result.throughputChangelogRecords as number
    assert.ok(ceilingChangelog < 20_000, `the ceiling coalesces (${ceilingChangelog} changelog records for 20,000 inputs)`)
    assert.ok(Math.abs(ceilingChangelog - ours) <= 0.25 * ours, `as the processor does (ceiling ${ceilingChangelog}, ours ${ours} changelog records)`)
    assert.ok(Math.abs((result.ratio as number) - (result.perSec as number) / (result.ceilingPerSec as number)) < 0.001, 'ratio = ours / same-work ceiling')
  })

  it('log prints ours, the ceiling and the ratio per phase', () => {
    const results = bench(['log', '--backend', 'file', '--records', '20000', '--rounds', '1'])
    assert.ok(results.length >= 2, 'a result per phase')
    assert.deepEqual(results.map((r) => r.phase), ['produce', 'consume'])
    for (const r of results) {
      const { perSec, ceilingPerSec, ratio } = r as { perSec: number; ceilingPerSec: number; ratio: number }
      assert.ok(perSec > 0 && ceilingPerSec > 0, `${String(r.phase)}: both sides measured`)
      assert.ok(Math.abs(ratio - perSec / ceilingPerSec) < 0.001, `${String(r.phase)}: ratio = ours / ceiling`)
    }
  })
})
