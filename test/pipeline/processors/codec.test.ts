import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isTributaryError } from '../../../src/core/errors.ts'
import { frozen, make, processError, processOne, rec } from './helpers.ts'

function recordFails(err: Error, ...mentions: RegExp[]): void {
  assert.ok(isTributaryError(err, 'TRIB_PIPELINE_RECORD'), `expected TRIB_PIPELINE_RECORD, got ${String(err)}`)
  for (const m of mentions) assert.match(err.message, m)
}

function configFails(fn: () => unknown, ...mentions: RegExp[]): void {
  assert.throws(fn, (err) => isTributaryError(err, 'TRIB_PIPELINE_CONFIG') && mentions.every((m) => m.test(err.message)))
}

describe('json.decode', () => {
  it('invalid JSON is a nack naming the processor, the field and the position', async () => {
    const err = await processError(make('json.decode', { field: '.Payload.After' }, 'parse'), rec({ position: 'line-9', after: '{"a": 1,' }))
    recordFails(err, /processor "parse" \(json.decode\)/, /position "line-9"/, /\.Payload\.After: failed to unmarshal raw data as JSON/)
  })

  it('decodes raw data and strings; leaves structured data and nil alone; empty raw data becomes nil', async () => {
    const p = make('json.decode', { field: '.Payload.After' })
    assert.deepEqual((await processOne(p, frozen(rec({ after: '{"n":1,"list":[1,"a"]}' })))).payload.after, { n: 1, list: [1, 'a'] })
    const structured = frozen(rec({ after: { already: true } }))
    assert.equal(await processOne(p, structured), structured)
    const nil = frozen(rec({}))
    assert.equal(await processOne(p, nil), nil)
    assert.equal((await processOne(p, rec({ after: Buffer.alloc(0) }))).payload.after, null)
    const nested = make('json.decode', { field: '.Payload.After.v' })
    assert.deepEqual((await processOne(nested, rec({ after: { v: '[1,2]' } }))).payload.after, { v: [1, 2] })
    assert.deepEqual((await processOne(nested, rec({ after: { v: '3.5' } }))).payload.after, { v: 3.5 })
  })

  it('a top-level part takes only a JSON object, string or null', async () => {
    recordFails(await processError(make('json.decode', { field: '.Key' }), rec({ key: '[1,2]' })), /the JSON is an array, but \.Key takes an object/)
    recordFails(await processError(make('json.decode', { field: '.Key' }), rec({ key: '12' })), /the JSON is an int/)
    assert.deepEqual((await processOne(make('json.decode', { field: '.Key' }), rec({ key: '"abc"' }))).key, Buffer.from('abc'))
  })

  it('a number where JSON is expected is a nack', async () => {
    recordFails(await processError(make('json.decode', { field: '.Payload.After.v' }), rec({ after: { v: 5 } })), /unexpected data type int/)
  })

  it('only fields under .Key and .Payload.Before/After', () => {
    configFails(() => make('json.decode', { field: '.Metadata.x' }), /setting "field"/, /only fields under \.Key and \.Payload can be decoded/)
    configFails(() => make('json.decode', { field: '.Payload' }), /not allowed/)
    configFails(() => make('json.encode', { field: '.Operation' }), /can be encoded/)
  })
})

describe('json.encode', () => {
  it('encodes as Go does: sorted keys, HTML characters escaped, raw bytes as base64', async () => {
    const out = await processOne(make('json.encode', { field: '.Payload.After.v' }), frozen(rec({ after: { v: { z: '<a&b>', a: [1.5, null, true] } } })))
    assert.deepEqual(out.payload.after, { v: '{"a":[1.5,null,true],"z":"\\u003ca\\u0026b\\u003e"}' })
    const raw = await processOne(make('json.encode', { field: '.Key' }), frozen(rec({ key: 'hi' })))
    assert.deepEqual(raw.key, Buffer.from('"aGk="'))
  })

  it('nil and missing values are left alone', async () => {
    const r = frozen(rec({ after: { a: 1 } }))
    assert.equal(await processOne(make('json.encode', { field: '.Payload.After.missing' }), r), r)
    assert.equal(await processOne(make('json.encode', { field: '.Payload.Before' }), r), r)
  })
})

describe('base64', () => {
  it('decode: invalid base64 is a nack naming the input byte', async () => {
    const err = await processError(make('base64.decode', { field: '.Payload.After.foo' }, 'b64'), rec({ position: 'p', after: { foo: 'Y*Fy' } }))
    recordFails(err, /processor "b64" \(base64.decode\)/, /failed to decode the value: illegal base64 data at input byte 1/)
    recordFails(await processError(make('base64.decode', { field: '.Key' }), rec({ key: 'YmF' })), /illegal base64 data/)
  })

  it('decode: raw data and metadata; bytes that are not text stay bytes in structured data', async () => {
    assert.deepEqual((await processOne(make('base64.decode', { field: '.Key' }), rec({ key: 'AAEC' }))).key, Buffer.from([0, 1, 2]))
    assert.deepEqual((await processOne(make('base64.decode', { field: '.Metadata.m' }), rec({ metadata: { m: 'aGk=' } }))).metadata, { m: 'hi' })
    assert.deepEqual((await processOne(make('base64.decode', { field: '.Payload.After.b' }), rec({ after: { b: '/w==' } }))).payload.after, { b: Buffer.from([0xff]) })
    recordFails(await processError(make('base64.decode', { field: '.Metadata.m' }), rec({ metadata: { m: '/w==' } })), /not UTF-8 text/)
    const nil = frozen(rec({}))
    assert.equal(await processOne(make('base64.decode', { field: '.Payload.After' }), nil), nil)
  })

  it('encode: numbers and booleans as Go prints them; structured data is a nack', async () => {
    assert.deepEqual((await processOne(make('base64.encode', { field: '.Payload.After.n' }), rec({ after: { n: 123 } }))).payload.after, { n: 'MTIz' })
    assert.deepEqual((await processOne(make('base64.encode', { field: '.Payload.After.n' }), rec({ after: { n: true } }))).payload.after, { n: 'dHJ1ZQ==' })
    recordFails(await processError(make('base64.encode', { field: '.Payload.After' }), rec({ after: { a: 1 } })), /unexpected data type map\[string\]interface \{\}/)
  })

  it('.Position and whole-record references are refused', () => {
    configFails(() => make('base64.encode', { field: '.Position' }), /not allowed to encode or decode \.Position/)
    configFails(() => make('base64.decode', { field: '.Metadata' }), /setting "field"/)
  })
})
