import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { codecs, isTributaryError } from '../../src/core/index.ts'

describe('codecs', () => {
  it('round-trip strings, bytes, int64 and JSON', () => {
    assert.equal(codecs.string().decode(codecs.string().encode('grüße')), 'grüße')
    assert.deepEqual(codecs.bytes().decode(Buffer.from([1, 2])), Buffer.from([1, 2]))
    assert.equal(codecs.int64().decode(codecs.int64().encode(-42n)), -42n)
    assert.deepEqual(codecs.int64().encode(1n), Buffer.from([0, 0, 0, 0, 0, 0, 0, 1]), 'big-endian, like Kafka LongSerializer')
    assert.deepEqual(codecs.json<{ a: number[] }>().decode(codecs.json().encode({ a: [1] })), { a: [1] })
  })

  it('reject bad input with TRIB_CODEC naming the codec', () => {
    assert.throws(() => codecs.json().decode(Buffer.from('{nope')), (err: unknown) => isTributaryError(err, 'TRIB_CODEC') && /json/.test(err.message))
    assert.throws(() => codecs.int64().decode(Buffer.from([1, 2, 3])), (err: unknown) => isTributaryError(err, 'TRIB_CODEC') && /8 bytes/.test(err.message))
    const upper = codecs.custom<string>(
      (v) => Buffer.from(v.toUpperCase()),
      (b) => {
        if (b.length === 0) throw new Error('empty')
        return b.toString()
      },
      'upper',
    )
    assert.equal(upper.decode(upper.encode('x')), 'X')
    assert.throws(() => upper.decode(Buffer.alloc(0)), (err: unknown) => isTributaryError(err, 'TRIB_CODEC') && /upper: empty/.test(err.message))
  })
})
