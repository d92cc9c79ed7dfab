import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { conduitDataBytes, conduitRecordJson, goJson, parseGoDuration } from '../../../src/pipeline/connectors/index.ts'
import { createRecord, recordFromJson } from '../../../src/pipeline/index.ts'

describe("Conduit's OpenCDC JSON", () => {
  it('sorts keys at every depth, writes bytes as base64 and dates as Go does, escapes as Go does', () => {
    assert.equal(goJson({ z: 1, a: { y: [{ d: 1, c: 2 }], x: null } }), '{"a":{"x":null,"y":[{"c":2,"d":1}]},"z":1}')
    assert.equal(goJson({ b: Buffer.from([0, 255]), t: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 120)), u: new Date(Date.UTC(2026, 0, 2)) }), '{"b":"AP8=","t":"2026-01-02T03:04:05.12Z","u":"2026-01-02T00:00:00Z"}')
    assert.equal(goJson({ s: 'a<b>&c\u2028\u2029"\n' }), '{"s":"a\\u003cb\\u003e\\u0026c\\u2028\\u2029\\"\\n"}')
    assert.equal(goJson({ big: 10n, f: 1.5, e: 1e21, small: 1e-7 }), '{"big":10,"e":1e+21,"f":1.5,"small":1e-7}')
  })

  it('writes a record with fields in Conduit\'s order and sorted metadata; missing data is null', () => {
    const record = createRecord({ position: Buffer.from('pos'), operation: 'snapshot', metadata: { 'x.b': '2', 'x.a': '<1>' } })
    assert.equal(conduitRecordJson(record), '{"position":"cG9z","operation":"snapshot","metadata":{"x.a":"\\u003c1\\u003e","x.b":"2"},"key":null,"payload":{"before":null,"after":null}}')
    assert.deepEqual(recordFromJson(conduitRecordJson(record)), record)
  })

  it("data bytes as Conduit's Data.Bytes(): raw as is, structured as sorted JSON, none as null", () => {
    assert.equal(conduitDataBytes(Buffer.from('raw'))?.toString(), 'raw')
    assert.equal(conduitDataBytes({ b: 1, a: 'x' })?.toString(), '{"a":"x","b":1}')
    assert.equal(conduitDataBytes(null), null)
  })

  it('parses Go durations', () => {
    assert.equal(parseGoDuration('0'), 0)
    assert.equal(parseGoDuration('1h2m3.5s'), 3_723_500)
    assert.equal(parseGoDuration('100ms'), 100)
    assert.equal(parseGoDuration('1500us'), 1.5)
    assert.equal(parseGoDuration('-1s'), -1_000)
    assert.match(String(parseGoDuration('10')), /missing unit/)
    assert.match(String(parseGoDuration('1 s')), /invalid duration/)
    assert.match(String(parseGoDuration('')), /invalid duration/)
  })
})
