import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isTributaryError } from '../../src/core/errors.ts'
import { createRecord, type PipelineRecord } from '../../src/pipeline/record.ts'
import { parseReference } from '../../src/pipeline/reference.ts'

const structured = (): PipelineRecord =>
  createRecord({
    position: Buffer.from('p1'),
    operation: 'create',
    metadata: { table: 'users', 'opencdc.collection': 'public.users' },
    key: { id: 7 },
    after: { name: 'Ada', 'x y': 1, user: { address: { city: 'Oslo' } }, list: [1, 2] },
  })

const raw = (): PipelineRecord => createRecord({ position: Buffer.from('p2'), key: Buffer.from('k'), after: Buffer.from('{"a":1}') })

function failsRecord(fn: () => unknown, ...mentions: RegExp[]): void {
  assert.throws(fn, (err) => {
    assert.ok(isTributaryError(err, 'TRIB_PIPELINE_RECORD'), `expected TRIB_PIPELINE_RECORD, got ${String(err)}`)
    for (const m of mentions) assert.match(err.message, m)
    return true
  })
}

describe('record references: parsing', () => {
  it('accepts every form Conduit does', () => {
    const cases: [string, string, string[]][] = [
      ['.', 'record', []],
      ['$', 'record', []],
      ['.Position', 'position', []],
      ['.Operation', 'operation', []],
      ['.Metadata', 'metadata', []],
      ['.Metadata.foo', 'metadata', ['foo']],
      ['.Metadata["opencdc.collection"]', 'metadata', ['opencdc.collection']],
      ['.Key', 'key', []],
      ['.Key.a.b', 'key', ['a', 'b']],
      ['.Payload', 'payload', []],
      ['.Payload.Before', 'before', []],
      ['.Payload.After', 'after', []],
      ['.Payload.After.name', 'after', ['name']],
      ['.Payload.After["x y"]', 'after', ['x y']],
      ['.Payload.After.user["first name"].x', 'after', ['user', 'first name', 'x']],
      ['.payload.after.name', 'after', ['name']],
      ['.key', 'key', []],
      ['  .Payload.Before.id  ', 'before', ['id']],
    ]
    for (const [text, target, fields] of cases) {
      const ref = parseReference(text, 'settings.field')
      assert.equal(ref.target, target, text)
      assert.deepEqual(ref.fields, fields, text)
    }
  })

  it('rejects malformed references, naming the setting and the reference', () => {
    const bad: [string, RegExp][] = [
      ['', /empty/],
      ['Payload', /unexpected character "P"/],
      ['.Foo', /unexpected field "Foo"/],
      ['.Payload.Middle', /unexpected field "Middle" under \.Payload/],
      ['.Position.x', /\.Position is not structured/],
      ['.Operation.x', /\.Operation is not structured/],
      ['.Metadata.a.b', /metadata values are strings/],
      ['["x"]', /cannot start with \["…"\]/],
      ['.Payload.After["x', /unterminated quoted string/],
      ['.Payload.After[x]', /expected a quoted name/],
      ['.Payload.After.my-field', /bad character "-"/],
      ['.Payload.After.1x', /cannot start with the digit/],
    ]
    for (const [text, why] of bad) {
      assert.throws(
        () => parseReference(text, 'processors[3].settings.field'),
        (err) => isTributaryError(err, 'TRIB_PIPELINE_CONFIG') && err.message.startsWith('processors[3].settings.field: invalid record reference') && err.message.includes(JSON.stringify(text)) && why.test(err.message),
        text,
      )
    }
  })
})

describe('record references: get', () => {
  it('reads every part of a structured record', () => {
    const r = structured()
    assert.equal(parseReference('.', 'f').get(r), r)
    assert.deepEqual(parseReference('.Position', 'f').get(r), Buffer.from('p1'))
    assert.equal(parseReference('.Operation', 'f').get(r), 'create')
    assert.equal(parseReference('.Metadata["opencdc.collection"]', 'f').get(r), 'public.users')
    assert.equal(parseReference('.Metadata.nope', 'f').get(r), undefined)
    assert.deepEqual(parseReference('.Key', 'f').get(r), { id: 7 })
    assert.equal(parseReference('.Key.id', 'f').get(r), 7)
    assert.equal(parseReference('.Payload.After["x y"]', 'f').get(r), 1)
    assert.equal(parseReference('.Payload.After.user.address.city', 'f').get(r), 'Oslo')
    assert.equal(parseReference('.Payload.After.user.nope.city', 'f').get(r), undefined)
    assert.equal(parseReference('.Payload.Before.x', 'f').get(r), undefined, 'a nil payload has no fields, and stays nil')
    assert.equal(r.payload.before, null)
  })

  it('a field of raw data or of a scalar is an error naming the reference', () => {
    failsRecord(() => parseReference('.Payload.After.a', 'f').get(raw()), /\.Payload\.After\.a: \.Payload\.After does not contain structured data \(it is raw data\)/)
    failsRecord(() => parseReference('.Key.a', 'f').get(raw()), /\.Key does not contain structured data/)
    failsRecord(() => parseReference('.Payload.After.name.first', 'f').get(structured()), /\.Payload\.After\.name does not contain structured data \(it is a string\)/)
    failsRecord(() => parseReference('.Payload.After.list.x', 'f').get(structured()), /an array/)
  })
})

describe('record references: set, delete, rename return new records and never change the old one', () => {
  it('sets nested fields, creating missing objects, and copies only the changed path', () => {
    const r = structured()
    const out = parseReference('.Payload.After.user.address.zip', 'f').set(r, '0150')
    assert.deepEqual(out.payload.after, { name: 'Ada', 'x y': 1, user: { address: { city: 'Oslo', zip: '0150' } }, list: [1, 2] })
    assert.deepEqual(r.payload.after, structured().payload.after, 'the input is unchanged')
    assert.equal((out.payload.after as { list: unknown }).list, (r.payload.after as { list: unknown }).list, 'untouched parts are shared')
    assert.equal(out.key, r.key)
    const created = parseReference('.Payload.Before.a.b', 'f').set(r, 1)
    assert.deepEqual(created.payload.before, { a: { b: 1 } })
  })

  it('setting a field of raw data is an error; setting the whole raw payload is not', () => {
    failsRecord(() => parseReference('.Payload.After.a', 'f').set(raw(), 1), /does not contain structured data/)
    const out = parseReference('.Payload.After', 'f').set(raw(), { a: 1 })
    assert.deepEqual(out.payload.after, { a: 1 })
  })

  it('key and payload take raw bytes, strings (as raw bytes), objects and nil only', () => {
    const r = structured()
    assert.deepEqual(parseReference('.Key', 'f').set(r, 'new').key, Buffer.from('new'))
    assert.deepEqual(parseReference('.Key', 'f').set(r, Buffer.from([1, 2])).key, Buffer.from([1, 2]))
    assert.equal(parseReference('.Payload.After', 'f').set(r, null).payload.after, null)
    failsRecord(() => parseReference('.Key', 'f').set(r, 5), /cannot set \.Key to a value of type int/)
    failsRecord(() => parseReference('.Payload.Before', 'f').set(r, [1]), /cannot set \.Payload\.Before to a value of type \[\]interface \{\}/)
  })

  it('operation takes the four operation names; position is immutable', () => {
    const r = structured()
    assert.equal(parseReference('.Operation', 'f').set(r, 'delete').operation, 'delete')
    failsRecord(() => parseReference('.Operation', 'f').set(r, 'upsert'), /cannot set \.Operation to "upsert"/)
    failsRecord(() => parseReference('.Position', 'f').set(r, 'x'), /cannot set \.Position: it is immutable/)
    failsRecord(() => parseReference('.Position', 'f').delete(r), /cannot delete \.Position/)
    failsRecord(() => parseReference('.Operation', 'f').delete(r), /cannot delete \.Operation/)
    failsRecord(() => parseReference('.', 'f').set(r, {}), /cannot set the record/)
  })

  it('metadata values are strings; nil deletes the key', () => {
    const r = structured()
    assert.deepEqual(parseReference('.Metadata.table', 'f').set(r, 'orders').metadata, { table: 'orders', 'opencdc.collection': 'public.users' })
    assert.deepEqual(parseReference('.Metadata.table', 'f').set(r, null).metadata, { 'opencdc.collection': 'public.users' })
    failsRecord(() => parseReference('.Metadata.table', 'f').set(r, 1), /metadata values are strings/)
    assert.deepEqual(parseReference('.Metadata', 'f').delete(r).metadata, {})
    assert.deepEqual(r.metadata, { table: 'users', 'opencdc.collection': 'public.users' })
  })

  it('delete removes fields; a missing field or nil payload is left as it is', () => {
    const r = structured()
    assert.deepEqual(parseReference('.Payload.After.user.address', 'f').delete(r).payload.after, { name: 'Ada', 'x y': 1, user: {}, list: [1, 2] })
    assert.equal(parseReference('.Payload.After.nope.deeper', 'f').delete(r), r)
    assert.equal(parseReference('.Payload.Before.x', 'f').delete(r), r)
    assert.equal(parseReference('.Key', 'f').delete(r).key, null)
    assert.deepEqual(parseReference('.Payload', 'f').delete(r).payload, { before: null, after: null })
    failsRecord(() => parseReference('.Payload.After.x', 'f').delete(raw()), /does not contain structured data/)
  })

  it('rename keeps the key order, refuses an existing name and top-level fields', () => {
    const r = structured()
    const out = parseReference('.Payload.After.name', 'f').rename(r, 'first')
    assert.deepEqual(Object.keys(out.payload.after as object), ['first', 'x y', 'user', 'list'])
    assert.deepEqual(parseReference('.Metadata.table', 'f').rename(r, 'tbl').metadata, { tbl: 'users', 'opencdc.collection': 'public.users' })
    failsRecord(() => parseReference('.Payload.After.name', 'f').rename(r, 'user'), /that field exists/)
    failsRecord(() => parseReference('.Metadata.table', 'f').rename(r, 'opencdc.collection'), /that metadata key exists/)
    failsRecord(() => parseReference('.Key', 'f').rename(r, 'x'), /cannot rename \.Key/)
    assert.equal(parseReference('.Payload.After.nope', 'f').rename(r, 'x'), r)
  })
})
