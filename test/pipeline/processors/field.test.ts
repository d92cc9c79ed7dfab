import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isTributaryError } from '../../../src/core/errors.ts'
import { isSingleRecord } from '../../../src/pipeline/processor.ts'
import { frozen, make, processError, processOne, rec, run } from './helpers.ts'

function configFails(fn: () => unknown, ...mentions: RegExp[]): void {
  assert.throws(fn, (err) => {
    assert.ok(isTributaryError(err, 'TRIB_PIPELINE_CONFIG'), `expected TRIB_PIPELINE_CONFIG, got ${String(err)}`)
    for (const m of mentions) assert.match(err.message, m)
    return true
  })
}

function recordFails(err: Error, ...mentions: RegExp[]): void {
  assert.ok(isTributaryError(err, 'TRIB_PIPELINE_RECORD'), `expected TRIB_PIPELINE_RECORD, got ${String(err)}`)
  for (const m of mentions) assert.match(err.message, m)
}

describe('field.set', () => {
  it('sets metadata, the key (as raw data) and nested fields from templates', async () => {
    const r = frozen(rec({ metadata: { table: 'users' }, after: { id: 3 } }))
    assert.deepEqual((await processOne(make('field.set', { field: '.Metadata["out.table"]', value: 'copy-{{ .Metadata.table }}' }), r)).metadata, { table: 'users', 'out.table': 'copy-users' })
    assert.deepEqual((await processOne(make('field.set', { field: '.Key', value: '{{ .Payload.After.id }}' }), r)).key, Buffer.from('3'))
    assert.deepEqual((await processOne(make('field.set', { field: '.Payload.After.user.id', value: '{{ .Payload.After.id }}' }), r)).payload.after, { id: 3, user: { id: '3' } })
  })

  it('a nested field of raw data is a nack naming the processor, the field and the position', async () => {
    const err = await processError(make('field.set', { field: '.Payload.After.x', value: 'v' }, 'set-x'), rec({ position: 'offset-12', after: 'raw bytes' }))
    recordFails(err, /processor "set-x" \(field.set\)/, /position "offset-12"/, /\.Payload\.After\.x: \.Payload\.After does not contain structured data \(it is raw data\)/)
  })

  it('an invalid operation from the template is a nack', async () => {
    const err = await processError(make('field.set', { field: '.Operation', value: '{{ .Metadata.op }}' }), rec({ metadata: { op: 'upsert' } }))
    recordFails(err, /cannot set \.Operation to "upsert"/)
  })

  it('refuses .Position, bad references and bad templates when created, naming the setting', () => {
    configFails(() => make('field.set', { field: '.Position', value: 'x' }, 'p'), /processor "p" \(field.set\): setting "field": it is not allowed to set \.Position/)
    configFails(() => make('field.set', { field: 'Payload.After', value: 'x' }), /setting "field": invalid record reference "Payload.After"/)
    for (const whole of ['.Metadata', '.Payload', '.']) configFails(() => make('field.set', { field: whole, value: 'x' }), /setting "field": .* cannot take the template's text/)
    configFails(() => make('field.set', { field: '.Key', value: '{{ if .Key }}x{{ end }}' }), /setting "value": template/, /"if" actions are not supported/)
  })

  it('processes a batch in order, one outcome per record, a bad record not stopping the others', async () => {
    const out = await run(make('field.set', { field: '.Payload.After.seen', value: 'yes' }), [rec({ position: 'a', after: {} }), rec({ position: 'b', after: 'raw' }), rec({ position: 'c', after: null })])
    assert.equal(out.length, 3)
    assert.ok(isSingleRecord(out[0]!) && isSingleRecord(out[2]!))
    assert.ok(!isSingleRecord(out[1]!) && out[1]!.kind === 'error' && /position "b"/.test(out[1]!.error.message))
    assert.deepEqual((out[2] as { payload: unknown }).payload, { before: null, after: { seen: 'yes' } })
  })
})

describe('field.exclude', () => {
  it('refuses .Position and .Operation', () => {
    configFails(() => make('field.exclude', { fields: '.Key,.Position' }), /setting "fields": it is not allowed to exclude ".Position"/)
    configFails(() => make('field.exclude', { fields: '.Operation' }), /\.Operation/)
    configFails(() => make('field.exclude', { fields: ' , ' }), /lists no field/)
  })

  it('removes nested trees and leaves missing fields alone; raw data is a nack', async () => {
    const out = await processOne(make('field.exclude', { fields: '.Payload.After.user, .Payload.After.nope.x, .Metadata.gone' }), frozen(rec({ metadata: { keep: '1' }, after: { user: { a: { b: 1 } }, id: 1 } })))
    assert.deepEqual(out.payload.after, { id: 1 })
    assert.deepEqual(out.metadata, { keep: '1' })
    recordFails(await processError(make('field.exclude', { fields: '.Key.id' }), rec({ key: 'raw' })), /\.Key does not contain structured data/)
  })
})

describe('field.rename', () => {
  it('refuses malformed mappings and top-level fields', () => {
    configFails(() => make('field.rename', { mapping: '.Payload.After.a' }), /setting "mapping": ".Payload.After.a" is not "reference:newName"/)
    configFails(() => make('field.rename', { mapping: '.Payload.After.a:b:c' }), /not "reference:newName"/)
    for (const top of ['.Key', '.Metadata', '.Payload', '.Payload.After', '.Payload.Before', '.Position', '.Operation']) {
      configFails(() => make('field.rename', { mapping: `${top}:x` }), /cannot rename the top-level field/)
    }
    configFails(() => make('field.rename', { mapping: '.Payload.After.a: ' }), /to an empty name/)
  })

  it('renaming onto an existing field is a nack', async () => {
    recordFails(await processError(make('field.rename', { mapping: '.Payload.After.a:b' }), rec({ after: { a: 1, b: 2 } })), /cannot rename \.Payload\.After\.a to "b": that field exists/)
  })

  it('renames several fields, nested ones included', async () => {
    const out = await processOne(make('field.rename', { mapping: '.Payload.After.user.nm:name , .Key.id:key_id' }), frozen(rec({ key: { id: 1 }, after: { user: { nm: 'Ada' } } })))
    assert.deepEqual(out.key, { key_id: 1 })
    assert.deepEqual(out.payload.after, { user: { name: 'Ada' } })
  })
})

describe('field.convert', () => {
  const convert = async (value: unknown, type: string) => (await processOne(make('field.convert', { field: '.Payload.After.v', type }), frozen(rec({ after: { v: value } })))).payload.after as { v: unknown }

  it('converts between string, int, float and bool as Conduit does', async () => {
    assert.deepEqual(await convert('12', 'int'), { v: 12 })
    assert.deepEqual(await convert('-7', 'int'), { v: -7 })
    assert.deepEqual(await convert(true, 'int'), { v: 1 })
    assert.deepEqual(await convert(false, 'float'), { v: 0 })
    assert.deepEqual(await convert('1e3', 'float'), { v: 1000 })
    assert.deepEqual(await convert(2.5, 'string'), { v: '2.5' })
    assert.deepEqual(await convert(1e21, 'string'), { v: '1000000000000000000000' })
    assert.deepEqual(await convert(true, 'string'), { v: 'true' })
    assert.deepEqual(await convert('F', 'bool'), { v: false })
    assert.deepEqual(await convert(0, 'bool'), { v: false })
    assert.deepEqual(await convert(Buffer.from('42'), 'int'), { v: 42 })
    assert.deepEqual(await convert('2024-01-02T12:34:56Z', 'time'), { v: '2024-01-02T12:34:56Z' })
    assert.deepEqual(await convert(0, 'time'), { v: '1970-01-01T00:00:00Z' })
  })

  it('a value that does not parse is a nack naming the value', async () => {
    const p = make('field.convert', { field: '.Payload.After.v', type: 'int' }, 'conv')
    recordFails(await processError(p, rec({ after: { v: '1.5' } })), /processor "conv" \(field.convert\)/, /strconv.Atoi: parsing "1.5": invalid syntax/)
    recordFails(await processError(p, rec({ after: { v: 'abc' } })), /invalid syntax/)
    recordFails(await processError(p, rec({ after: { v: '99999999999999999999' } })), /value out of range/)
    recordFails(await processError(make('field.convert', { field: '.Payload.After.v', type: 'bool' }), rec({ after: { v: 'yes' } })), /strconv.ParseBool: parsing "yes"/)
    recordFails(await processError(make('field.convert', { field: '.Payload.After.v', type: 'time' }), rec({ after: { v: 'yesterday' } })), /parsing time "yesterday"/)
    recordFails(await processError(p, rec({ after: {} })), /\.Payload\.After\.v does not exist/)
    recordFails(await processError(p, rec({ after: { v: { a: 1 } } })), /is structured data/)
    recordFails(await processError(p, rec({ after: 'raw' })), /does not contain structured data/)
  })

  it('only fields inside .Key and .Payload, and only the four types (and time)', () => {
    configFails(() => make('field.convert', { field: '.Metadata.x', type: 'int' }), /setting "field": ".Metadata.x" is not allowed: only fields under \.Key and \.Payload/)
    configFails(() => make('field.convert', { field: '.Key', type: 'int' }), /name a field inside structured data/)
    const p = make.bind(null, 'field.convert', { field: '.Key.x', type: 'decimal' })
    assert.throws(p, (err: unknown) => /type must be one of string, int, float, bool, time/.test(String(err)))
  })
})
