import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createRecord, dataBytes, JsonLinesEncoder, OPERATIONS, recordFromJson, recordToJson, recordToJsonValue } from '../../src/pipeline/record.ts'
import { goJsonMarshal } from '../../src/pipeline/go-format.ts'

describe("record JSON is Conduit's, byte for byte", () => {
  it('sorts metadata and structured keys at every depth and escapes <, >, & as Go does', () => {
    const record = createRecord({ position: Buffer.from('7'), metadata: { 'z.last': 'a&b', 'a.first': '<x>' }, key: { k: 1 }, after: { b: { d: [1, { f: 1, e: 2 }], c: '>' }, a: 'u\u2028' } })
    assert.equal(
      recordToJson(record),
      '{"position":"Nw==","operation":"create","metadata":{"a.first":"\\u003cx\\u003e","z.last":"a\\u0026b"},"key":{"k":1},"payload":{"before":null,"after":{"a":"u\\u2028","b":{"c":"\\u003e","d":[1,{"e":2,"f":1}]}}}}',
    )
    assert.deepEqual(recordFromJson(recordToJson(record)).metadata, record.metadata)
  })

  it('writes sorted, unescaped records as JSON.stringify would (the fast path), and raw data as base64', () => {
    const record = createRecord({ position: Buffer.from('p'), operation: 'update', metadata: { a: '1', b: '2' }, key: 'k', before: 'x', after: { n: 1, s: 'plain' } })
    assert.equal(recordToJson(record), '{"position":"cA==","operation":"update","metadata":{"a":"1","b":"2"},"key":"aw==","payload":{"before":"eA==","after":{"n":1,"s":"plain"}}}')
  })

  it('never reuses the JSON of earlier metadata that differs (a changed value, another order, a key more)', () => {
    const record = createRecord({ position: Buffer.from('1'), metadata: { a: '1', b: '2' } })
    assert.match(recordToJson(record), /"metadata":\{"a":"1","b":"2"\}/)
    record.metadata.b = '3'
    assert.match(recordToJson(record), /"metadata":\{"a":"1","b":"3"\}/)
    assert.match(recordToJson(createRecord({ position: Buffer.from('2'), metadata: { b: '3', a: '1' } })), /"metadata":\{"a":"1","b":"3"\}/)
    assert.match(recordToJson(createRecord({ position: Buffer.from('3'), metadata: { a: '1', b: '3', c: '<' } })), /"metadata":\{"a":"1","b":"3","c":"\\u003c"\}/)
    assert.match(recordToJson(createRecord({ position: Buffer.from('4'), metadata: { a: '1' } })), /"metadata":\{"a":"1"\}/)
    assert.match(recordToJson(createRecord({ position: Buffer.from('5') })), /"metadata":\{\}/)
  })

  it('every operation with raw, structured or no key and before gives the same line as the plain JSON value', () => {
    for (const operation of OPERATIONS) {
      for (const key of [null, Buffer.from('key'), { k: 1 }]) {
        for (const before of [null, Buffer.from('old'), { b: 'x' }]) {
          const record = createRecord({ position: Buffer.from('42'), operation, metadata: { 'opencdc.readAt': '1' }, key, before, after: { a: 1 } })
          assert.equal(recordToJson(record), JSON.stringify(recordToJsonValue(record)), `${operation}, key ${JSON.stringify(key)}, before ${JSON.stringify(before)}`)
        }
      }
    }
  })

  it('JsonLinesEncoder: one line per record as UTF-8, each ending in a newline, with nothing left over from a larger earlier batch', () => {
    const encoder = new JsonLinesEncoder()
    const big = Array.from({ length: 50 }, (_, i) => createRecord({ position: Buffer.from(String(i)), metadata: { 'opencdc.readAt': String(i) }, key: `k${i}`, after: { name: `naïve ☃ <${i}> 🐟`, i } }))
    const expected = (records: typeof big): string => records.map((r) => recordToJson(r) + '\n').join('')
    assert.equal(encoder.encode(big).toString('utf8'), expected(big))
    const small = big.slice(0, 2)
    const bytes = encoder.encode(small)
    assert.equal(bytes.length, Buffer.byteLength(expected(small)))
    assert.equal(bytes.toString('utf8'), expected(small))
    assert.deepEqual(bytes.toString('utf8').trimEnd().split('\n').map((line) => recordFromJson(line).payload.after), small.map((r) => r.payload.after))
    assert.equal(encoder.encode([]).length, 0)
  })

  it('JsonLinesEncoder writes the same bytes as recordToJson for every shape: raw, structured or no key and before, long raw data, changing metadata, batches that outgrow its buffer', () => {
    const encoder = new JsonLinesEncoder()
    const records = []
    let i = 0
    for (const operation of OPERATIONS) {
      for (const key of [null, Buffer.from(''), Buffer.from('k'), Buffer.from('ke'), Buffer.from('key'), Buffer.alloc(200, 0xfe), { k: '<&>' }]) {
        for (const before of [null, Buffer.from('old'), Buffer.alloc(100, 7), { b: 'x\u2028' }]) {
          for (const after of [null, Buffer.from([0, 255, 128]), { a: 'é☃🐟', n: 1.5 }]) {
            records.push(createRecord({ position: Buffer.from(String(i++)), operation, metadata: { 'opencdc.readAt': String(i % 3), z: i % 5 === 0 ? '<x>' : 'y' }, key, before, after }))
          }
        }
      }
    }
    assert.ok(records.length > 300)
    const expected = records.map((r) => recordToJson(r) + '\n').join('')
    assert.equal(encoder.encode(records).toString('utf8'), expected)
    const many = Array.from({ length: 5_000 }, (_, n) => createRecord({ position: Buffer.from(String(n)), metadata: { m: 'v' }, key: 'key', after: { n, s: 'x'.repeat(n % 50) } }))
    assert.equal(encoder.encode(many).toString('utf8'), many.map((r) => recordToJson(r) + '\n').join(''))
    assert.equal(encoder.encode(records.slice(0, 3)).toString('utf8'), records.slice(0, 3).map((r) => recordToJson(r) + '\n').join(''))
  })

  it("dataBytes is Conduit's Data.Bytes(): structured data as Go's JSON", () => {
    assert.equal(dataBytes({ b: '<', a: 1 })?.toString(), '{"a":1,"b":"\\u003c"}')
    assert.equal(dataBytes(Buffer.from('raw'))?.toString(), 'raw')
    assert.equal(dataBytes(null), null)
  })

  it('one Go JSON encoder: dates as Go writes time.Time, bytes as base64, bigints as numbers', () => {
    assert.equal(goJsonMarshal({ t: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 120)), u: new Date(Date.UTC(2026, 0, 2)), b: Buffer.from([0, 255]), n: 10n }), '{"b":"AP8=","n":10,"t":"2026-01-02T03:04:05.12Z","u":"2026-01-02T00:00:00Z"}')
  })
})
