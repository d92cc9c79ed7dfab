import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { describe, it } from 'node:test'

const main = path.join(import.meta.dirname, '../../src/cli/main.ts')

describe('ingest benchmark (a small run: output shape and the self-check, not speed)', () => {
  it('prints ours, the ceiling, the ratio and RSS per processor count, after comparing both tables', () => {
    const result = spawnSync(process.execPath, [main, 'bench', 'ingest', '--records', '3000', '--processors', '1', '--rounds', '1', '--batch', '1000', '--json'], { encoding: 'utf8', timeout: 50_000 })
    assert.equal(result.status, 0, result.stderr)
    const lines = result.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { [k: string]: unknown })
    assert.equal(lines.length, 1)
    const r = lines[0]
    assert.equal(r.bench, 'ingest')
    assert.equal(r.records, 3000)
    assert.equal(r.processors, 1)
    for (const f of ['perSec', 'ceilingPerSec', 'ratio', 'rssMb']) assert.ok(typeof r[f] === 'number' && (r[f] as number) > 0, f)
    assert.ok(Math.abs((r.ratio as number) - (r.perSec as number) / (r.ceilingPerSec as number)) < 0.01)
  })
})
