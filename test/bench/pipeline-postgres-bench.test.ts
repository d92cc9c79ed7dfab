/**
 * The Kafka → PostgreSQL bench on the real broker and server (small): every figure is there, every
 * row landed (the bench checks the tables itself and throws otherwise), and the same-work ceiling
 * is reported beside the COPY one.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { kafkaToPostgres } from '../../src/bench/pipeline-postgres-bench.ts'

describe('bench pipeline --case kafka-postgres', () => {
  it('measures ours, the raw COPY and the same-work loop over the same rows', async () => {
    const r = await kafkaToPostgres({ records: 3_000 })
    assert.equal(r.case, 'kafka-postgres')
    assert.equal(r.records, 3_000)
    for (const field of ['perSec', 'ceilingPerSec', 'upsertPerSec', 'pipelineOnlyPerSec', 'destinationOnlyPerSec', 'sameWorkPerSec'] as const) {
      assert.ok(typeof r[field] === 'number' && (r[field] as number) > 0, `${field} = ${String(r[field])}`)
    }
    assert.equal(r.sameWorkRatio, Math.round((r.perSec / (r.sameWorkPerSec as number)) * 1000) / 1000)
  })
})
