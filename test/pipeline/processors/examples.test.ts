/**
 * The input/output examples of Conduit's processor documentation, one test each: the settings,
 * the record that goes in and the outcome that comes out are those of the docs (every input is
 * frozen, so a processor that changed its input would throw).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isSingleRecord } from '../../../src/pipeline/processor.ts'
import { frozen, make, processError, processOne, rec, run } from './helpers.ts'

describe('Conduit documentation examples', () => {
  it('field.set: add a field to a nil payload', async () => {
    const out = await processOne(make('field.set', { field: '.Payload.After.foo', value: 'bar' }), frozen(rec({ operation: 'snapshot', key: { 'my-key': 'id' } })))
    assert.deepEqual(out.payload, { before: null, after: { foo: 'bar' } })
    assert.deepEqual(out.key, { 'my-key': 'id' })
    assert.equal(out.operation, 'snapshot')
  })

  it('field.set: set the operation to update', async () => {
    const out = await processOne(make('field.set', { field: '.Operation', value: 'update' }), frozen(rec({ operation: 'create' })))
    assert.equal(out.operation, 'update')
  })

  it('field.set: a Go template comparing metadata', async () => {
    const p = make('field.set', { field: '.Payload.After.postgres', value: '{{ eq .Metadata.table "postgres" }}' })
    const out = await processOne(p, frozen(rec({ operation: 'snapshot', metadata: { table: 'postgres' }, after: { postgres: 'false' } })))
    assert.deepEqual(out.payload.after, { postgres: 'true' })
  })

  it('field.exclude: excluding .Payload empties both sides', async () => {
    const out = await processOne(make('field.exclude', { fields: '.Payload' }), frozen(rec({ metadata: { key1: 'val1' }, before: { bar: 'baz' }, after: { foo: 'bar' } })))
    assert.deepEqual(out.payload, { before: null, after: null })
    assert.deepEqual(out.metadata, { key1: 'val1' })
  })

  it('field.exclude: several fields', async () => {
    const out = await processOne(
      make('field.exclude', { fields: '.Metadata,.Payload.After.foo,.Key.key1' }),
      frozen(rec({ metadata: { source: 's3' }, key: { key1: 'val1', key2: 'val2' }, before: { bar: 'baz' }, after: { foo: 'bar', foobar: 'baz' } })),
    )
    assert.deepEqual(out.metadata, {})
    assert.deepEqual(out.key, { key2: 'val2' })
    assert.deepEqual(out.payload, { before: { bar: 'baz' }, after: { foobar: 'baz' } })
  })

  it('field.rename: metadata key and payload field', async () => {
    const out = await processOne(
      make('field.rename', { mapping: '.Metadata.key1:newKey,.Payload.After.foo:newFoo' }),
      frozen(rec({ metadata: { key1: 'val1' }, before: { bar: 'baz' }, after: { foo: 'bar' } })),
    )
    assert.deepEqual(out.metadata, { newKey: 'val1' })
    assert.deepEqual(out.payload, { before: { bar: 'baz' }, after: { newFoo: 'bar' } })
  })

  it('field.convert: float to string', async () => {
    const out = await processOne(make('field.convert', { field: '.Key.id', type: 'string' }), frozen(rec({ operation: 'update', key: { id: 123.345 }, after: { foo: 'bar' } })))
    assert.deepEqual(out.key, { id: '123.345' })
  })

  it('field.convert: int to bool', async () => {
    const out = await processOne(make('field.convert', { field: '.Payload.After.done', type: 'bool' }), frozen(rec({ operation: 'update', key: { id: '123' }, after: { done: 1 } })))
    assert.deepEqual(out.payload.after, { done: true })
  })

  it('field.convert: string to int', async () => {
    const out = await processOne(make('field.convert', { field: '.Key.id', type: 'int' }), frozen(rec({ operation: 'update', key: { id: '123' }, after: { foo: 'bar' } })))
    assert.deepEqual(out.key, { id: 123 })
  })

  it('field.convert: unix nanoseconds to time (JSON numbers keep 17 digits, so the nanoseconds round)', async () => {
    const out = await processOne(make('field.convert', { field: '.Payload.After.createdAt', type: 'time' }), frozen(rec({ key: { id: 123.345 }, after: { createdAt: 1704198896123456800 } })))
    assert.deepEqual(out.payload.after, { createdAt: '2024-01-02T12:34:56.1234568Z' })
    // Given exactly, as Conduit's docs show it:
    const exact = await processOne(make('field.convert', { field: '.Payload.After.createdAt', type: 'time' }), frozen(rec({ after: { createdAt: '1704198896123456789' } })))
    assert.deepEqual(exact.payload.after, { createdAt: '2024-01-02T12:34:56.123456789Z' })
  })

  it('json.decode: the key', async () => {
    const out = await processOne(make('json.decode', { field: '.Key' }), frozen(rec({ key: '{"after":{"data":4,"id":3}}' })))
    assert.deepEqual(out.key, { after: { data: 4, id: 3 } })
  })

  it('json.decode: a nested field', async () => {
    const out = await processOne(make('json.decode', { field: '.Payload.Before.foo' }), frozen(rec({ operation: 'snapshot', before: { foo: '{"before":{"data":4,"id":3},"baz":"bar"}' } })))
    assert.deepEqual(out.payload.before, { foo: { baz: 'bar', before: { data: 4, id: 3 } } })
  })

  it('json.encode: a nested field, with Go’s sorted keys', async () => {
    const out = await processOne(make('json.encode', { field: '.Payload.Before.foo' }), frozen(rec({ operation: 'snapshot', before: { foo: { before: { id: 3, data: 4 }, baz: 'bar' } } })))
    assert.deepEqual(out.payload.before, { foo: '{"baz":"bar","before":{"data":4,"id":3}}' })
  })

  it('json.encode: the key becomes raw data', async () => {
    const out = await processOne(make('json.encode', { field: '.Key' }), frozen(rec({ key: { tables: ['table1,table2'] } })))
    assert.deepEqual(out.key, Buffer.from('{"tables":["table1,table2"]}'))
  })

  it('base64.decode: a nested field', async () => {
    const out = await processOne(make('base64.decode', { field: '.Payload.After.foo' }), frozen(rec({ position: 'test-position', metadata: { key1: 'val1' }, key: 'test-key', after: { foo: 'YmFy' } })))
    assert.deepEqual(out.payload.after, { foo: 'bar' })
    assert.deepEqual(out.key, Buffer.from('test-key'))
    assert.deepEqual(out.position, Buffer.from('test-position'))
  })

  it('base64.encode: the raw key', async () => {
    const out = await processOne(make('base64.encode', { field: '.Key' }), frozen(rec({ metadata: { key1: 'val1' }, key: 'test-key', after: { foo: 'bar' } })))
    assert.deepEqual(out.key, Buffer.from('dGVzdC1rZXk='))
  })

  it('base64.encode: a nested string', async () => {
    const out = await processOne(make('base64.encode', { field: '.Payload.After.foo' }), frozen(rec({ key: 'test-key', after: { foo: 'bar' } })))
    assert.deepEqual(out.payload.after, { foo: 'YmFy' })
  })

  it('filter: the record is filtered out', async () => {
    const [out] = await run(make('filter'), [frozen(rec({ metadata: { key1: 'val1' }, before: { bar: 'baz' }, after: { foo: 'bar' } }))])
    assert.deepEqual(out, { kind: 'filter' })
  })

  it('error: a templated message', async () => {
    const err = await processError(make('error', { message: 'custom error message with data from record: {{.Metadata.foo}}' }), frozen(rec({ metadata: { foo: 'bar' }, before: { bar: 'baz' }, after: { foo: 'bar' } })))
    assert.equal(err.message, 'custom error message with data from record: bar')
  })

  it('split: an array becomes one record per element with split.index', async () => {
    const users = [
      { age: 30, name: 'Alice' },
      { age: 25, name: 'Bob' },
      { age: 35, name: 'Charlie' },
    ]
    const [out] = await run(make('split', { field: '.Payload.After.users' }), [frozen(rec({ operation: 'update', key: { id: 123 }, after: { users } }))])
    assert.ok(out && !isSingleRecord(out) && out.kind === 'multi')
    assert.deepEqual(
      out.records.map((r) => [r.metadata, r.key, r.payload.after, r.operation]),
      users.map((u, i) => [{ 'split.index': String(i) }, { id: 123 }, { users: u }, 'update']),
    )
  })

  it('clone: the record and one clone, told apart by clone.index', async () => {
    const [out] = await run(make('clone', { count: '1' }), [frozen(rec({ metadata: { foo: 'bar' }, key: { id: 123 }, after: { age: 30, name: 'Alice' } }))])
    assert.ok(out && !isSingleRecord(out) && out.kind === 'multi')
    assert.deepEqual(
      out.records.map((r) => r.metadata),
      [
        { foo: 'bar', 'clone.index': '0' },
        { foo: 'bar', 'clone.index': '1' },
      ],
    )
    for (const r of out.records) assert.deepEqual([r.key, r.payload.after], [{ id: 123 }, { age: 30, name: 'Alice' }])
  })

  it('unwrap.opencdc: the wrapped record replaces the record, keeping the position', async () => {
    const wrapped = {
      key: { id: 'test-key' },
      metadata: {},
      operation: 'update',
      payload: { before: null, after: { msg: 'string 0e8955b3-7fb5-4dda-8064-e10dc007f00d', sensor_id: 1250383582, triggered: false } },
      position: 'dGVzdC1wb3NpdGlvbg==',
    }
    const out = await processOne(make('unwrap.opencdc', { field: '.Payload.After' }), frozen(rec({ position: 'wrapping position', key: 'wrapping key', after: wrapped })))
    assert.deepEqual(out, {
      position: Buffer.from('wrapping position'),
      operation: 'update',
      metadata: {},
      key: { id: 'test-key' },
      payload: { before: null, after: wrapped.payload.after },
    })
  })

  it('unwrap.debezium: a nested Debezium record, its key unwrapped and metadata merged', async () => {
    const event = JSON.stringify(
      {
        payload: {
          after: { description: 'test1', id: 27 },
          before: null,
          op: 'c',
          source: { 'opencdc.readAt': '1674061777225877000', 'opencdc.version': 'v1' },
          transaction: null,
          ts_ms: 1674061777225,
        },
        schema: {},
      },
      null,
      2,
    )
    const out = await processOne(make('unwrap.debezium', { field: '.Payload.After.nested' }), frozen(rec({ position: 'test-position', metadata: { 'metadata-key': 'metadata-value' }, key: '{"payload":"27"}', after: { nested: event } })))
    assert.deepEqual(out, {
      position: Buffer.from('test-position'),
      operation: 'create',
      metadata: { 'metadata-key': 'metadata-value', 'opencdc.readAt': '1674061777225877000', 'opencdc.version': 'v1' },
      key: Buffer.from('27'),
      payload: { before: null, after: { description: 'test1', id: 27 } },
    })
  })

  it('unwrap.kafkaconnect: the payload and the structured key are unwrapped', async () => {
    const out = await processOne(
      make('unwrap.kafkaconnect', { field: '.Payload.After' }),
      frozen(rec({ position: 'test position', metadata: { 'metadata-key': 'metadata-value' }, key: { payload: { id: 27 }, schema: {} }, after: '{\n"payload": {\n  "description": "test2"\n},\n"schema": {}\n}' })),
    )
    assert.deepEqual(out, {
      position: Buffer.from('test position'),
      operation: 'create',
      metadata: { 'metadata-key': 'metadata-value' },
      key: { id: 27 },
      payload: { before: null, after: { description: 'test2' } },
    })
  })

  it('custom.javascript: metadata and a raw payload changed by the script', async () => {
    const script = `function process(rec) {
  rec.Metadata["processed"] = "true";
  let existing = String.fromCharCode.apply(String, rec.Payload.After);
  rec.Payload.After = RawData("hello, " + existing);
  return rec;
}`
    const out = await processOne(make('custom.javascript', { script }), frozen(rec({ metadata: { 'existing-key': 'existing-value' }, after: 'world' })))
    assert.deepEqual(out.metadata, { 'existing-key': 'existing-value', processed: 'true' })
    assert.deepEqual(out.payload.after, Buffer.from('hello, world'))
  })
})
