import assert from 'node:assert/strict'
import { it } from 'node:test'
import { runMonitorBench } from '../../src/bench/monitor-bench.ts'

it('the monitor benchmark prints one JSON line with the agreed fields (small run)', () => {
  const lines: string[] = []
  const result = runMonitorBench({ groups: 14, partitions: 5, commits: 3, decodeRecords: 2_000, json: true, print: (l) => lines.push(l) })
  assert.equal(lines.length, 1)
  const parsed = JSON.parse(lines[0]) as { [k: string]: unknown }
  for (const key of ['bench', 'commits', 'ingestPerSec', 'evaluateAllMs', 'decodePerSec', 'rssMb']) assert.ok(key in parsed, key)
  assert.equal(parsed.bench, 'monitor')
  assert.equal(parsed.commits, 14 * 5 * 3)
  assert.equal(result.evaluatedPartitions, 14 * 5)
  assert.ok(result.ingestPerSec > 0 && result.decodePerSec > 0 && result.rssMb > 0)
  assert.deepEqual(Object.keys(result.statuses).sort(), ['ERR', 'OK', 'WARN'], 'the synthetic mix has every kind of group')
})
