/** `bench kinesis`, small run: the fields the issue names, both sides measured, failover measured. */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { describe, it } from 'node:test'

const main = path.join(import.meta.dirname, '../../src/cli/main.ts')

describe('bench kinesis (small run: output shape, not speed)', () => {
  it('prints records, perSec, ceilingPerSec, ratio and failoverMs as one JSON line', () => {
    const result = spawnSync(process.execPath, [main, 'bench', 'kinesis', '--records', '2000', '--rounds', '1', '--lease-duration', '1000', '--tick', '200', '--json'], {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, TRIBUTARY_LOG_LEVEL: 'error' },
    })
    assert.equal(result.status, 0, result.stderr)
    const lines = result.stdout.split('\n').filter((l) => l.startsWith('{'))
    assert.equal(lines.length, 1)
    const r = JSON.parse(lines[0]) as Record<string, number | string>
    assert.equal(r.bench, 'kinesis')
    assert.equal(r.records, 2000)
    for (const field of ['perSec', 'ceilingPerSec', 'ratio', 'failoverMs', 'takenMs']) assert.ok(typeof r[field] === 'number' && r[field] > 0, `${field} is a positive number`)
    assert.ok(Math.abs((r.ratio as number) - (r.perSec as number) / (r.ceilingPerSec as number)) < 0.01)
    assert.ok((r.takenMs as number) >= 500, 'the leases were not taken before they could expire')
  })
})
