import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isTributaryError } from '../../../src/core/errors.ts'
import { isSingleRecord, type MultiRecord } from '../../../src/pipeline/processor.ts'
import { frozen, make, plugin, processError, rec, run, runOne } from './helpers.ts'

describe('filter', () => {
  it('filters every record of a batch', async () => {
    const out = await run(make('filter'), [rec({ position: 'a' }), rec({ position: 'b' })])
    assert.deepEqual(out, [{ kind: 'filter' }, { kind: 'filter' }])
  })

  it('takes no settings', () => {
    assert.equal(plugin('filter').settings.safeParse({ field: 'x' }).success, false)
  })
})

describe('error', () => {
  it('nacks every record with the default message, naming processor and position in the details', async () => {
    const err = await processError(make('error', {}, 'stop'), rec({ position: 'p-3' }))
    assert.equal(err.message, 'error processor triggered')
    assert.ok(isTributaryError(err, 'TRIB_PIPELINE_RECORD'))
    assert.deepEqual(err.details, { processor: 'stop', position: '"p-3"' })
  })

  it('a message template that fails for a record gives the template error as the message', async () => {
    const err = await processError(make('error', { message: '{{ .Key.x }}' }), rec({ key: 'raw' }))
    assert.match(err.message, /can't evaluate field x/)
  })
})

describe('split', () => {
  it('a field that is not an array is a nack naming the field', async () => {
    const p = make('split', { field: '.Payload.After.users' }, 'sp')
    for (const after of [{ users: 'x' }, { users: { a: 1 } }, {}]) {
      const err = await processError(p, rec({ position: 'p', after }))
      assert.match(err.message, /processor "sp" \(split\): record at position "p": field ".Payload.After.users" is not a slice/)
    }
  })

  it('an empty array filters the record (Conduit filters an empty split)', async () => {
    assert.deepEqual(await runOne(make('split', { field: '.Payload.After.users' }), rec({ after: { users: [] } })), { kind: 'filter' })
  })

  it('splitting .Payload.After itself takes objects or strings as elements', async () => {
    const p = make('split', { field: '.Payload.After' })
    const ok = await runOne(p, frozen(rec({ after: { a: 1 } })))
    assert.match((ok as { error: Error }).error.message, /is not a slice/)
    const keyed = make('split', { field: '.Key.ids' })
    const out = (await runOne(keyed, frozen(rec({ metadata: { m: '1' }, key: { ids: [1, 2] } })))) as MultiRecord
    assert.deepEqual(
      out.records.map((r) => [r.key, r.metadata]),
      [
        [{ ids: 1 }, { m: '1', 'split.index': '0' }],
        [{ ids: 2 }, { m: '1', 'split.index': '1' }],
      ],
    )
  })

  it('only fields under .Key and .Payload', () => {
    assert.throws(() => make('split', { field: '.Metadata.x' }), (err) => isTributaryError(err, 'TRIB_PIPELINE_CONFIG') && /only fields under \.Key and \.Payload can be split/.test(err.message))
  })
})

describe('clone', () => {
  it('count must be an integer greater than 0, naming the setting', () => {
    for (const count of ['0', '-1', 'x', '1.5', undefined]) {
      const result = plugin('clone').settings.safeParse(count === undefined ? {} : { count })
      assert.equal(result.success, false, String(count))
      assert.deepEqual(result.error?.issues[0]?.path, ['count'])
    }
  })

  it('count 2 gives the original and two clones; clones have their own metadata', async () => {
    const out = (await runOne(make('clone', { count: 2 }), frozen(rec({ metadata: { a: '1' }, after: { x: 1 } })))) as MultiRecord
    assert.equal(out.kind, 'multi')
    assert.deepEqual(
      out.records.map((r) => r.metadata['clone.index']),
      ['0', '1', '2'],
    )
    assert.notEqual(out.records[0]?.metadata, out.records[1]?.metadata)
    assert.ok(out.records.every((r) => isSingleRecord(r)))
  })
})
