import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { goFormatNumber, goJsonMarshal, goParseBool, goQuote, goSprint, goSprintf } from '../../src/pipeline/go-format.ts'

describe('Go value printing', () => {
  it('numbers as Go prints int and float64', () => {
    const cases: [number, string][] = [
      [0, '0'],
      [-0, '0'],
      [42, '42'],
      [-7, '-7'],
      [1.5, '1.5'],
      [123456.5, '123456.5'],
      [1234567.5, '1.2345675e+06'],
      [0.0001, '0.0001'],
      [0.00001, '1e-05'],
      [1e21, '1e+21'],
      [Infinity, '+Inf'],
      [NaN, 'NaN'],
    ]
    for (const [n, want] of cases) assert.equal(goFormatNumber(n), want, String(n))
  })

  it('%v of containers, nil inside containers, bytes', () => {
    assert.equal(goSprint({ b: [1, null], a: { y: true, x: 'z' } }), 'map[a:map[x:z y:true] b:[1 <nil>]]')
    assert.equal(goSprint(Buffer.from('AB')), '[65 66]')
    assert.equal(goSprint(undefined), '<no value>')
  })

  it('printf: widths, flags, wrong types, missing and extra arguments', () => {
    assert.equal(goSprintf('[%5d|%-5s|%05d|%+d|%.1f|%6.2f]', [42, 'ab', 42, 3, 2.26, 3.14159]), '[   42|ab   |00042|+3|2.3|  3.14]')
    assert.equal(goSprintf('%d %s', ['x', 1]), '%!d(string=x) %!s(int=1)')
    assert.equal(goSprintf('%s', []), '%!s(MISSING)')
    assert.equal(goSprintf('%s', ['a', 2]), 'a%!(EXTRA int=2)')
    assert.equal(goSprintf('100%%', []), '100%')
    assert.equal(goSprintf('%q', ['a"b\n']), '"a\\"b\\n"')
    assert.equal(goSprintf('%x %X', [255, 'hi']), 'ff 6869')
    assert.equal(goSprintf('%e', [1234.5]), '1.234500e+03')
  })

  it('strconv.Quote escapes control characters and keeps printable Unicode', () => {
    assert.equal(goQuote('é\t\u0001'), '"é\\t\\x01"')
  })

  it('json.Marshal: sorted keys, HTML escaping, bytes as base64, no NaN', () => {
    assert.equal(goJsonMarshal({ b: 1, a: { d: [Buffer.from('hi'), undefined], c: '<&>' } }), '{"a":{"c":"\\u003c\\u0026\\u003e","d":["aGk=",null]},"b":1}')
    const sortedAlready = { a: 1, b: 2 }
    assert.equal(goJsonMarshal(sortedAlready), '{"a":1,"b":2}')
    assert.throws(() => goJsonMarshal({ x: NaN }), /unsupported value: NaN/)
  })

  it('ParseBool', () => {
    assert.equal(goParseBool('True'), true)
    assert.equal(goParseBool('0'), false)
    assert.equal(goParseBool('yes'), undefined)
    assert.equal(goParseBool(' true'), undefined)
  })
})
