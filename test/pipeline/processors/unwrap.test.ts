import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isTributaryError } from '../../../src/core/errors.ts'
import { recordToJson } from '../../../src/pipeline/record.ts'
import { frozen, make, processError, processOne, rec } from './helpers.ts'

function recordFails(err: Error, ...mentions: RegExp[]): void {
  assert.ok(isTributaryError(err, 'TRIB_PIPELINE_RECORD'), `expected TRIB_PIPELINE_RECORD, got ${String(err)}`)
  for (const m of mentions) assert.match(err.message, m)
}

describe('unwrap.opencdc', () => {
  it('unwraps a record written as OpenCDC JSON (raw data), decoding base64 raw parts', async () => {
    const inner = rec({ position: 'inner', operation: 'delete', metadata: { 'opencdc.collection': 'users' }, key: 'k1', before: { id: 1 } })
    const out = await processOne(make('unwrap.opencdc'), frozen(rec({ position: 'outer', metadata: { dropped: 'yes' }, after: recordToJson(inner) })))
    assert.deepEqual(out, { position: Buffer.from('outer'), operation: 'delete', metadata: { 'opencdc.collection': 'users' }, key: Buffer.from('k1'), payload: { before: { id: 1 }, after: null } })
  })

  it('metadata values that are not strings are printed as Go prints them', async () => {
    const out = await processOne(make('unwrap.opencdc', { field: '.Payload.After.rec' }), rec({ after: { rec: { operation: 'create', metadata: { n: 3, b: true }, payload: {} } } }))
    assert.deepEqual(out.metadata, { n: '3', b: 'true' })
  })

  it('a wrapped record without operation, metadata or payload, or with garbage, is a nack', async () => {
    const p = make('unwrap.opencdc', {}, 'uw')
    recordFails(await processError(p, rec({ position: 'x', after: { metadata: {}, payload: {} } })), /processor "uw" \(unwrap.opencdc\)/, /position "x"/, /has no operation/)
    recordFails(await processError(p, rec({ after: { operation: 'upsert', metadata: {}, payload: {} } })), /invalid operation "upsert"/)
    recordFails(await processError(p, rec({ after: { operation: 'create', payload: {} } })), /has no metadata/)
    recordFails(await processError(p, rec({ after: { operation: 'create', metadata: {} } })), /has no payload/)
    recordFails(await processError(p, rec({ after: { operation: 'create', metadata: {}, key: 'not base64!', payload: {} } })), /key is a string but not base64/)
    recordFails(await processError(p, rec({ after: 'not json' })), /failed to unmarshal an OpenCDC record from raw data as JSON/)
    recordFails(await processError(p, rec({})), /the field to unwrap is nil/)
  })
})

describe('unwrap.debezium', () => {
  const event = (payload: object) => JSON.stringify({ schema: {}, payload })

  it('maps Debezium operations, flattens other fields into debezium.* metadata, sets readAt from ts_ms', async () => {
    const out = await processOne(
      make('unwrap.debezium'),
      frozen(rec({ position: 'p', key: '{"schema":{},"payload":{"id":5}}', after: event({ op: 'r', before: null, after: { id: 5 }, source: { db: 'shop', table: { name: 'users' } }, transaction: { id: 't1', total: 2 }, ts_ms: 1000 }) })),
    )
    assert.equal(out.operation, 'snapshot')
    assert.deepEqual(out.key, { id: 5 })
    assert.deepEqual(out.metadata, { 'opencdc.readAt': '1000000000', db: 'shop', 'table.name': 'users', 'debezium.transaction.id': 't1', 'debezium.transaction.total': '2' })
    for (const [op, want] of [
      ['c', 'create'],
      ['u', 'update'],
      ['d', 'delete'],
      ['$unset', 'update'],
    ] as const) {
      const r = await processOne(make('unwrap.debezium'), rec({ after: { payload: { op, after: null, source: {} } } }))
      assert.equal(r.operation, want)
    }
  })

  it('string before/after become raw data; a key that is not wrapped stays as it is', async () => {
    const out = await processOne(make('unwrap.debezium'), rec({ key: 'plain', after: event({ op: 'u', before: 'old', after: 'new', source: {} }) }))
    assert.deepEqual(out.payload, { before: Buffer.from('old'), after: Buffer.from('new') })
    assert.deepEqual(out.key, Buffer.from('plain'))
  })

  it('missing fields, a bad operation or no payload are nacks naming what is wrong', async () => {
    const p = make('unwrap.debezium')
    recordFails(await processError(p, rec({ after: event({ before: null }) })), /"after" field is missing/, /"source" field is missing/, /"op" field is missing/)
    recordFails(await processError(p, rec({ after: event({ op: 'x', after: null, source: {} }) })), /"x" is an invalid Debezium operation/)
    recordFails(await processError(p, rec({ after: event({ op: 'c', after: 5, source: {} }) })), /failed to parse field after: expected a map or a string, got int/)
    recordFails(await processError(p, rec({ after: { schema: {} } })), /doesn't contain a payload field/)
    recordFails(await processError(p, rec({ after: '{oops' })), /failed to unmarshal a Debezium record/)
  })

  it('the field must be under .Payload', () => {
    assert.throws(() => make('unwrap.debezium', { field: '.Key' }), (err) => isTributaryError(err, 'TRIB_PIPELINE_CONFIG') && /must be under \.Payload/.test(err.message))
  })
})

describe('unwrap.kafkaconnect', () => {
  it('a raw key wrapping a scalar payload becomes raw data; operation is create', async () => {
    const out = await processOne(make('unwrap.kafkaconnect'), frozen(rec({ operation: 'update', key: '{"payload":27}', after: { payload: { a: 1 }, schema: {} } })))
    assert.deepEqual(out.key, Buffer.from('27'))
    assert.equal(out.operation, 'create')
    assert.deepEqual(out.payload, { before: null, after: { a: 1 } })
  })

  it('no payload is a nack', async () => {
    recordFails(await processError(make('unwrap.kafkaconnect'), rec({ after: { schema: {} } })), /doesn't contain a payload field/)
    recordFails(await processError(make('unwrap.kafkaconnect'), rec({ after: 'garbage' })), /failed to unmarshal a Kafka Connect record/)
  })
})
