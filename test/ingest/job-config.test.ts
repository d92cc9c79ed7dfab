import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { isTributaryError } from '../../src/core/errors.ts'
import { columnTypeBits, convertColumnValue } from '../../src/ingest/column-types.ts'
import { loadJobConfigFile, parseJobConfig, parseJobConfigText, STREAM_DEFAULTS } from '../../src/ingest/job-config.ts'
import { RowMapper } from '../../src/ingest/row-mapper.ts'

/** A job in AresDB's shape: a fact table of rides keyed by uuid, event time first. */
function ridesJob(overrides: { [k: string]: unknown } = {}): { [k: string]: unknown } {
  return {
    job: 'rides',
    version: 3,
    numShards: 4,
    aresTableConfig: {
      name: 'rides',
      cluster: 'local',
      schema: {
        name: 'rides',
        columns: [
          { name: 'requested_at', type: 'Uint32' },
          { name: 'ride_id', type: 'UUID' },
          { name: 'city', type: 'SmallEnum', defaultValue: 'UNKNOWN' },
          { name: 'fare', type: 'Float32' },
          { name: 'legacy', type: 'UUID', deleted: true },
          { name: 'rejections', type: 'Uint16', defaultValue: '0' },
          { name: 'paid', type: 'Bool' },
        ],
        primaryKeyColumns: [1],
        isFactTable: true,
        config: {},
      },
      updateMode: { rejections: 'Addition', fare: 'max' },
    },
    streamConfig: { topic: 'rides', kafkaBroker: '127.0.0.1:9092', ...overrides },
  }
}

describe('ingest job configs', () => {
  it('applies AresDB defaults to fields the config leaves out and keeps explicit ones, false included', () => {
    const job = parseJobConfig(ridesJob({ latestOffset: false, batchSize: 500 }))
    const s = job.streamConfig
    assert.equal(s.latestOffset, false)
    assert.equal(s.batchSize, 500)
    assert.equal(s.processorCount, STREAM_DEFAULTS.processorCount)
    assert.equal(s.maxBatchDelayMS, 10000)
    assert.equal(s.megaBytePerSec, 600)
    assert.equal(s.errorThreshold, 10)
    assert.equal(s.restartOnFailure, true)
    assert.equal(s.restartInterval, 300)
    assert.deepEqual(s.failureHandler, { type: 'retry', config: { initRetryIntervalInSeconds: 60, multiplier: 1, maxRetryMinutes: 15 } })
  })

  it('treats zero counts as the default, as Go zero values do, and a multiplier below 1 as 1', () => {
    const job = parseJobConfig(ridesJob({ processorCount: 0, failureHandler: { type: 'retry', config: { initRetryIntervalInSeconds: 5, multiplier: 0.5, maxRetryMinutes: 0 } } }))
    assert.equal(job.streamConfig.processorCount, 1)
    assert.deepEqual(job.streamConfig.failureHandler.config, { initRetryIntervalInSeconds: 5, multiplier: 1, maxRetryMinutes: 15 })
  })

  it('derives AresDB rules: non-deleted columns sorted by name, primary keys always overwrite_notnull, modes case-insensitive', () => {
    const job = parseJobConfig(ridesJob())
    const r = job.rules
    assert.deepEqual(
      r.columns.map((c) => [c.name, c.updateMode, c.primaryKey]),
      [
        ['city', 'overwrite_notnull', false],
        ['fare', 'max', false],
        ['paid', 'overwrite_notnull', false],
        ['rejections', 'addition', false],
        ['requested_at', 'overwrite_notnull', false],
        ['ride_id', 'overwrite_notnull', true],
      ],
    )
    assert.deepEqual(r.primaryKeys, ['ride_id'])
    assert.equal(r.primaryKeyBytes, 16)
    assert.equal(r.requiredTimeColumn, 'requested_at')
    assert.equal(r.table, 'rides')
  })

  it('computes primaryKeyBytes with max(bits, 8) / 8 per key column', () => {
    const raw = ridesJob()
    const schema = (raw.aresTableConfig as { schema: { primaryKeyColumns: number[] } }).schema
    schema.primaryKeyColumns = [1, 6, 0]
    assert.equal(parseJobConfig(raw).rules.primaryKeyBytes, 16 + 1 + 4)
    assert.equal(columnTypeBits('Bool'), 1)
    assert.equal(columnTypeBits('Int64[]'), 64)
  })

  it('names the file, the line and the field of a bad value', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trib-job-'))
    const file = path.join(dir, 'rides.json')
    const text = JSON.stringify(ridesJob({ batchSize: 'many' }), null, 2)
    fs.writeFileSync(file, text)
    const line = text.split('\n').findIndex((l) => l.includes('"batchSize"')) + 1
    assert.throws(
      () => loadJobConfigFile(file),
      (err: unknown) => isTributaryError(err, 'TRIB_INGEST_CONFIG') && err.message.includes(file) && err.message.includes(`line ${line}: streamConfig.batchSize`),
    )
  })

  it('rejects an unknown column type, a primary key past the columns or deleted, an update mode for no column, a bad mode', () => {
    const bad = (mutate: (raw: any) => void, expected: RegExp): void => {
      const raw = ridesJob() as any
      mutate(raw)
      assert.throws(() => parseJobConfig(raw, 'rides.json'), (err: unknown) => isTributaryError(err, 'TRIB_INGEST_CONFIG') && expected.test(err.message))
    }
    bad((r) => (r.aresTableConfig.schema.columns[3].type = 'Float64'), /columns\.3\.type: unknown column type/)
    bad((r) => (r.aresTableConfig.schema.primaryKeyColumns = [9]), /primaryKeyColumns\.0: column index 9 is past the last column/)
    bad((r) => (r.aresTableConfig.schema.primaryKeyColumns = [4]), /column legacy is deleted/)
    bad((r) => (r.aresTableConfig.updateMode = { nope: 'max' }), /updateMode\.nope: no column nope/)
    bad((r) => (r.aresTableConfig.updateMode = { fare: 'sum' }), /updateMode\.fare: update mode "sum"/)
    bad((r) => delete r.streamConfig.topic, /streamConfig\.topic/)
  })

  it('reads the same job from YAML, and a YAML syntax error names line and column', () => {
    const yaml = `job: rides\naresTableConfig:\n  schema:\n    name: rides\n    columns:\n      - { name: id, type: Int64 }\n    primaryKeyColumns: [0]\nstreamConfig:\n  topic: rides\n`
    const job = parseJobConfigText(yaml, 'rides.yaml')
    assert.equal(job.rules.columns[0].name, 'id')
    assert.throws(() => parseJobConfigText('job: [rides\n', 'rides.yaml'), /rides\.yaml: line \d+, column \d+: invalid YAML/)
  })
})

describe('ingest row mapping', () => {
  const job = parseJobConfig(ridesJob())
  const mapper = new RowMapper(job.rules)
  const id = '6f1c2a8e-93a4-4d21-8f7e-0a1b2c3d4e5f'

  it('maps a message to typed values in sorted column order and applies defaultValue (AresDB never does)', () => {
    const r = mapper.map({ requested_at: 1700000000, ride_id: id.replace(/-/g, '').toUpperCase(), fare: '12.5', paid: 'true' })
    assert.deepEqual(r, { ok: true, row: ['UNKNOWN', 12.5, true, 0, 1700000000, id] })
  })

  it('rejects a null primary key and a missing event time, with the reason for the DLQ', () => {
    assert.deepEqual(mapper.map({ requested_at: 1 }), { ok: false, reason: 'null_primary_key', message: 'primary key column ride_id is null' })
    const r = mapper.map({ ride_id: id })
    assert.equal(r.ok, false)
    assert.equal(!r.ok && r.reason, 'missing_event_time')
  })

  it('rejects a value that does not fit its column, naming the column', () => {
    const r = mapper.map({ requested_at: 1, ride_id: id, rejections: 70000 })
    assert.equal(r.ok, false)
    assert.match(!r.ok ? r.message : '', /column rejections: Uint16 value 70000 is outside 0\.\.65535/)
    assert.equal(mapper.map([1, 2]).ok, false)
  })

  it('allows a missing event time when the table says allowMissingEventTime', () => {
    const raw = ridesJob() as any
    raw.aresTableConfig.schema.config.allowMissingEventTime = true
    assert.equal(new RowMapper(parseJobConfig(raw).rules).map({ ride_id: id }).ok, true)
  })

  it('converts every scalar type and arrays element by element', () => {
    assert.deepEqual(convertColumnValue('Int64', '9007199254740993'), { ok: true, value: 9007199254740993n })
    assert.deepEqual(convertColumnValue('Int8', -128), { ok: true, value: -128 })
    assert.equal(convertColumnValue('Int8', 1.5).ok, false)
    assert.deepEqual(convertColumnValue('Uint8[]', [1, null, 3]), { ok: true, value: [1, null, 3] })
    assert.match((convertColumnValue('Uint8[]', [1, -1]) as { reason: string }).reason, /element 1: Uint8 value -1/)
    assert.equal(convertColumnValue('UUID', 'not-a-uuid').ok, false)
    assert.deepEqual(convertColumnValue('BigEnum', 7), { ok: true, value: '7' })
  })
})
